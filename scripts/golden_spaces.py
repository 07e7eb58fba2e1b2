"""Golden values for the NB-201 / NB-101 networks (tests/spaces_network_test.ts, tests/proxy_golden_test.ts).

PyTorch models built per GENNAS_SPEC.md §4.0-§4.2 with the module names of the reference wrappers
(so state_dict names equal gennas' parameter names), used for:
  * parameter counts (all allocated / taking part in training) and tap shapes of known archs;
  * a whole proxy run on a tiny config (4 init channels, batch 4, 5 SGD iterations, combo-style
    stage weights) from given initial weights, inputs and targets: per-iteration train losses and
    the final eval-mode loss.

Run: /usr/bin/python3 scripts/golden_spaces.py > fixtures/golden/spaces.json
"""
import json

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------------------------------------
# NAS-Bench-201 (spec §4.2): reference OPS order names the `options` modules of a cell.
NB201_OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
OPTION_ORDER = ["none", "avg_pool_3x3", "nor_conv_3x3", "nor_conv_1x1", "skip_connect"]


class ReluConvBn(nn.Module):
    def __init__(self, c_in, c_out, k, stride, pad, affine):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, k, stride=stride, padding=pad, bias=not affine),
            nn.BatchNorm2d(c_out, affine=affine, track_running_stats=affine),
        )

    def forward(self, x):
        return self.op(x)


class Zero(nn.Module):
    def forward(self, x):
        return x.mul(0.0)


class Pool(nn.Module):
    def __init__(self):
        super().__init__()
        self.avgpool = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)

    def forward(self, x):
        return self.avgpool(x)


class Identity(nn.Module):
    def forward(self, x):
        return x


def make_op(name, c):
    return {
        "none": lambda: Zero(),
        "avg_pool_3x3": lambda: Pool(),
        "nor_conv_3x3": lambda: ReluConvBn(c, c, 3, 1, 1, False),
        "nor_conv_1x1": lambda: ReluConvBn(c, c, 1, 1, 0, False),
        "skip_connect": lambda: Identity(),
    }[name]()


EDGES = [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)]


class Cell(nn.Module):
    def __init__(self, c, ops):
        super().__init__()
        self.ops = ops
        self.options = nn.ModuleList([make_op(name, c) for _ in EDGES for name in OPTION_ORDER])

    def forward(self, x):
        nodes = [x]
        for target in (1, 2, 3):
            terms = []
            for e, (t, s) in enumerate(EDGES):
                if t == target:
                    terms.append(self.options[e * 5 + OPTION_ORDER.index(self.ops[e])](nodes[s]))
            nodes.append(sum(terms))
        return nodes[3]


class Stem(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        return self.net(x)


class Reduction(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.residual = nn.Sequential(nn.AvgPool2d(2, 2, 0), nn.Conv2d(c_in, c_out, 1, bias=False))
        self.conv_a = ReluConvBn(c_in, c_out, 3, 2, 1, True)
        self.conv_b = ReluConvBn(c_out, c_out, 3, 1, 1, True)

    def forward(self, x):
        return self.residual(x) + self.conv_b(self.conv_a(x))


class Nb201Backbone(nn.Module):
    def __init__(self, ops, c, n=5):
        super().__init__()
        self.stem = Stem(c)
        self.stack_cell1 = nn.Sequential(*[Cell(c, ops) for _ in range(n)])
        self.reduction1 = Reduction(c, 2 * c)
        self.stack_cell2 = nn.Sequential(*[Cell(2 * c, ops) for _ in range(n)])
        self.reduction2 = Reduction(2 * c, 4 * c)
        self.stack_cell3 = nn.Sequential(*[Cell(4 * c, ops) for _ in range(n)])

    def taps(self, x):
        x = self.stack_cell1(self.stem(x))
        t0 = x
        x = self.stack_cell2(self.reduction1(x))
        t1 = x
        return [t0, t1, self.stack_cell3(self.reduction2(x))]


def parse_nb201(text):
    nodes = text.strip("|").split("|+|")
    ops = []
    for node in nodes:
        for edge in node.strip("|").split("|"):
            ops.append(edge.split("~")[0])
    return ops


# ---------------------------------------------------------------------------------------------
# NAS-Bench-101 (spec §4.1)
class ConvBnRelu(nn.Module):
    def __init__(self, c_in, c_out, k):
        super().__init__()
        self.conv_bn_relu = nn.Sequential(
            nn.Conv2d(c_in, c_out, k, 1, (k - 1) // 2, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())

    def forward(self, x):
        return self.conv_bn_relu(x)


class Conv3(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv3x3 = ConvBnRelu(c, c, 3)

    def forward(self, x):
        return self.conv3x3(x)


class Conv1(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1x1 = ConvBnRelu(c, c, 1)

    def forward(self, x):
        return self.conv1x1(x)


class MaxPool3(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.maxpool = nn.MaxPool2d(3, 1, 1)

    def forward(self, x):
        return self.maxpool(x)


VERTEX_OPS = {"conv3x3-bn-relu": Conv3, "conv1x1-bn-relu": Conv1, "maxpool3x3": MaxPool3}


def prune(matrix, ops):
    m = np.array(matrix)
    v = len(m)
    fwd, bwd = {0}, {v - 1}
    for i in range(v):
        if i in fwd:
            fwd |= {j for j in range(v) if m[i, j]}
    for i in reversed(range(v)):
        if i in bwd:
            bwd |= {j for j in range(v) if m[j, i]}
    keep = sorted(fwd & bwd)
    return m[np.ix_(keep, keep)], [ops[i] for i in keep]


def vertex_channels(c_in, c_out, m):
    v = len(m)
    ch = [0] * v
    ch[0], ch[v - 1] = c_in, c_out
    if v == 2:
        return ch
    k = int(m[1:, v - 1].sum())
    share, extra = c_out // k, c_out % k
    for t in range(1, v - 1):
        if m[t, v - 1]:
            ch[t] = share + (1 if extra > 0 else 0)
            extra -= 1 if extra > 0 else 0
    for t in range(v - 3, 0, -1):
        if not m[t, v - 1]:
            for d in range(t + 1, v - 1):
                if m[t, d]:
                    ch[t] = max(ch[t], ch[d])
    return ch


class Nb101Cell(nn.Module):
    def __init__(self, m, ops, c_in, c_out):
        super().__init__()
        self.m = m
        v = len(m)
        self.ch = vertex_channels(c_in, c_out, m)
        self.vertex_op = nn.ModuleList([None] + [VERTEX_OPS[ops[t]](self.ch[t]) for t in range(1, v - 1)])
        self.input_op = nn.ModuleList(
            [None] + [ConvBnRelu(c_in, self.ch[t], 1) if m[0, t] else None for t in range(1, v)])

    def forward(self, x):
        m, v = self.m, len(self.m)
        tensors = [x]
        outs = []
        for t in range(1, v - 1):
            fan_in = [tensors[s][:, :self.ch[t]] for s in range(1, t) if m[s, t]]
            if m[0, t]:
                fan_in.append(self.input_op[t](x))
            tensors.append(self.vertex_op[t](sum(fan_in)))
            if m[t, v - 1]:
                outs.append(tensors[t])
        if not outs:
            return self.input_op[v - 1](x)
        y = torch.cat(outs, 1)
        if m[0, v - 1]:
            y = y + self.input_op[v - 1](x)
        return y


class Nb101Backbone(nn.Module):
    def __init__(self, matrix, ops, c):
        super().__init__()
        m, ops = prune(matrix, ops)
        layers = [ConvBnRelu(3, c, 3)]
        c_in = c
        for stack in range(3):
            if stack > 0:
                layers.append(nn.MaxPool2d(2, 2))
                c *= 2
            for _ in range(3):
                layers.append(Nb101Cell(m, ops, c_in, c))
                c_in = c
        self.layers = nn.ModuleList(layers)

    def taps(self, x):
        taps = []
        for layer in self.layers:
            if isinstance(layer, nn.MaxPool2d):
                taps.append(x)
            x = layer(x)
        return taps + [x]


# ---------------------------------------------------------------------------------------------
class Wrapper(nn.Module):
    """Backbone + heads out{s} = BN -> 1x1 conv on the 8x8 nearest subsample of each tap."""

    def __init__(self, backbone, c, out_channels):
        super().__init__()
        self.model = backbone
        widths = [c, 2 * c, 4 * c]
        for s in range(3):
            setattr(self, f"out{s}", nn.Sequential(nn.BatchNorm2d(widths[s]), nn.Conv2d(widths[s], out_channels[s], 1)))

    def forward(self, x):
        taps = self.model.taps(x)
        return [getattr(self, f"out{s}")(F.interpolate(t, (8, 8))) for s, t in enumerate(taps)]


def build(space, arch, c, out_channels):
    if space == "nb201":
        backbone = Nb201Backbone(parse_nb201(arch), c)
    else:
        spec = json.loads(arch)
        backbone = Nb101Backbone(spec["matrix"], spec["ops"], c)
    return Wrapper(backbone, c, out_channels)


def flat(t):
    """float32 values printed with 9 significant digits (exact round trip, compact JSON)."""
    return [float("%.9g" % v) for v in t.detach().reshape(-1).tolist()]


NB101_EXAMPLE = json.dumps({
    "matrix": [[0, 1, 0, 0, 1, 1, 0], [0, 0, 1, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0, 1], [0, 0, 0, 0, 0, 1, 0],
               [0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0]],
    "ops": ["input", "conv3x3-bn-relu", "maxpool3x3", "conv3x3-bn-relu", "conv3x3-bn-relu", "conv1x1-bn-relu", "output"],
}, separators=(",", ":"))
# Input->output edge, a single feeder of the output, truncation (channel split 11/11/10) and a
# vertex pruned away (vertex 5 reaches nothing).
NB101_SPLIT = json.dumps({
    "matrix": [[0, 1, 1, 1, 0, 0, 1], [0, 0, 0, 0, 1, 0, 1], [0, 0, 0, 0, 1, 0, 1], [0, 0, 0, 0, 0, 0, 1],
               [0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0]],
    "ops": ["input", "conv1x1-bn-relu", "conv3x3-bn-relu", "maxpool3x3", "conv3x3-bn-relu", "maxpool3x3", "output"],
}, separators=(",", ":"))
NB101_CHAIN = json.dumps({
    "matrix": [[0, 1, 0, 1], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]],
    "ops": ["input", "conv3x3-bn-relu", "maxpool3x3", "output"],
}, separators=(",", ":"))

ARCHS = [
    ("nb201", "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"),
    ("nb201", "|avg_pool_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|none~1|avg_pool_3x3~2|"),
    ("nb201", "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"),
    ("nb201", "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|none~0|nor_conv_1x1~1|skip_connect~2|"),
    ("nb101", NB101_EXAMPLE),
    ("nb101", NB101_SPLIT),
    ("nb101", NB101_CHAIN),
]


def counts():
    out = []
    for space, arch in ARCHS:
        torch.manual_seed(0)
        net = build(space, arch, 16, [64, 64, 64])
        x = torch.randn(2, 3, 32, 32)
        ys = net(x)
        sum(y.square().mean() for y in ys).backward()
        used = {n: p.numel() for n, p in net.named_parameters() if p.grad is not None}
        out.append({
            "space": space,
            "arch": arch,
            "allocated": sum(p.numel() for p in net.parameters()),
            "used": sum(used.values()),
            "used_names": sorted(used),
            "taps": [list(t.shape) for t in net.model.taps(x)],
        })
    return out


def train_tiny(net, x, targets, dtype):
    """5 SGD iterations (train weights 1,1,1), then the eval loss (weights 0.25,0.5,1)."""
    net = net.to(dtype)
    x = x.to(dtype)
    targets = [t.to(dtype) for t in targets]
    decay = [p for n, p in net.named_parameters() if n.endswith("weight") and p.dim() >= 2]
    rest = [p for n, p in net.named_parameters() if not (n.endswith("weight") and p.dim() >= 2)]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": 4e-5}, {"params": rest, "weight_decay": 0.0}],
                          lr=0.1, momentum=0.9)
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


def proxy_case(space, arch, seed):
    """4 init channels, batch 4, 5 iterations. Returns None unless float32 and float64 agree."""
    torch.manual_seed(seed)
    out_channels = [6, 5, 4]
    net = build(space, arch, 4, out_channels)
    with torch.no_grad():  # non-default BN affine values, so the import path is exercised
        for mod in net.modules():
            if isinstance(mod, nn.BatchNorm2d) and mod.affine:
                mod.weight.uniform_(0.8, 1.2)
                mod.bias.uniform_(-0.1, 0.1)
    x = torch.randn(4, 3, 32, 32)
    targets = [torch.randn(4, c, 8, 8) for c in out_channels]
    # Only the parameters that take part (the reference also allocates every unused NB-201 op).
    probe = sum(o.square().mean() for o in net(x))
    probe.backward()
    initial = {n: flat(p) for n, p in net.named_parameters() if p.grad is not None}
    net.zero_grad(set_to_none=True)
    for mod in net.modules():  # forget the probe's running-stat update
        if isinstance(mod, nn.BatchNorm2d) and mod.track_running_stats:
            mod.reset_running_stats()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    f32 = train_tiny(net, x, targets, torch.float32)
    net.load_state_dict(state)
    f64 = train_tiny(net.double(), x, targets, torch.float64)
    values32 = f32[0] + [f32[1]]
    values64 = f64[0] + [f64[1]]
    # Tiny BN batches can be chaotic: then float32 and float64 part ways and no f32 code can
    # match either. Keep only cases where they agree closely; the float64 run is the golden.
    if max(abs(a - b) / abs(b) for a, b in zip(values32, values64)) > 1e-4:
        return None
    return {
        "space": space, "arch": arch, "init_channels": 4, "batch": 4, "iterations": 5, "seed": seed,
        "out_channels": out_channels, "params": initial, "input": flat(x),
        "targets": [flat(t) for t in targets], "losses": f64[0], "eval_loss": f64[1],
        "float32_losses": f32[0], "float32_eval_loss": f32[1],
    }


def proxy_run(space, arch, first_seed):
    for seed in range(first_seed, first_seed + 50):
        case = proxy_case(space, arch, seed)
        if case is not None:
            return case
    raise RuntimeError(f"no well-conditioned seed for {arch}")


def main():
    print(json.dumps({
        "description": "scripts/golden_spaces.py (torch %s)" % torch.__version__,
        "counts": counts(),
        "proxy": [
            proxy_run("nb201", ARCHS[1][1], 1),
            proxy_run("nb101", NB101_SPLIT, 3),
        ],
    }))


if __name__ == "__main__":
    main()
