"""PyTorch counterpart of one GenNAS proxy run, for bench/vs_pytorch.ts (not a golden generator).

The same network (scripts/golden_spaces.py: backbone + BN -> 1x1 heads on the 8x8 nearest
subsample of each tap), the same loop: `iters` SGD steps (lr 0.1, momentum 0.9, weight decay 4e-5
on conv/linear weights) on one batch, each step with fresh input noise when the task has any,
summed per-stage MSE (train weights), then one eval-mode forward (eval weights). Inputs and
targets are random tensors of the task's shapes: the values do not change the time.

Protocol: one JSON request per stdin line, one JSON reply per stdout line.
  request {"space", "arch", "iters", "batch", "init_channels", "out_channels": [3],
           "noise": {"kind": "uniform"|"gaussian", "level"}, "train_weights": [3],
           "eval_weights": [3], "seed"}
  reply   {"seconds", "cpu_seconds", "loss", "peak_rss_mb"}   (CPU: all threads of the process;
          peak RSS since the request arrived)
The first line written is {"torch": version, "threads": n}.

Run: /usr/bin/python3 scripts/pytorch_proxy.py [--threads 2]
"""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_spaces import build  # noqa: E402  (this project's own PyTorch networks)


def reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run(req):
    torch.manual_seed(req.get("seed", 0))
    started = time.perf_counter()
    cpu_started = time.process_time()
    c, batch, out_channels = req["init_channels"], req["batch"], req["out_channels"]
    net = build(req["space"], req["arch"], c, out_channels)
    x = torch.randn(batch, 3, 32, 32)
    targets = [torch.randn(batch, oc, 8, 8) for oc in out_channels]
    tw, ew = req["train_weights"], req["eval_weights"]
    noise = req.get("noise") or {"kind": "gaussian", "level": 0.0}
    decay = [p for n, p in net.named_parameters() if n.endswith("weight") and p.dim() >= 2]
    rest = [p for n, p in net.named_parameters() if not (n.endswith("weight") and p.dim() >= 2)]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": 4e-5},
                           {"params": rest, "weight_decay": 0.0}], lr=0.1, momentum=0.9)

    def noisy():
        if noise["level"] <= 0:
            return x
        if noise["kind"] == "uniform":
            return x + noise["level"] * (2 * torch.rand_like(x) - 1)
        return x + noise["level"] * torch.randn_like(x)

    net.train()
    for _ in range(req["iters"]):
        opt.zero_grad()
        outs = net(noisy())
        loss = sum(w * F.mse_loss(o, t) for w, o, t in zip(tw, outs, targets) if w != 0)
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        outs = net(noisy())
        loss = sum(w * F.mse_loss(o, t) for w, o, t in zip(ew, outs, targets)).item()
    return {"seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu_started,
            "loss": loss}


def main():
    threads = 2
    if "--threads" in sys.argv:
        threads = int(sys.argv[sys.argv.index("--threads") + 1])
    torch.set_num_threads(threads)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        reset_peak_rss()
        reply = run(req)
        reply["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
