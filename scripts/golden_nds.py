"""Golden values for the NDS cell networks (tests/nds_network_test.ts).

A PyTorch model written from GENNAS_SPEC.md §4.3 and the pycls/DARTS op definitions (affine BN,
bias-free convs, PyTorch default init), with module names such that state_dict names equal
gennas' parameter names:
  model.stem.{0,1}                                CIFAR stem conv3x3 (3 -> 3C) + BN
  model.stem0.{0,1,3,4}, model.stem1.{1,2}        ImageNet stems, every stride 1 (the `_in` variants)
  model.cells.<i>.preprocess{0,1}                 ReLUConvBN 1x1 (.op.{1,2}) or FactorizedReduce
                                                  (conv_1, conv_2, bn) after a reduction cell
  model.cells.<i>._ops.<j>                        the genotype's ops (pycls operations.py)
  out{0,1,2}.{0,1}                                heads: BN -> conv1x1 on the 8x8 subsample of a tap
Taps: s1 before cells L//3 and 2L//3, and the last cell's output.

Emitted:
  * per space, for its table's row 0 (or a fixed genotype): parameter names, counts (total and
    per module) and tap shapes at the row's width and depth; and, where the table exists, the
    parameter count of the real NDS ImageNet network (stride-2 stems, FactorizedReduce
    preprocess0 in cell 0, 1000-way classifier), which must equal the row's `params`;
  * 5-iteration proxy runs (width 8, depth 5, heads 6/5/16, batch 4) from hashed initial weights
    shared with the test (as scripts/golden_nbmacro.py), float64 losses and eval loss.

Run: /usr/bin/python3 scripts/golden_nds.py > fixtures/golden/nds.json
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
TABLES = {
    "darts_in": "nds_DARTS_in.jsonl",
    "enas_in": "nds_ENAS_in.jsonl",
    "pnas_in": "nds_PNAS_in.jsonl",
    "amoeba_in": "nds_Amoeba_in.jsonl",
    "nasnet_in": "nds_NASNet_in.jsonl",
    "darts-fix-w-d_in": "nds_DARTS_fix-w-d_in.jsonl",
}
DARTS_V2 = {
    "normal": [["sep_conv_3x3", 0], ["sep_conv_3x3", 1], ["sep_conv_3x3", 0], ["sep_conv_3x3", 1],
               ["sep_conv_3x3", 1], ["skip_connect", 0], ["skip_connect", 0], ["dil_conv_3x3", 2]],
    "normal_concat": [2, 3, 4, 5],
    "reduce": [["max_pool_3x3", 0], ["max_pool_3x3", 1], ["skip_connect", 2], ["max_pool_3x3", 1],
               ["max_pool_3x3", 0], ["skip_connect", 2], ["skip_connect", 2], ["max_pool_3x3", 1]],
    "reduce_concat": [2, 3, 4, 5],
}


class Zero(nn.Module):
    def __init__(self, stride):
        super().__init__()
        self.stride = stride

    def forward(self, x):
        return x.mul(0.0) if self.stride == 1 else x[:, :, ::self.stride, ::self.stride].mul(0.0)


class ReLUConvBN(nn.Module):
    def __init__(self, c_in, c_out, k, stride, pad):
        super().__init__()
        self.op = nn.Sequential(nn.ReLU(), nn.Conv2d(c_in, c_out, k, stride, pad, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        return self.op(x)


class FactorizedReduce(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.relu = nn.ReLU()
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.pad = nn.ConstantPad2d((0, 1, 0, 1), 0)

    def forward(self, x):
        x = self.relu(x)
        y = self.pad(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(y[:, :, 1:, 1:])], dim=1))


class SepConv(nn.Module):
    """(ReLU -> dw k x k -> 1x1 -> BN) twice, the first at `stride`; DilSepConv with dilation 2."""

    def __init__(self, c, k, stride, pad, dilation=1):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(), nn.Conv2d(c, c, k, stride, pad, dilation, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c),
            nn.ReLU(), nn.Conv2d(c, c, k, 1, pad, dilation, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        return self.op(x)


class DilConv(nn.Module):
    def __init__(self, c, k, stride, pad, dilation):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(), nn.Conv2d(c, c, k, stride, pad, dilation, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        return self.op(x)


def factorized_conv(c, k, stride):
    p = k // 2
    return nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, (1, k), (1, stride), (0, p), bias=False),
                         nn.Conv2d(c, c, (k, 1), (stride, 1), (p, 0), bias=False), nn.BatchNorm2d(c))


OPS = {
    "none": lambda c, s: Zero(s),
    "avg_pool_3x3": lambda c, s: nn.AvgPool2d(3, s, 1, count_include_pad=False),
    "max_pool_3x3": lambda c, s: nn.MaxPool2d(3, s, 1),
    "max_pool_5x5": lambda c, s: nn.MaxPool2d(5, s, 2),
    "max_pool_7x7": lambda c, s: nn.MaxPool2d(7, s, 3),
    "skip_connect": lambda c, s: nn.Identity() if s == 1 else FactorizedReduce(c, c),
    "conv_1x1": lambda c, s: nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, 1, s, 0, bias=False), nn.BatchNorm2d(c)),
    "conv_3x3": lambda c, s: nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, 3, s, 1, bias=False), nn.BatchNorm2d(c)),
    "sep_conv_3x3": lambda c, s: SepConv(c, 3, s, 1),
    "sep_conv_5x5": lambda c, s: SepConv(c, 5, s, 2),
    "sep_conv_7x7": lambda c, s: SepConv(c, 7, s, 3),
    "dil_conv_3x3": lambda c, s: DilConv(c, 3, s, 2, 2),
    "dil_conv_5x5": lambda c, s: DilConv(c, 5, s, 4, 2),
    "dil_sep_conv_3x3": lambda c, s: SepConv(c, 3, s, 2, 2),
    "conv_3x1_1x3": lambda c, s: factorized_conv(c, 3, s),
    "conv_7x1_1x7": lambda c, s: factorized_conv(c, 7, s),
}


class Cell(nn.Module):
    def __init__(self, genotype, c_pp, c_p, c, reduction, reduction_prev):
        super().__init__()
        self.preprocess0 = FactorizedReduce(c_pp, c) if reduction_prev else ReLUConvBN(c_pp, c, 1, 1, 0)
        self.preprocess1 = ReLUConvBN(c_p, c, 1, 1, 0)
        cell = "reduce" if reduction else "normal"
        entries = genotype[cell]
        self.concat = genotype[cell + "_concat"]
        self.indices = [i for _, i in entries]
        self._ops = nn.ModuleList(OPS[op](c, 2 if reduction and i < 2 else 1) for op, i in entries)
        self.multiplier = len(self.concat)

    def forward(self, s0, s1):
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for k in range(len(self._ops) // 2):
            a, b = 2 * k, 2 * k + 1
            states.append(self._ops[a](states[self.indices[a]]) + self._ops[b](states[self.indices[b]]))
        return torch.cat([states[i] for i in self.concat], dim=1)


class Network(nn.Module):
    """NetworkCIFAR, or NetworkImageNet with stride-1 stems (`stem_stride` 1) for the GenNAS `_in`
    variants; `stem_stride` 2 with `classes` builds the real NDS ImageNet net for its param count."""

    def __init__(self, genotype, width, depth, imagenet, stem_stride=1, classes=None):
        super().__init__()
        c = width
        if imagenet:
            s = stem_stride
            self.stem0 = nn.Sequential(
                nn.Conv2d(3, c // 2, 3, s, 1, bias=False), nn.BatchNorm2d(c // 2), nn.ReLU(),
                nn.Conv2d(c // 2, c, 3, s, 1, bias=False), nn.BatchNorm2d(c))
            self.stem1 = nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, 3, s, 1, bias=False), nn.BatchNorm2d(c))
            c_pp, c_p = c, c
            reduction_prev = stem_stride == 2
        else:
            self.stem = nn.Sequential(nn.Conv2d(3, 3 * c, 3, padding=1, bias=False), nn.BatchNorm2d(3 * c))
            c_pp, c_p = 3 * c, 3 * c
            reduction_prev = False
        self.imagenet = imagenet
        self.reductions = [depth // 3, 2 * depth // 3]
        self.cells = nn.ModuleList()
        c_cur = c
        for i in range(depth):
            reduction = i in self.reductions
            if reduction:
                c_cur *= 2
            cell = Cell(genotype, c_pp, c_p, c_cur, reduction, reduction_prev)
            reduction_prev = reduction
            self.cells.append(cell)
            c_pp, c_p = c_p, cell.multiplier * c_cur
        if classes is not None:
            self.classifier = nn.Linear(c_p, classes)

    def taps(self, x):
        if self.imagenet:
            s0 = self.stem0(x)
            s1 = self.stem1(s0)
        else:
            s0 = s1 = self.stem(x)
        taps = []
        for i, cell in enumerate(self.cells):
            if i in self.reductions:
                taps.append(s1)
            s0, s1 = s1, cell(s0, s1)
        return taps + [s1]


class Wrapper(nn.Module):
    def __init__(self, genotype, width, depth, imagenet, out_channels):
        super().__init__()
        self.model = Network(genotype, width, depth, imagenet)
        # Tap widths from an eval-mode pass, which leaves the BN running statistics untouched.
        self.model.eval()
        with torch.no_grad():
            widths = [t.shape[1] for t in self.model.taps(torch.zeros(2, 3, 32, 32))]
        self.model.train()
        for s in range(3):
            setattr(self, f"out{s}", nn.Sequential(nn.BatchNorm2d(widths[s]), nn.Conv2d(widths[s], out_channels[s], 1)))

    def forward(self, x):
        return [getattr(self, f"out{s}")(F.interpolate(t, (8, 8))) for s, t in enumerate(self.model.taps(x))]


def modules_of(net):
    names = set()
    for name, _ in net.named_parameters():
        parts = name.split(".")
        if parts[0] == "model" and parts[1] == "cells":
            names.add(".".join(parts[:4]) if parts[3] == "_ops" else ".".join(parts[:4]))
        elif parts[0] == "model":
            names.add(".".join(parts[:2]))
        else:
            names.add(parts[0])
    return sorted(names)


def read_row(space):
    path = os.path.join(DATA, TABLES[space]) if space in TABLES else None
    if path is None or not os.path.exists(path):
        return None
    with open(path) as f:
        return json.loads(f.readline())


def count_case(space, net_cfg, row):
    imagenet = space.endswith("_in")
    g, w, d = net_cfg["genotype"], net_cfg["width"], net_cfg["depth"]
    torch.manual_seed(0)
    net = Wrapper(g, w, d, imagenet, [64, 64, 64])
    x = torch.randn(2, 3, 32, 32)
    modules = {m: 0 for m in modules_of(net)}
    for name, p in net.named_parameters():
        m = next(m for m in modules if name.startswith(m + "."))
        modules[m] += p.numel()
    case = {
        "space": space,
        "net": net_cfg,
        "out_channels": [64, 64, 64],
        "total": sum(p.numel() for p in net.parameters()),
        "modules": modules,
        "names": sorted(n for n, _ in net.named_parameters()),
        "taps": [list(t.shape) for t in net.model.taps(x)],
    }
    if row is not None:
        real = Network(g, w, d, True, stem_stride=2, classes=1000)
        case["benchmark_params"] = sum(p.numel() for p in real.parameters())
        case["table_params"] = row["params"]
    return case


def counts():
    out = [count_case("darts", {"genotype": DARTS_V2, "width": 16, "depth": 8}, None)]
    for space in TABLES:
        row = read_row(space)
        if row is None:
            continue
        net = {"genotype": row["net"]["genotype"], "width": row["net"]["width"], "depth": row["net"]["depth"]}
        out.append(count_case(space, net, row))
    return out


# ---------------------------------------------------------------------------------------------
# The shared hash of scripts/golden_nbmacro.py (tests reproduce it bit for bit).
M32 = 0xFFFFFFFF
GOLDEN = 0x9E3779B9


def fnv1a(text):
    h = 0x811C9DC5
    for byte in text.encode():
        h = ((h ^ byte) * 0x01000193) & M32
    return h


def fmix(h):
    h = h ^ (h >> 16)
    h = (h * 0x85EBCA6B) & M32
    h = h ^ (h >> 13)
    h = (h * 0xC2B2AE35) & M32
    return h ^ (h >> 16)


def hashed_ints(key, n, m):
    base = fmix(fnv1a(key))
    i = np.arange(n, dtype=np.uint64)
    h = fmix((np.uint64(base) + i * np.uint64(GOLDEN)) & np.uint64(M32))
    return (h % np.uint64(2 * m + 1)).astype(np.int64) - m


def hashed_tensor(key, shape, m, offset=0):
    q = hashed_ints(key, int(np.prod(shape)), m) + offset
    return torch.from_numpy(q.astype(np.float64) / 4096.0).reshape(shape)


def init_param(seed, name, shape):
    key = f"{seed}/{name}"
    if name.endswith(".weight") and len(shape) >= 2:
        fan_in = int(np.prod(shape[1:]))
        return hashed_tensor(key, shape, math.floor(4096 / math.sqrt(fan_in)))
    if name.endswith(".weight"):
        return hashed_tensor(key, shape, 819, 4096)
    return hashed_tensor(key, shape, 409)


def train_tiny(net, x, targets, dtype, lr):
    net = net.to(dtype)
    x = x.to(dtype)
    targets = [t.to(dtype) for t in targets]
    decay = [p for n, p in net.named_parameters() if n.endswith("weight") and p.dim() >= 2]
    rest = [p for n, p in net.named_parameters() if not (n.endswith("weight") and p.dim() >= 2)]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": 4e-5}, {"params": rest, "weight_decay": 0.0}],
                          lr=lr, momentum=0.9)
    losses = []
    net.train()
    for _ in range(5):
        opt.zero_grad()
        loss = sum(F.mse_loss(o, t) for o, t in zip(net(x), targets))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    net.eval()
    with torch.no_grad():
        eval_loss = sum(w * F.mse_loss(o, t) for w, o, t in zip((0.25, 0.5, 1.0), net(x), targets)).item()
    return losses, eval_loss


TINY = {"width": 8, "depth": 5, "batch": 4, "iterations": 5, "out_channels": [6, 5, 16]}


def proxy_case(space, genotype, seed, lr, x, targets):
    net = Wrapper(genotype, TINY["width"], TINY["depth"], space.endswith("_in"), TINY["out_channels"])
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.copy_(init_param(seed, name, tuple(p.shape)))
    state = {k: v.clone() for k, v in net.state_dict().items()}
    f64 = train_tiny(net.double(), x, targets, torch.float64, lr)
    if max(f64[0]) > 1.5 * f64[0][0] or not f64[1] < f64[0][0]:
        return None
    values64 = f64[0] + [f64[1]]
    # As in golden_nbmacro.py: keep starts where float32 in two summation orders stays within
    # 1e-4 of float64 (10 times under the test's tolerance).
    for threads in (None, 1):
        net.load_state_dict(state)
        old = torch.get_num_threads()
        if threads:
            torch.set_num_threads(threads)
        try:
            run = train_tiny(net.float(), x, targets, torch.float32, lr)
        finally:
            torch.set_num_threads(old)
        if max(abs(a - b) / abs(b) for a, b in zip(run[0] + [run[1]], values64)) > 1e-4:
            return None
    return {"space": space, "net": {"genotype": genotype, "width": TINY["width"], "depth": TINY["depth"]},
            "seed": seed, "lr": lr, "losses": f64[0], "eval_loss": f64[1]}


def richest_row(space):
    """The table row whose cells use the most distinct ops (to exercise the op set)."""
    path = os.path.join(DATA, TABLES[space])
    with open(path) as f:
        rows = [json.loads(line) for line in f]
    return max(rows, key=lambda r: len({op for c in ("normal", "reduce") for op, _ in r["net"]["genotype"][c]}))


def proxy():
    x = hashed_tensor("input", (TINY["batch"], 3, 32, 32), 8192).float()
    targets = [hashed_tensor(f"target{s}", (TINY["batch"], c, 8, 8), 4096).float()
               for s, c in enumerate(TINY["out_channels"])]
    plans = [("darts", DARTS_V2)]
    for space in ("darts_in", "amoeba_in", "nasnet_in", "enas_in", "pnas_in"):
        if os.path.exists(os.path.join(DATA, TABLES[space])):
            plans.append((space, richest_row(space)["net"]["genotype"]))
    cases = []
    for space, genotype in plans:
        case = next((c for lr in (0.1, 0.01) for seed in range(12)
                     if (c := proxy_case(space, genotype, seed, lr, x, targets)) is not None), None)
        if case is None:
            raise RuntimeError(f"no well-conditioned start for {space}")
        cases.append(case)
    return {**TINY, "cases": cases}


def main():
    print(json.dumps({
        "description": "scripts/golden_nds.py (torch %s)" % torch.__version__,
        "counts": counts(),
        "proxy": proxy(),
    }, separators=(",", ":")))


if __name__ == "__main__":
    main()
