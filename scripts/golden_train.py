"""Golden values for the whole-graph training test (tests/graph_train_test.ts).

A small GenNAS-shaped conv net (stem conv -> BN+ReLU -> tap0 -> maxpool -> conv(bias) -> BN ->
ReLU -> avgpool 3x3 (count_include_pad=False) -> tap1; heads = nearest subsample -> BN -> 1x1 conv)
is trained for 20 SGD steps (lr 0.1, momentum 0.9, weight decay 4e-5 on conv weights only) on a
fixed batch with per-stage weighted MSE. Writes the initial parameters (by state_dict name), the
input, the targets, the train loss of every step and the final eval-mode loss.

Run: /usr/bin/python3 scripts/golden_train.py > fixtures/golden/train.json
"""
import json

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(20211)
torch.set_default_dtype(torch.float32)


class Head(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.bn = nn.BatchNorm2d(c_in)
        self.conv = nn.Conv2d(c_in, c_out, 1, bias=True)

    def forward(self, x, size):
        x = F.interpolate(x, size=(size, size), mode="nearest")
        return self.conv(self.bn(x))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.stem_bn = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1, bias=True)
        self.bn2 = nn.BatchNorm2d(16)
        self.head0 = Head(8, 5)
        self.head1 = Head(16, 6)

    def forward(self, x):
        t0 = F.relu(self.stem_bn(self.stem(x)))
        y = F.max_pool2d(t0, 2, 2)
        y = F.relu(self.bn2(self.conv2(y)))
        t1 = F.avg_pool2d(y, 3, 1, 1, count_include_pad=False)
        return self.head0(t0, 4), self.head1(t1, 4)


WEIGHTS = (0.5, 1.0)
EVAL_WEIGHTS = (0.25, 1.0)


def loss_of(outputs, targets, weights):
    return sum(w * F.mse_loss(o, t) for w, o, t in zip(weights, outputs, targets))


def main():
    net = Net()
    # Non-default BN state so that the import path of every parameter is exercised.
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    initial = {k: v.detach().clone() for k, v in net.state_dict().items()}
    x = torch.randn(4, 3, 8, 8)
    targets = [torch.randn(4, 5, 4, 4), torch.randn(4, 6, 4, 4)]
    decay = [p for n, p in net.named_parameters() if n.endswith("weight") and p.dim() >= 2]
    rest = [p for n, p in net.named_parameters() if not (n.endswith("weight") and p.dim() >= 2)]
    opt = torch.optim.SGD(
        [{"params": decay, "weight_decay": 4e-5}, {"params": rest, "weight_decay": 0.0}],
        lr=0.1, momentum=0.9)
    losses = []
    net.train()
    for _ in range(20):
        opt.zero_grad()
        loss = loss_of(net(x), targets, WEIGHTS)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    net.eval()
    with torch.no_grad():
        eval_loss = loss_of(net(x), targets, EVAL_WEIGHTS).item()
    final = net.state_dict()
    flat = lambda t: [float(v) for v in t.reshape(-1).tolist()]
    out = {
        "description": "scripts/golden_train.py: 20 SGD steps of a small conv net (torch %s)" % torch.__version__,
        "params": {k: flat(v) for k, v in initial.items() if not k.endswith("num_batches_tracked") and "running" not in k},
        "input": flat(x),
        "targets": [flat(t) for t in targets],
        "train_weights": WEIGHTS,
        "eval_weights": EVAL_WEIGHTS,
        "losses": losses,
        "eval_loss": eval_loss,
        "final": {k: flat(v) for k, v in final.items() if not k.endswith("num_batches_tracked")},
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
