#!/usr/bin/python3
"""PyTorch golden values for the conv2d kernels (tests/conv2d_test.ts).

Run with the system Python that has torch:  /usr/bin/python3 scripts/golden_conv.py
Writes fixtures/golden/conv2d.json: per configuration the conv parameters, inputs x, w, bias
(or null), the upstream gradient dy, and PyTorch's y = conv2d(x, w, bias), dx, dw, dbias. With
relu = true the convolution reads relu(x) (the kernels' fused `reluInput`) and dx is the gradient
with respect to x before the ReLU; every 7th x is exactly 0 there, where ReLU' is taken as 0.

Inputs are multiples of 1/256 in [-1, 1), exact in f32, so the GPU sees exactly these values;
PyTorch computes in float64, so the expected values carry no f32 rounding of their own.
"""
import json
import pathlib

import torch
import torch.nn.functional as F

SEED = 20211206
OUT = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "golden" / "conv2d.json"

CONFIGS = [
    dict(name="stride2_bias", batch=2, in_channels=3, out_channels=4, in_h=9, in_w=7,
         kernel=[3, 3], stride=[2, 2], pad=[1, 1], dilation=[1, 1], groups=1, bias=True),
    dict(name="dilation2", batch=1, in_channels=4, out_channels=5, in_h=8, in_w=8,
         kernel=[3, 3], stride=[1, 1], pad=[2, 2], dilation=[2, 2], groups=1, bias=False),
    dict(name="groups2_bias", batch=2, in_channels=4, out_channels=6, in_h=6, in_w=7,
         kernel=[3, 3], stride=[1, 1], pad=[1, 1], dilation=[1, 1], groups=2, bias=True),
    dict(name="depthwise5x5_bias", batch=2, in_channels=3, out_channels=3, in_h=7, in_w=7,
         kernel=[5, 5], stride=[1, 1], pad=[2, 2], dilation=[1, 1], groups=3, bias=True),
    dict(name="conv1x7", batch=1, in_channels=5, out_channels=3, in_h=6, in_w=11,
         kernel=[1, 7], stride=[1, 1], pad=[0, 3], dilation=[1, 1], groups=1, bias=False),
    dict(name="conv1x1_stride2", batch=2, in_channels=4, out_channels=8, in_h=8, in_w=8,
         kernel=[1, 1], stride=[2, 2], pad=[0, 0], dilation=[1, 1], groups=1, bias=False),
    dict(name="relu_stride2_bias", batch=2, in_channels=4, out_channels=8, in_h=9, in_w=8,
         kernel=[3, 3], stride=[2, 2], pad=[1, 1], dilation=[1, 1], groups=1, bias=True,
         relu=True),
    dict(name="relu_conv1x1_groups2", batch=2, in_channels=8, out_channels=8, in_h=4, in_w=8,
         kernel=[1, 1], stride=[1, 1], pad=[0, 0], dilation=[1, 1], groups=2, bias=False,
         relu=True),
]


def grid_values(gen: torch.Generator, *shape: int) -> torch.Tensor:
    """Uniform multiples of 1/256 in [-1, 1), as float64."""
    return (torch.randint(-256, 256, shape, generator=gen) / 256.0).to(torch.float64)


def rounded(t: torch.Tensor) -> list:
    return [float(f"{v:.10g}") for v in t.detach().reshape(-1).tolist()]


def exact(t: torch.Tensor) -> list:
    return t.detach().reshape(-1).tolist()


def golden(cfg: dict, gen: torch.Generator) -> dict:
    cin_g = cfg["in_channels"] // cfg["groups"]
    relu = cfg.get("relu", False)
    x = grid_values(gen, cfg["batch"], cfg["in_channels"], cfg["in_h"], cfg["in_w"])
    if relu:
        x.view(-1)[::7] = 0.0
    w = grid_values(gen, cfg["out_channels"], cin_g, *cfg["kernel"])
    b = grid_values(gen, cfg["out_channels"]) if cfg["bias"] else None
    x.requires_grad_(True)
    w.requires_grad_(True)
    if b is not None:
        b.requires_grad_(True)
    y = F.conv2d(F.relu(x) if relu else x, w, b, stride=cfg["stride"], padding=cfg["pad"],
                 dilation=cfg["dilation"], groups=cfg["groups"])
    dy = grid_values(gen, *y.shape)
    y.backward(dy)
    return dict(
        cfg,
        relu=relu,
        x=exact(x),
        w=exact(w),
        b=exact(b) if b is not None else None,
        dy=exact(dy),
        y=rounded(y),
        dx=rounded(x.grad),
        dw=rounded(w.grad),
        dbias=rounded(dy.sum(dim=(0, 2, 3))),
        torch_version=torch.__version__,
    )


def main() -> None:
    gen = torch.Generator().manual_seed(SEED)
    cases = [golden(cfg, gen) for cfg in CONFIGS]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"seed": SEED, "cases": cases}, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(cases)} cases)")


if __name__ == "__main__":
    main()
