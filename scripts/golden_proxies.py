#!/usr/bin/python3
"""PyTorch golden values for the softmax cross-entropy kernel and the zero-cost proxies.

Writes fixtures/golden/proxies.json (run from the repository root: /usr/bin/python3
scripts/golden_proxies.py). Seeded. Float32 values printed with 9 significant digits.

* cross_entropy: F.cross_entropy (mean over the batch) and its autograd gradient.
* net: a tiny classification network (conv 3x3 + bias -> BN(affine, train mode) + ReLU -> conv 3x3
  stride 2, no bias -> global average pool -> linear 10), as foresight/pruners measures it
  (spec section 9): grad_norm = sum over conv/linear weights of ||dL/dW||_F and
  snip = sum |W * dL/dW|, L = cross-entropy on one labelled batch, BN in train mode.
* fisher_grasp: the same Tiny network with its own seed (SEED + 1, drawn after every other case so
  their values are unchanged): fisher with foresight's hooks on the conv/linear outputs, and grasp
  by the real double backward (T = 1, one iteration), in float64 on the float32 weights and batch.
* nb201_fisher_grasp, nb101_grasp: fisher and grasp of small NB-201 / NB-101 classifiers from the
  hashed weights of tests/support/golden_hash.ts (float64 double backward).
"""
import json
import math
import os
import sys

import numpy as np

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_nbmacro import hashed_tensor, init_param  # noqa: E402  (the shared weight hash)
from golden_spaces import NB101_EXAMPLE, Nb101Backbone, Nb201Backbone, parse_nb201  # noqa: E402

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
    grads = {name: floats(p.grad) for name, p in net.named_parameters()}
    # jacob_cov (foresight): backprop ones(y) to the input, corrcoef of the per-sample
    # Jacobians, score = -sum(log(v + k) + 1 / (v + k)), k = 1e-5.
    xg = x.clone().requires_grad_(True)
    net(xg).backward(torch.ones(5, 10))
    jacobian = xg.grad.reshape(5, -1).double().numpy()
    v = np.linalg.eigvalsh(np.corrcoef(jacobian))
    jacob_cov = float(-np.sum(np.log(v + 1e-5) + 1.0 / (v + 1e-5)))
    return {
        "x": floats(x),
        "labels": labels.tolist(),
        "params": {name: floats(p) for name, p in net.named_parameters()},
        "loss": float(f"{loss.item():.9g}"),
        "grads": grads,
        "grad_norm": grad_norm,
        "snip": snip,
        "jacobian": floats(xg.grad),
        "jacob_cov": jacob_cov,
    }


class SynNet(nn.Module):
    """conv a (bias) -> BN + ReLU -> conv b, plus the skip of a's activation -> conv c stride 2 ->
    global average pool -> linear 10."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1, bias=True)
        self.bn = nn.BatchNorm2d(8)
        self.b = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.c = nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False)
        self.fc = nn.Linear(16, 10)

    def forward(self, x, bn=True):
        h = self.a(x)
        h = F.relu(self.bn(h) if bn else h)
        h = self.b(h) + h
        return self.fc(self.c(h).mean(dim=(2, 3)))


def synflow_case(gain):
    """foresight's synflow in float64 (BN disabled, |state|, all-ones input, R = sum of logits),
    on the network with its biases set to 0 (gennas' definition, see src/proxy/zc_synflow.ts);
    every weight is multiplied by `gain` first so that a large gain overflows float32."""
    net = SynNet()
    with torch.no_grad():
        for m in (net.a, net.b, net.c, net.fc):
            m.weight.mul_(gain)
    params = {name: floats(p) for name, p in net.named_parameters()}
    net = net.double()
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.copy_(p.abs() if name.endswith("weight") else torch.zeros_like(p))
    x = torch.ones(1, 3, 32, 32, dtype=torch.float64)
    r = net(x, bn=False).sum()
    r.backward()
    layers = [net.a, net.b, net.c, net.fc]
    total = sum((m.weight * m.weight.grad).abs().sum().item() for m in layers)
    return {"gain": gain, "params": params, "R": r.item(), "log_synflow": math.log(total)}


class NwNet(nn.Module):
    """conv a (bias) -> BN -> ReLU -> conv b stride 2 -> ReLU -> global average pool -> linear."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1, bias=True)
        self.bn = nn.BatchNorm2d(4)
        self.relu1 = nn.ReLU()
        self.b = nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False)
        self.relu2 = nn.ReLU()
        self.fc = nn.Linear(6, 10)

    def forward(self, x):
        h = self.relu1(self.bn(self.a(x)))
        return self.fc(self.relu2(self.b(h)).mean(dim=(2, 3)))


def naswot_case():
    """NASWOT (Mellor et al. 2021 code): hooks on every ReLU accumulate the hamming kernel of the
    binarised ReLU inputs; score = slogdet(K)[1]. BN in train mode."""
    net = NwNet().train()
    x = torch.randn(6, 3, 8, 8)
    k = torch.zeros(6, 6, dtype=torch.float64)

    def hook(module, inputs, output):
        c = (inputs[0].reshape(inputs[0].shape[0], -1) > 0).double()
        k.add_(c @ c.t() + (1.0 - c) @ (1.0 - c).t())

    for m in (net.relu1, net.relu2):
        m.register_forward_hook(hook)
    with torch.no_grad():
        net(x)
    return {
        "x": floats(x),
        "params": {name: floats(p) for name, p in net.named_parameters()},
        "kernel": k.reshape(-1).tolist(),
        "naswot": torch.slogdet(k)[1].item(),
    }


def fisher_case(net, x, labels):
    """foresight fisher.py: the output a of every conv/linear layer (bias included, before BN) and
    g = dL/da; per channel delta_k = 0.5 * mean_n (sum_spatial a * g)^2; score = sum over layers
    and channels of |delta_k| * prod(W.shape[1:])."""
    acts = {}
    hooks = []
    for name in ("a", "b", "fc"):
        def keep(module, inputs, output, name=name):
            output.retain_grad()
            acts[name] = output
        hooks.append(getattr(net, name).register_forward_hook(keep))
    net.zero_grad()
    F.cross_entropy(net(x), labels).backward()
    for h in hooks:
        h.remove()
    channels = {}
    score = 0.0
    for name, act in acts.items():
        prod = act.detach() * act.grad
        g_nk = prod.sum(dim=(2, 3)) if prod.dim() > 2 else prod
        delta = g_nk.pow(2).mean(0).mul(0.5)
        channels[name] = delta.tolist()
        fan_in = getattr(net, name).weight[0].numel()
        score += delta.abs().sum().item() * fan_in
    return channels, score


def grasp_case(net, x, labels):
    """foresight grasp.py: g = dL/dW (pass 1); pass 2 recomputes dL/dW with create_graph, z =
    sum <g (detached), dL/dW>, and z's gradient is Hg; score = sum -W * Hg over conv/linear
    weights."""
    weights = [net.a.weight, net.b.weight, net.fc.weight]
    hg, score, scale = double_backward_grasp(net, x, labels, weights)
    return {n: h.reshape(-1).tolist() for n, h in zip(("a", "b", "fc"), hg)}, score, scale


def double_backward_grasp(net, x, labels, weights):
    """Hg for each weight, grasp = sum -W * Hg and sum |W * Hg|, by autograd's double backward."""
    g = torch.autograd.grad(F.cross_entropy(net(x), labels), weights)
    grad_f = torch.autograd.grad(F.cross_entropy(net(x), labels), weights, create_graph=True)
    z = sum((gi.detach() * fi).sum() for gi, fi in zip(g, grad_f))
    hg = torch.autograd.grad(z, weights)
    score = sum((-w * h).sum().item() for w, h in zip(weights, hg))
    scale = sum((w * h).abs().sum().item() for w, h in zip(weights, hg))
    return hg, score, scale


def fisher_grasp_case():
    torch.manual_seed(SEED + 1)
    net = Tiny().train()
    x = torch.randn(6, 3, 8, 8)
    labels = torch.randint(0, 10, (6,))
    params = {name: floats(p) for name, p in net.named_parameters()}
    net64 = net.double()
    x64 = torch.tensor(floats(x), dtype=torch.float64).reshape(x.shape)
    channels, fisher = fisher_case(net64, x64, labels)
    hg, grasp, scale = grasp_case(net64, x64, labels)
    return {
        "x": floats(x),
        "labels": labels.tolist(),
        "params": params,
        "fisher_channels": channels,
        "fisher": fisher,
        "hg": hg,
        "grasp": grasp,
        "grasp_abs_sum": scale,
    }


NB201_ARCH = "|nor_conv_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"


class Nb201Classifier(nn.Module):
    """gennas' classification copy (src/proxy/cost.ts): backbone, lastact BN + ReLU, pool, fc."""

    def __init__(self, c, cells):
        super().__init__()
        self.model = Nb201Backbone(parse_nb201(NB201_ARCH), c, cells)
        self.lastact = nn.BatchNorm2d(4 * c)
        self.fc = nn.Linear(4 * c, 10)

    def forward(self, x):
        return self.fc(F.relu(self.lastact(self.model.taps(x)[2])).mean(dim=(2, 3)))


def gennas_name(name):
    """The parameter's name in gennas' graph."""
    if name.startswith("lastact."):
        return "classifier." + name
    return "classifier." + name[3:] if name.startswith("fc.") else name


def nb201_case(seed=7, c=4, batch=4, cells=1):
    """fisher and grasp of an NB-201 classifier (C = 4, one cell per stack, batch 4) from the hashed weights of
    tests/support/golden_hash.ts, float64: checks the residual conv that gennas adds into a sum,
    the none and pool edges and grasp's finite difference at the scale of a real network."""
    net = Nb201Classifier(c, cells).double().train()
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.copy_(init_param(seed, gennas_name(name), tuple(p.shape)))
    x = hashed_tensor("nb201-proxies/x", (batch, 3, 32, 32), 4096)
    labels = torch.tensor([3, 1, 7, 0])
    layers = {name: m for name, m in net.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    used = torch.autograd.grad(
        F.cross_entropy(net(x), labels), [m.weight for m in layers.values()], allow_unused=True)
    layers = {n: m for (n, m), g in zip(layers.items(), used) if g is not None}
    acts = {}
    hooks = []
    for name, m in layers.items():
        def keep(module, inputs, output, name=name):
            output.retain_grad()
            acts[name] = output
        hooks.append(m.register_forward_hook(keep))
    F.cross_entropy(net(x), labels).backward()
    for h in hooks:
        h.remove()
    fisher = 0.0
    for name, act in acts.items():
        prod = act.detach() * act.grad
        g_nk = prod.sum(dim=(2, 3)) if prod.dim() > 2 else prod
        fisher += g_nk.pow(2).mean(0).mul(0.5).abs().sum().item() * layers[name].weight[0].numel()
    _, grasp, scale = double_backward_grasp(net, x, labels, [m.weight for m in layers.values()])
    return {
        "arch": NB201_ARCH,
        "seed": seed,
        "init_channels": c,
        "cells_per_stack": cells,
        "labels": labels.tolist(),
        "layers": len(layers),
        "fisher": fisher,
        "grasp": grasp,
        "grasp_abs_sum": scale,
    }


class Nb101Classifier(nn.Module):
    """gennas' NB-101 classification copy: backbone (3 stacks, 2x2 max pools between), pool, fc."""

    def __init__(self, arch, c):
        super().__init__()
        spec = json.loads(arch)
        self.model = Nb101Backbone(spec["matrix"], spec["ops"], c)
        self.fc = nn.Linear(4 * c, 10)

    def forward(self, x):
        return self.fc(self.model.taps(x)[2].mean(dim=(2, 3)))


def nb101_grasp_case(seed=11, c=4, batch=4):
    """grasp of the NB-101 example cell's classifier (C = 4, batch 4) by float64 double backward,
    from the hashed weights: max pools (3x3 in the cell, 2x2 between stacks) as well as ReLUs."""
    net = Nb101Classifier(NB101_EXAMPLE, c).double().train()
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.copy_(init_param(seed, gennas_name(name), tuple(p.shape)))
    x = hashed_tensor("nb101-proxies/x", (batch, 3, 32, 32), 4096)
    labels = torch.tensor([2, 9, 4, 0])
    weights = [m.weight for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    _, grasp, scale = double_backward_grasp(net, x, labels, weights)
    return {
        "arch": NB101_EXAMPLE,
        "seed": seed,
        "init_channels": c,
        "labels": labels.tolist(),
        "grasp": grasp,
        "grasp_abs_sum": scale,
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
        "synflow": [synflow_case(1.0), synflow_case(3e9)],
        "naswot": naswot_case(),
    }
    out["fisher_grasp"] = fisher_grasp_case()
    out["nb201_fisher_grasp"] = nb201_case()
    out["nb101_grasp"] = nb101_grasp_case()
    with open(OUT_PATH, "w") as f:
        json.dump(out, f)
        f.write("\n")


if __name__ == "__main__":
    main()
