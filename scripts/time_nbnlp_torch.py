"""Seconds per NAS-Bench-NLP cell of the PyTorch counterpart (scripts/golden_nbnlp.py's model) at
full PTB sizes: emsize 400, nhid 600, 3 layers, d 48 (CONF_NLP), L 8, batch 16, 100 Adam steps
(lr 1e-3, wdecay 1.2e-6) with the reference's dropouts (LockedDropout 0.25 / 0.1, WeightDrop 0.1
with frozen raw recurrent weights) and an eval-mode pass every 10 iterations, one CPU thread.
Random inputs and targets: the timing does not depend on the signals.

Run: /usr/bin/python3 scripts/time_nbnlp_torch.py <ptb table> <recepie_id> [...]
(GENNAS_TORCH_THREADS sets the thread count; default 1, as the authors' code was timed here.)
"""
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from golden_nbnlp import Net  # noqa: E402

torch.set_num_threads(int(os.environ.get("GENNAS_TORCH_THREADS", "1")))


def locked(x, p, training):
    if not training or p == 0:
        return x
    mask = x.new_empty(1, x.shape[1], x.shape[2]).bernoulli_(1 - p) / (1 - p)
    return x * mask


class Timed(Net):
    def __init__(self, recipe, wdrop=0.1, dropouth=0.25, dropout=0.1):
        super().__init__(recipe, 48, 400, 600, 3)
        self.p = (wdrop, dropouth, dropout)
        with torch.no_grad():
            for n, q in self.named_parameters():
                if n.startswith("rnns"):
                    q.uniform_(-1 / math.sqrt(q.shape[0]), 1 / math.sqrt(q.shape[0]))
            self.encoder.weight.uniform_(-0.1, 0.1)
            self.decoder.weight.uniform_(-0.1, 0.1)
            self.decoder.bias.zero_()
        for rnn in self.rnns:
            rnn.cell.frozen = True

    def forward(self, x):
        h = self.encoder(x)
        for i, rnn in enumerate(self.rnns):
            h = rnn(h)
            last = i == len(self.rnns) - 1
            h = locked(h, self.p[2] if last else self.p[1], self.training)
        return self.decoder(h)


def weight_dropped(cell, p):
    def weight(node, j):
        w = cell.components[node].weights[j]
        if cell.recipe[node]["input"][j] != "x":
            return torch.nn.Parameter(F.dropout(w, p=p, training=cell.training))
        return w
    return weight


def time_cell(recipe):
    net = Timed(recipe)
    for rnn in net.rnns:
        rnn.cell.weight = weight_dropped(rnn.cell, 0.1)
    x = torch.randn(8, 16, 48)
    target = torch.randn(8, 16, 48)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1.2e-6)
    start = time.perf_counter()
    for it in range(100):
        net.train()
        opt.zero_grad()
        loss = F.mse_loss(net(x + 0.6 * (2 * torch.rand_like(x) - 1)), target)
        loss.backward()
        opt.step()
        if (it + 1) % 10 == 0:
            net.eval()
            with torch.no_grad():
                F.mse_loss(net(x), target).item()
    return time.perf_counter() - start


def main():
    table, ids = sys.argv[1], set(sys.argv[2:])
    with open(table) as f:
        rows = [json.loads(line) for line in f]
    for row in rows:
        if str(row["recepie_id"]) in ids:
            print(json.dumps({"recepie_id": row["recepie_id"], "seconds": time_cell(row["recipe"])}))


if __name__ == "__main__":
    main()
