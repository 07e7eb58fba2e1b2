"""Golden values for the NAS-Bench-Macro network (tests/nbmacro_network_test.ts).

A PyTorch model written from GENNAS_SPEC.md §4.6 (GenNAS' regression variant of NAS-Bench-Macro),
with module names such that state_dict names equal gennas' parameter names:
  model.stem.{0,1}                       conv3x3 (3 -> C, no bias) + BN, then ReLU
  model.features.<i>.downsample.{0,1}    identity where stride or channels change: conv1x1 + BN
  model.features.<i>.conv.{0,1,3,4,6,7}  MBConv: pw-BN-ReLU -> dw k x k-BN-ReLU -> pw-BN (+ x)
  model.out.0                            conv1x1 (-> 1280, no bias, no BN)
  out{0,1,2}.{0,1}                       heads: BN -> conv1x1 (bias) on the 8x8 subsample of a tap
Stages [2, 3, 3]: stage 1 keeps C channels at 32x32; the first layer of stages 2 and 3 has stride 2
and doubles the channels. Taps: the inputs of layers 2 and 5, and the 1280-channel output.

Emitted:
  * at full width (C = 32, heads 64/64/64): parameter counts, total and per module, parameter
    names and tap shapes of three archs (all-identity, all-MB6 and a mixed one);
  * a whole proxy run of the same archs on a small config (C = 8, heads 6/5/16, batch 4, 5 SGD
    iterations, lr 0.1 (0.01 for the all-MB6 net, see proxy()), train weights 1,1,1, eval
    weights 0.25,0.5,1) from initial weights, inputs and targets that both sides generate from a
    shared integer hash (below), assigned by state_dict name: the per-iteration train losses and
    the final eval-mode loss (float64; a float32 run for reference).
  * as a check of the block definitions: the parameter count of NAS-Bench-Macro's own CIFAR-10
    network (every stage starts with stride 2, conv1x1 -> 1280 + BN + ReLU, GAP, FC -> 10), which
    must equal the `params` column of ../shared/data/nbmacro_cifar10.jsonl when that file exists.

Run: /usr/bin/python3 scripts/golden_nbmacro.py > fixtures/golden/nbmacro.json
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# Choice digit -> None (identity) or (kernel, expansion) of the MBConv.
CHOICES = [None, (3, 3), (5, 6)]
STAGES = [2, 3, 3]
LAST = 1280
ARCHS = ["00000000", "22222222", "12102021"]
TABLE = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "nbmacro_cifar10.jsonl")


class Identity(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        return x if self.downsample is None else self.downsample(x)


class MBConv(nn.Module):
    def __init__(self, c_in, c_out, stride, kernel, expansion):
        super().__init__()
        hidden = c_in * expansion
        self.conv = nn.Sequential(
            nn.Conv2d(c_in, hidden, 1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(),
            nn.Conv2d(hidden, hidden, kernel, stride, kernel // 2, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(),
            nn.Conv2d(hidden, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.shortcut = stride == 1 and c_in == c_out

    def forward(self, x):
        y = self.conv(x)
        return y + x if self.shortcut else y


def layer(choice, c_in, c_out, stride):
    block = CHOICES[choice]
    return Identity(c_in, c_out, stride) if block is None else MBConv(c_in, c_out, stride, *block)


def features(arch, c, first_stage_strides):
    layers = []
    c_in = c
    i = 0
    for stage, count in enumerate(STAGES):
        for j in range(count):
            stride = 2 if j == 0 and (stage > 0 or first_stage_strides) else 1
            c_out = c_in * stride
            layers.append(layer(int(arch[i]), c_in, c_out, stride))
            c_in = c_out
            i += 1
    return nn.ModuleList(layers), c_in


class NbMacroBackbone(nn.Module):
    """GenNAS' variant (spec §4.6): stage 1 without stride; taps before layers 2 and 5 and at the end."""

    def __init__(self, arch, c):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU())
        self.features, c_last = features(arch, c, first_stage_strides=False)
        self.out = nn.Sequential(nn.Conv2d(c_last, LAST, 1, bias=False))

    def taps(self, x):
        x = self.stem(x)
        taps = []
        for i, f in enumerate(self.features):
            if i in (STAGES[0], STAGES[0] + STAGES[1]):
                taps.append(x)
            x = f(x)
        return taps + [self.out(x)]


class BenchmarkNetwork(nn.Module):
    """NAS-Bench-Macro's CIFAR-10 classifier (only its parameter count is used)."""

    def __init__(self, arch, c=32):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU())
        self.features, c_last = features(arch, c, first_stage_strides=True)
        self.out = nn.Sequential(nn.Conv2d(c_last, LAST, 1, bias=False), nn.BatchNorm2d(LAST), nn.ReLU())
        self.classifier = nn.Linear(LAST, 10)


class Wrapper(nn.Module):
    """Backbone + heads out{s} = BN -> 1x1 conv on the 8x8 nearest subsample of each tap."""

    def __init__(self, arch, c, out_channels):
        super().__init__()
        self.model = NbMacroBackbone(arch, c)
        widths = [c, 2 * c, LAST]
        for s in range(3):
            setattr(self, f"out{s}", nn.Sequential(nn.BatchNorm2d(widths[s]), nn.Conv2d(widths[s], out_channels[s], 1)))

    def forward(self, x):
        taps = self.model.taps(x)
        return [getattr(self, f"out{s}")(F.interpolate(t, (8, 8))) for s, t in enumerate(taps)]


MODULES = ["model.stem"] + [f"model.features.{i}" for i in range(8)] + ["model.out", "out0", "out1", "out2"]


def module_of(name):
    return next(m for m in MODULES if name.startswith(m + "."))


def table_params():
    if not os.path.exists(TABLE):
        return None
    with open(TABLE) as f:
        return {row["arch"]: row["params"] for row in map(json.loads, f)}


def counts():
    table = table_params()
    out = []
    for arch in ARCHS:
        torch.manual_seed(0)
        net = Wrapper(arch, 32, [64, 64, 64])
        x = torch.randn(2, 3, 32, 32)
        sum(y.square().mean() for y in net(x)).backward()
        assert all(p.grad is not None for p in net.parameters()), arch
        modules = {m: 0 for m in MODULES}
        for name, p in net.named_parameters():
            modules[module_of(name)] += p.numel()
        benchmark = sum(p.numel() for p in BenchmarkNetwork(arch).parameters())
        if table is not None:
            assert benchmark == table[arch], (arch, benchmark, table[arch])
        out.append({
            "arch": arch,
            "init_channels": 32,
            "out_channels": [64, 64, 64],
            "total": sum(p.numel() for p in net.parameters()),
            "modules": modules,
            "names": sorted(n for n, _ in net.named_parameters()),
            "taps": [list(t.shape) for t in net.model.taps(x)],
            "benchmark_params": benchmark,
            "benchmark_params_checked": table is not None,
        })
    return out


# ---------------------------------------------------------------------------------------------
# Initial weights, inputs and targets of the proxy runs come from a counter-based integer hash that
# tests/nbmacro_network_test.ts reproduces bit for bit, so the fixture holds no tensors. Every value
# is q / 4096 with an integer q (exact in float32). Per state_dict name and shape:
#   conv weight (>= 2 dims)  q uniform in [-m, m], m = floor(4096 / sqrt(fan_in)) (PyTorch's bound)
#   BN weight (1 dim)        1 + q / 4096, q in [-819, 819]
#   bias                     q in [-409, 409]
#   "input" q in [-8192, 8192]; "target<s>" q in [-4096, 4096]
M32 = 0xFFFFFFFF
GOLDEN = 0x9E3779B9


def fnv1a(text):
    h = 0x811C9DC5
    for byte in text.encode():
        h = ((h ^ byte) * 0x01000193) & M32
    return h


def fmix(h):
    """murmur3's 32-bit finaliser on an int or a uint64 numpy array of values < 2^32."""
    h = h ^ (h >> 16)
    h = (h * 0x85EBCA6B) & M32
    h = h ^ (h >> 13)
    h = (h * 0xC2B2AE35) & M32
    return h ^ (h >> 16)


def hashed_ints(key, n, m):
    """n integers uniform in [-m, m] from the hash of `key` and the element index."""
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


def train_tiny(net, x, targets, dtype, lr=0.1):
    """5 SGD iterations (train weights 1,1,1), then the eval loss (weights 0.25,0.5,1)."""
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


TINY = {"init_channels": 8, "batch": 4, "iterations": 5, "out_channels": [6, 5, 16]}


def float32_variants(net, state, x, targets, lr):
    """float32 runs in three summation orders: default, channels_last, and a single thread."""
    runs = []
    for variant in ("default", "channels_last", "one thread"):
        net.load_state_dict(state)
        net = net.float()
        xx = x
        if variant == "channels_last":
            net = net.to(memory_format=torch.channels_last)
            xx = x.to(memory_format=torch.channels_last)
        threads = torch.get_num_threads()
        if variant == "one thread":
            torch.set_num_threads(1)
        try:
            runs.append(train_tiny(net, xx, targets, torch.float32, lr))
        finally:
            torch.set_num_threads(threads)
    return runs


def proxy_case(arch, seed, lr, x, targets):
    """None unless the start is well-conditioned and training converges."""
    net = Wrapper(arch, TINY["init_channels"], TINY["out_channels"])
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.copy_(init_param(seed, name, tuple(p.shape)))
    state = {k: v.clone() for k, v in net.state_dict().items()}
    f64 = train_tiny(net.double(), x, targets, torch.float64, lr)
    values64 = f64[0] + [f64[1]]
    # At lr 0.1 many starts of the narrow all-identity net blow up (as in the reference); a run
    # that trains is the more telling golden, so keep starts whose loss stays bounded and drops.
    if max(f64[0]) > 1.5 * f64[0][0] or not f64[1] < f64[0][0]:
        return None
    # ReLUs and BNs over nearly dead channels can make 5 steps chaotic: float32 rounding in one
    # summation order then lands within 1e-7 of float64 and in another order 1e-3 away, and the
    # WGSL kernels sum in yet other orders. Keep starts where PyTorch's float32 in three orders
    # all stay within 1e-4 of float64 (10 times under the tests' tolerance).
    f32 = float32_variants(net, state, x, targets, lr)
    for run in f32:
        if max(abs(a - b) / abs(b) for a, b in zip(run[0] + [run[1]], values64)) > 1e-4:
            return None
    return {
        "arch": arch, "seed": seed, "lr": lr, "losses": f64[0], "eval_loss": f64[1],
        "float32_losses": f32[0][0], "float32_eval_loss": f32[0][1],
    }


def proxy():
    x = hashed_tensor("input", (TINY["batch"], 3, 32, 32), 8192).float()
    targets = [hashed_tensor(f"target{s}", (TINY["batch"], c, 8, 8), 4096).float()
               for s, c in enumerate(TINY["out_channels"])]
    cases = []
    for arch in ARCHS:
        # GenNAS' lr 0.1 where some start of the first 20 is well-conditioned; the all-MB6 net is
        # chaotic at lr 0.1 for every start tried (even PyTorch float32 in another order parts
        # from float64 by ~1e-3 within 5 steps), so it falls back to lr 0.01.
        case = next((c for lr in (0.1, 0.01) for seed in range(20)
                     if (c := proxy_case(arch, seed, lr, x, targets)) is not None), None)
        if case is None:
            raise RuntimeError(f"no well-conditioned start for {arch}")
        cases.append(case)
    return {**TINY, "cases": cases}


def main():
    print(json.dumps({
        "description": "scripts/golden_nbmacro.py (torch %s)" % torch.__version__,
        "hash_check": {"key": "0/model.stem.0.weight", "m": 100,
                       "ints": [int(q) for q in hashed_ints("0/model.stem.0.weight", 8, 100)]},
        "counts": counts(),
        "proxy": proxy(),
    }, separators=(",", ":")))


if __name__ == "__main__":
    main()
