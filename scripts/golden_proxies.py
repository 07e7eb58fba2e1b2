#!/usr/bin/python3
"""PyTorch golden values for the softmax cross-entropy kernel and the zero-cost proxies.

Writes fixtures/golden/proxies.json (run from the repository root: /usr/bin/python3
scripts/golden_proxies.py). Seeded. Float32 values printed with 9 significant digits.

* cross_entropy: F.cross_entropy (mean over the batch) and its autograd gradient.
* net: a tiny classification network (conv 3x3 + bias -> BN(affine, train mode) + ReLU -> conv 3x3
  stride 2, no bias -> global average pool -> linear 10), as foresight/pruners measures it
  (spec section 9): grad_norm = sum over conv/linear weights of ||dL/dW||_F and
  snip = sum |W * dL/dW|, L = cross-entropy on one labelled batch, BN in train mode.
"""
import json

import torch
import torch.nn as nn
import torch.nn.functional as F

SEED = 20211207
OUT_PATH = "fixtures/golden/proxies.json"


def floats(t):
    return [float(f"{v:.9g}") for v in t.detach().reshape(-1).tolist()]


def cross_entropy_case(batch, classes, scale):
    logits = (torch.randn(batch, classes) * scale).requires_grad_(True)
    labels = torch.randint(0, classes, (batch,))
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    return {
        "batch": batch,
        "classes": classes,
        "logits": floats(logits),
        "labels": labels.tolist(),
        "loss": float(f"{loss.item():.9g}"),
        "grad": floats(logits.grad),
    }


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1, bias=True)
        self.bn = nn.BatchNorm2d(4)
        self.b = nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False)
        self.fc = nn.Linear(6, 10)

    def forward(self, x):
        h = F.relu(self.bn(self.a(x)))
        h = self.b(h)
        return self.fc(h.mean(dim=(2, 3)))


def net_case():
    net = Tiny().train()
    x = torch.randn(5, 3, 8, 8)
    labels = torch.randint(0, 10, (5,))
    loss = F.cross_entropy(net(x), labels)
    loss.backward()
    layers = [net.a, net.b, net.fc]
    grad_norm = sum(m.weight.grad.norm().item() for m in layers)
    snip = sum((m.weight * m.weight.grad).abs().sum().item() for m in layers)
    return {
        "x": floats(x),
        "labels": labels.tolist(),
        "params": {name: floats(p) for name, p in net.named_parameters()},
        "loss": float(f"{loss.item():.9g}"),
        "grads": {name: floats(p.grad) for name, p in net.named_parameters()},
        "grad_norm": grad_norm,
        "snip": snip,
    }


def main():
    torch.manual_seed(SEED)
    out = {
        "torch": torch.__version__,
        "cross_entropy": [
            cross_entropy_case(1, 10, 1.0),
            cross_entropy_case(7, 10, 3.0),
            cross_entropy_case(33, 100, 30.0),
        ],
        "net": net_case(),
    }
    with open(OUT_PATH, "w") as f:
        json.dump(out, f)
        f.write("\n")


if __name__ == "__main__":
    main()
