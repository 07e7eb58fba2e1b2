#!/usr/bin/python3
"""PyTorch golden values for the linear, MSE loss and optimizer kernels.

Writes fixtures/golden/linear_loss_optim.json (run from the repository root with a Python that has
torch, e.g. /usr/bin/python3 scripts/golden_linear_loss_optim.py). Seeded, so a rerun with the
same torch version reproduces the file. Every value is a float32 printed with 9 significant
digits, which round-trips exactly through Math.fround.
"""
import json
import sys

import torch
import torch.nn.functional as F

SEED = 20211206
OUT_PATH = "fixtures/golden/linear_loss_optim.json"
STEPS = 5


def floats(t):
    return [float(f"{v:.9g}") for v in t.detach().reshape(-1).tolist()]


def linear_case():
    batch, in_features, out_features = 5, 11, 7
    layer = torch.nn.Linear(in_features, out_features)  # PyTorch default init
    x = torch.randn(batch, in_features, requires_grad=True)
    dy = torch.randn(batch, out_features)
    y = layer(x)
    y.backward(dy)
    return {
        "batch": batch,
        "inFeatures": in_features,
        "outFeatures": out_features,
        "x": floats(x),
        "w": floats(layer.weight),
        "bias": floats(layer.bias),
        "dy": floats(dy),
        "y": floats(y),
        "dx": floats(x.grad),
        "dw": floats(layer.weight.grad),
        "dbias": floats(layer.bias.grad),
    }


def mse_case():
    sizes, weights = [37, 256, 10], [0.25, 0.5, 1.0]
    outs = [torch.randn(n, requires_grad=True) for n in sizes]
    targets = [torch.randn(n) for n in sizes]
    loss = sum(w * F.mse_loss(o, t) for o, t, w in zip(outs, targets, weights))
    loss.backward()
    return {
        "stages": [
            {"n": n, "weight": w, "out": floats(o), "target": floats(t), "grad": floats(o.grad)}
            for n, w, o, t in zip(sizes, weights, outs, targets)
        ],
        "loss": float(f"{loss.item():.9g}"),
    }


def run_optimizer(make, groups, grads):
    """Steps an optimizer over parameter groups with given flat gradients; returns the history."""
    params = [p for g in groups for p in g["params"]]
    opt = make(groups)
    history = []
    for flat in grads:
        offset = 0
        for p in params:
            p.grad = flat[offset:offset + p.numel()].clone()
            offset += p.numel()
        opt.step()
        history.append(floats(torch.cat([p.detach() for p in params])))
    return opt, params, history


def optimizer_cases():
    n, decay_count = 301, 200
    params0 = torch.randn(n) * 0.5
    # Gradients spanning four decades, so Adam's eps and moment estimates all matter.
    grads = [torch.randn(n) * 10 ** torch.empty(n).uniform_(-4, 0) for _ in range(STEPS)]

    def split():
        return (params0[:decay_count].clone().requires_grad_(True),
                params0[decay_count:].clone().requires_grad_(True))

    sgd_cfg = {"lr": 0.1, "momentum": 0.9, "weightDecay": 4e-5}
    decayed, rest = split()
    opt, params, history = run_optimizer(
        lambda g: torch.optim.SGD(g, lr=sgd_cfg["lr"], momentum=sgd_cfg["momentum"]),
        [{"params": [decayed], "weight_decay": sgd_cfg["weightDecay"]},
         {"params": [rest], "weight_decay": 0.0}],
        grads)
    sgd = dict(sgd_cfg, decayCount=decay_count, params=history,
               momentumBuffer=floats(torch.cat([opt.state[p]["momentum_buffer"] for p in params])))

    adam_cfg = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weightDecay": 1.2e-6}
    decayed, rest = split()
    opt, params, history = run_optimizer(
        lambda g: torch.optim.Adam(g, lr=adam_cfg["lr"], betas=(adam_cfg["beta1"], adam_cfg["beta2"]),
                                   eps=adam_cfg["eps"]),
        [{"params": [decayed], "weight_decay": adam_cfg["weightDecay"]},
         {"params": [rest], "weight_decay": 0.0}],
        grads)
    adam = dict(adam_cfg, decayCount=decay_count, params=history,
                m=floats(torch.cat([opt.state[p]["exp_avg"] for p in params])),
                v=floats(torch.cat([opt.state[p]["exp_avg_sq"] for p in params])))
    return {"n": n, "params0": floats(params0), "grads": [floats(g) for g in grads],
            "sgd": sgd, "adam": adam}


def main():
    torch.manual_seed(SEED)
    golden = {
        "generator": "scripts/golden_linear_loss_optim.py",
        "torch": torch.__version__,
        "seed": SEED,
        "linear": linear_case(),
        "mse": mse_case(),
        "optim": optimizer_cases(),
    }
    with open(OUT_PATH, "w") as f:
        json.dump(golden, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {OUT_PATH}", file=sys.stderr)


if __name__ == "__main__":
    main()
