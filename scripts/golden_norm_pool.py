#!/usr/bin/python3
"""PyTorch golden outputs for the batch norm, pooling and layout kernels.

Run with the python that has torch (here /usr/bin/python3):
    /usr/bin/python3 scripts/golden_norm_pool.py
writes fixtures/golden/norm_pool.json (seeded, reproducible). Tensors are flat NCHW lists of
float32 values; shapes are [N, C, H, W].
"""
import json
import os

import torch
import torch.nn.functional as F

SEED = 20211206
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "golden",
                   "norm_pool.json")


def flat(t):
    """float32 values rounded to 9 significant digits (exact f32 round trip)."""
    return [float("%.9g" % v) for v in t.detach().to(torch.float32).reshape(-1).tolist()]


def batchnorm_case(name, shape, affine, relu, gen):
    n, c, h, w = shape
    bn = torch.nn.BatchNorm2d(c, eps=1e-5, momentum=0.1, affine=affine)
    with torch.no_grad():
        if affine:
            bn.weight.copy_(torch.rand(c, generator=gen) * 1.5 + 0.25)
            bn.bias.copy_(torch.randn(c, generator=gen) * 0.5)
        bn.running_mean.copy_(torch.randn(c, generator=gen) * 0.3)
        bn.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
    offsets = torch.randn(1, c, 1, 1, generator=gen) * 2
    scales = torch.rand(1, c, 1, 1, generator=gen) * 2 + 0.5
    x = (torch.randn(shape, generator=gen) * scales + offsets).requires_grad_(True)
    dy = torch.randn(shape, generator=gen)
    case = {
        "name": name, "shape": list(shape), "affine": affine, "relu": relu,
        "eps": bn.eps, "momentum": bn.momentum, "x": flat(x), "dy": flat(dy),
        "running_mean_before": flat(bn.running_mean), "running_var_before": flat(bn.running_var),
    }
    if affine:
        case["gamma"] = flat(bn.weight)
        case["beta"] = flat(bn.bias)
    with torch.no_grad():
        _, save_mean, save_invstd = torch.native_batch_norm(
            x, bn.weight, bn.bias, None, None, True, 0.1, 1e-5)
    bn.train()
    y = bn(x)
    if relu:
        y = F.relu(y)
    y.backward(dy)
    case.update({
        "y_train": flat(y), "mean": flat(save_mean), "invstd": flat(save_invstd),
        "running_mean_after": flat(bn.running_mean), "running_var_after": flat(bn.running_var),
        "dx": flat(x.grad),
    })
    if affine:
        case["dgamma"] = flat(bn.weight.grad)
        case["dbeta"] = flat(bn.bias.grad)
    bn.eval()
    with torch.no_grad():
        y_eval = bn(x)
        if relu:
            y_eval = F.relu(y_eval)
    case["y_eval"] = flat(y_eval)
    return case


def pool_input(shape, gen, ties):
    if ties:  # few distinct levels: windows often hold several equal maxima
        return torch.randint(-2, 3, shape, generator=gen).to(torch.float32)
    return torch.randn(shape, generator=gen)


def maxpool_case(name, shape, kernel, stride, pad, gen):
    x = pool_input(shape, gen, ties=True).requires_grad_(True)
    y, idx = F.max_pool2d(x, kernel, stride, pad, return_indices=True)
    dy = torch.randn(y.shape, generator=gen)
    y.backward(dy)
    return {"name": name, "shape": list(shape), "kernel": kernel, "stride": stride, "pad": pad,
            "x": flat(x), "y": flat(y), "argmax": idx.reshape(-1).tolist(), "dy": flat(dy),
            "dx": flat(x.grad)}


def avgpool_case(name, shape, kernel, stride, pad, count_include_pad, gen):
    x = pool_input(shape, gen, ties=False).requires_grad_(True)
    y = F.avg_pool2d(x, kernel, stride, pad, count_include_pad=count_include_pad)
    dy = torch.randn(y.shape, generator=gen)
    y.backward(dy)
    return {"name": name, "shape": list(shape), "kernel": kernel, "stride": stride, "pad": pad,
            "count_include_pad": count_include_pad, "x": flat(x), "y": flat(y), "dy": flat(dy),
            "dx": flat(x.grad)}


def interpolate_case(name, shape, out, gen):
    x = torch.randn(shape, generator=gen).requires_grad_(True)
    y = F.interpolate(x, size=out)  # default mode "nearest"
    dy = torch.randn(y.shape, generator=gen)
    y.backward(dy)
    return {"name": name, "shape": list(shape), "out": list(out), "x": flat(x), "y": flat(y),
            "dy": flat(dy), "dx": flat(x.grad)}


def global_avg_case(name, shape, gen):
    x = torch.randn(shape, generator=gen).requires_grad_(True)
    y = F.adaptive_avg_pool2d(x, 1)
    dy = torch.randn(y.shape, generator=gen)
    y.backward(dy)
    return {"name": name, "shape": list(shape), "x": flat(x), "y": flat(y), "dy": flat(dy),
            "dx": flat(x.grad)}


def main():
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    golden = {
        "generator": "scripts/golden_norm_pool.py",
        "torch": torch.__version__,
        "seed": SEED,
        "batchnorm": [
            batchnorm_case("affine", (4, 3, 5, 6), True, False, gen),
            batchnorm_case("affine_relu", (3, 4, 7, 5), True, True, gen),
            batchnorm_case("plain", (5, 3, 4, 7), False, False, gen),
            batchnorm_case("plain_relu", (2, 5, 6, 6), False, True, gen),
        ],
        "maxpool": [
            maxpool_case("k3s1p1_ties", (2, 3, 7, 9), 3, 1, 1, gen),
            maxpool_case("k2s2_ties", (2, 3, 8, 10), 2, 2, 0, gen),
            maxpool_case("k2s2_odd_ties", (1, 2, 7, 9), 2, 2, 0, gen),
            # width divisible by 4: the vectorised 3×3 kernels
            maxpool_case("k3s1p1_w8_ties", (2, 3, 6, 8), 3, 1, 1, gen),
        ],
        "avgpool": [
            avgpool_case("k3s1p1_exclude_pad", (2, 3, 7, 9), 3, 1, 1, False, gen),
            avgpool_case("k3s1p1_include_pad", (2, 3, 7, 9), 3, 1, 1, True, gen),
            avgpool_case("k2s2", (2, 3, 8, 10), 2, 2, 0, False, gen),
            avgpool_case("k3s1p1_w8_exclude_pad", (2, 3, 5, 8), 3, 1, 1, False, gen),
            avgpool_case("k3s1p1_w4_include_pad", (1, 2, 4, 4), 3, 1, 1, True, gen),
        ],
        "interpolate": [
            interpolate_case("32_to_8", (1, 1, 32, 32), (8, 8), gen),
            interpolate_case("16_to_8", (2, 2, 16, 16), (8, 8), gen),
            interpolate_case("7_to_3", (2, 3, 7, 7), (3, 3), gen),
            interpolate_case("9x12_to_5x7", (1, 2, 9, 12), (5, 7), gen),
            interpolate_case("3x5_to_7x11_upsample", (1, 2, 3, 5), (7, 11), gen),
            # f32 scale rounding picks a different pixel than exact floor(d·in/out) here
            interpolate_case("26x5_to_22x3_f32_rounding", (1, 2, 26, 5), (22, 3), gen),
        ],
        "global_avg": [
            global_avg_case("adaptive_1", (2, 3, 5, 7), gen),
            global_avg_case("adaptive_1_8x8", (3, 4, 8, 8), gen),
        ],
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(golden, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.relpath(OUT)} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
