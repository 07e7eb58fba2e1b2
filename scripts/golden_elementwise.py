"""PyTorch golden values for the elementwise kernels (tests/elementwise_test.ts): relu, sigmoid,
tanh, leaky_relu (slope 0.01), scale, and the product — forward and gradients (autograd).

Run: /usr/bin/python3 scripts/golden_elementwise.py > fixtures/golden/elementwise.json
"""
import json

import torch
import torch.nn.functional as F

torch.manual_seed(7)


def flat(t):
    return [float("%.9g" % v) for v in t.detach().reshape(-1).tolist()]


def main():
    n = 257
    x = (torch.randn(n) * 2).requires_grad_()
    dy = torch.randn(n)
    ops = {
        "relu": lambda v: F.relu(v),
        "sigmoid": lambda v: torch.sigmoid(v),
        "tanh": lambda v: torch.tanh(v),
        "leaky_relu": lambda v: F.leaky_relu(v, 0.01),
        "scale": lambda v: -1.75 * v,
    }
    unary = {}
    for name, fn in ops.items():
        x.grad = None
        y = fn(x)
        y.backward(dy)
        unary[name] = {"y": flat(y), "dx": flat(x.grad)}
    a = torch.randn(n, requires_grad=True)
    b = torch.randn(n, requires_grad=True)
    (a * b).backward(dy)
    print(json.dumps({
        "description": "scripts/golden_elementwise.py (torch %s)" % torch.__version__,
        "x": flat(x), "dy": flat(dy), "unary": unary,
        "mul": {"a": flat(a), "b": flat(b), "y": flat(a * b), "da": flat(a.grad), "db": flat(b.grad)},
    }))


if __name__ == "__main__":
    main()
