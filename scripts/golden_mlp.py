"""Golden values for the recurrent-cell ops in a whole graph (tests/graph_mlp_test.ts).

conv 3x3 -> global average pool -> linear -> {tanh, sigmoid} -> product -> leaky_relu -> linear,
MSE to a target; 8 Adam steps (lr 1e-2, weight decay 1.2e-6 on every parameter, as the NLP
variant of GenNAS uses Adam), recording the loss before each step.

Run: /usr/bin/python3 scripts/golden_mlp.py > fixtures/golden/mlp.json
"""
import json

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(31)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.gate = nn.Linear(8, 12)
        self.value = nn.Linear(8, 12)
        self.out = nn.Linear(12, 5)

    def forward(self, x):
        h = F.adaptive_avg_pool2d(self.conv(x), 1).flatten(1)
        mixed = torch.sigmoid(self.gate(h)) * torch.tanh(self.value(h))
        return self.out(F.leaky_relu(mixed, 0.01))


def flat(t):
    return [float("%.9g" % v) for v in t.detach().reshape(-1).tolist()]


def main():
    net = Net()
    initial = {k: flat(v) for k, v in net.state_dict().items()}
    x = torch.randn(6, 3, 5, 5)
    target = torch.randn(6, 5)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2, weight_decay=1.2e-6)
    losses = []
    for _ in range(8):
        opt.zero_grad()
        loss = F.mse_loss(net(x), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    print(json.dumps({
        "description": "scripts/golden_mlp.py (torch %s)" % torch.__version__,
        "params": initial, "input": flat(x), "target": flat(target), "losses": losses,
        "final": {k: flat(v) for k, v in net.state_dict().items()},
    }))


if __name__ == "__main__":
    main()
