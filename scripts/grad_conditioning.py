"""How well float32 computes the first GenNAS gradients of an NB-201 network (README, "On a real
GPU"): PyTorch's float32 gradients against float64 ones from the same weights, inputs and targets.

    /usr/bin/python3 scripts/grad_conditioning.py ARCH INIT_CHANNELS BATCH

Prints the train loss in both precisions and the relative error ‖g32 − g64‖ / ‖g64‖ of the six
largest-gradient weights. Networks from scripts/golden_spaces.py; random inputs and targets.
"""
import copy
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import golden_spaces as gs  # noqa: E402


def grads(net, x, targets, dtype):
    net = copy.deepcopy(net).to(dtype)
    net.train()
    loss = sum(F.mse_loss(o, t.to(dtype)) for o, t in zip(net(x.to(dtype)), targets))
    loss.backward()
    return loss.item(), {k: p.grad.double().clone() for k, p in net.named_parameters()
                         if p.grad is not None}


def main():
    arch, channels, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.manual_seed(0)
    out_channels = [6, 5, 4]
    net = gs.build("nb201", arch, channels, out_channels)
    x = torch.randn(batch, 3, 32, 32)
    targets = [torch.randn(batch, c, 8, 8) for c in out_channels]
    l32, g32 = grads(net, x, targets, torch.float32)
    l64, g64 = grads(net, x, targets, torch.float64)
    rows = sorted(((g64[k].norm().item(), ((g32[k] - g64[k]).norm() / g64[k].norm()).item(), k)
                   for k in g64), reverse=True)
    print(f"init channels {channels}, batch {batch}: loss float32 {l32:.7f} float64 {l64:.7f}; "
          "relative gradient error of the 6 largest-gradient weights: "
          + " ".join(f"{r[1]:.1e}" for r in rows[:6]) + f" (largest: {rows[0][2]})")


if __name__ == "__main__":
    main()
