"""Golden values for the NAS-Bench-NLP network (tests/nbnlp_network_test.ts).

A PyTorch model written from GENNAS_SPEC.md §4.5 (GenNAS' regression variant of NAS-Bench-NLP),
not the benchmark's code, with module names such that state_dict names equal gennas' names:
  encoder                                    Linear(d -> emsize)
  rnns.<l>.cell.components.<node>.weights.<j>  the j-th weight block of a `linear` node
  rnns.<l>.cell.components.<node>.bias       its bias
  decoder                                    Linear(last hidden -> d)
Layers: emsize -> nhid, nhid -> nhid, ..., nhid -> emsize (tied). Each layer runs the recipe cell
per time step from a zero hidden tuple; the per-step output is h_new_0. Dropouts are 0 here (their
masks cannot be shared with gennas), so train and eval forwards agree.

"frozen" cases reproduce the WeightDrop quirk the way the reference's PyTorch code produces it:
every forward wraps the (dropped, here p = 0) hidden-to-hidden weight in a new nn.Parameter, so the
raw weight gets no gradient and Adam never moves it.

Emitted per case: the loss of every one of 20 Adam iterations (lr 1e-3 or 1e-2, weight decay
1.2e-6), the eval loss after them, the gradient of every parameter at the first iteration, and
the parameter values after the 20 steps; everything from initial weights, inputs and targets that
both sides generate from a shared integer hash (as in golden_nbmacro.py), float64.

Run: /usr/bin/python3 scripts/golden_nbnlp.py > fixtures/golden/nbnlp.json
"""
import json
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

M32 = 0xFFFFFFFF
GOLDEN = 0x9E3779B9

RECIPES = {
    # NAS-Bench-NLP recepie 1000000: a plain tanh RNN.
    "rnn": {"f": {"op": "linear", "input": ["x", "h_prev_0"]},
            "h_new_0": {"op": "activation_tanh", "input": ["f"]}},
    # recepie 1012045: every op, a 3-input linear, three hidden states.
    "mixed": {"node_1": {"op": "linear", "input": ["h_prev_2", "h_prev_0", "x"]},
              "node_2": {"op": "activation_leaky_relu", "input": ["node_1"]},
              "node_3": {"op": "elementwise_prod", "input": ["h_prev_1", "node_2"]},
              "node_5": {"op": "elementwise_sum", "input": ["h_prev_1", "node_3"]},
              "node_6": {"op": "blend", "input": ["h_prev_1", "node_5", "node_3"]},
              "node_7": {"op": "blend", "input": ["node_3", "node_2", "node_1"]},
              "node_9": {"op": "linear", "input": ["x", "h_prev_2"]},
              "node_11": {"op": "linear", "input": ["h_prev_2", "h_prev_0"]},
              "h_new_0": {"op": "activation_leaky_relu", "input": ["node_11"]},
              "h_new_1": {"op": "blend", "input": ["node_6", "node_7", "node_9"]},
              "h_new_2": {"op": "elementwise_sum", "input": ["node_9", "node_2"]}},
    # An LSTM-like cell with sigmoid gates (recepie 1000001 with the benchmark's gate layout).
    "lstm": {"i": {"op": "linear", "input": ["x", "h_prev_0"]},
             "i_act": {"op": "activation_tanh", "input": ["i"]},
             "j": {"op": "linear", "input": ["x", "h_prev_0"]},
             "j_act": {"op": "activation_sigm", "input": ["j"]},
             "f": {"op": "linear", "input": ["x", "h_prev_0"]},
             "f_act": {"op": "activation_sigm", "input": ["f"]},
             "o": {"op": "linear", "input": ["x", "h_prev_0"]},
             "o_act": {"op": "activation_tanh", "input": ["o"]},
             "h_new_1_part1": {"op": "elementwise_prod", "input": ["f_act", "h_prev_1"]},
             "h_new_1_part2": {"op": "elementwise_prod", "input": ["i_act", "j_act"]},
             "h_new_1": {"op": "elementwise_sum", "input": ["h_new_1_part1", "h_new_1_part2"]},
             "h_new_1_act": {"op": "activation_tanh", "input": ["h_new_1"]},
             "h_new_0": {"op": "elementwise_prod", "input": ["h_new_1_act", "o_act"]}},
}

SMALL = {"d": 6, "emsize": 5, "nhid": 7, "nlayers": 3, "length": 8, "batch": 4, "iterations": 20,
         "wdecay": 1.2e-6}
CASES = [
    {"recipe": "rnn", "lr": 1e-2, "frozen": False, "seed": 3},
    {"recipe": "mixed", "lr": 1e-3, "frozen": False, "seed": 5},
    {"recipe": "lstm", "lr": 1e-2, "frozen": False, "seed": 7},
    {"recipe": "lstm", "lr": 1e-2, "frozen": True, "seed": 7},
    # A frozen recurrent weight carries node_1's bias (its first input is h_prev_2).
    {"recipe": "mixed", "lr": 1e-3, "frozen": True, "seed": 5},
]


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


def hashed_tensor(key, shape, m):
    q = hashed_ints(key, int(np.prod(shape)), m)
    return torch.from_numpy(q.astype(np.float64) / 4096.0).reshape(shape)


def init_param(seed, name, shape):
    """Values in ±bound: 0.1 for encoder/decoder weights, 1/sqrt(hidden) for cell parameters."""
    bound = 0.1 if name.startswith(("encoder.weight", "decoder.weight")) else 1 / math.sqrt(shape[0])
    return hashed_tensor(f"{seed}/{name}", shape, math.floor(4096 * bound))


class MultiLinear(nn.Module):
    def __init__(self, input_sizes, hidden):
        super().__init__()
        self.weights = nn.ParameterList([nn.Parameter(torch.empty(hidden, s)) for s in input_sizes])
        self.bias = nn.Parameter(torch.empty(hidden))


class Cell(nn.Module):
    def __init__(self, recipe, input_size, hidden):
        super().__init__()
        self.recipe = recipe
        self.hidden = hidden
        self.components = nn.ModuleDict({
            k: MultiLinear([input_size if i == "x" else hidden for i in v["input"]], hidden)
            for k, v in recipe.items() if v["op"] == "linear"})
        self.tuple_size = 1 + max(int(k[6:]) for k in recipe if k.startswith("h_new_") and k[6:].isdigit())
        self.frozen = False

    def weight(self, node, j):
        w = self.components[node].weights[j]
        if self.frozen and self.recipe[node]["input"][j] != "x":
            # The reference's WeightDrop: a fresh Parameter from the dropped raw weight.
            return nn.Parameter(F.dropout(w, p=0.0, training=True))
        return w

    def step(self, x, hidden, weights):
        values = {"x": x}
        values.update({f"h_prev_{k}": h for k, h in enumerate(hidden)})

        def value(name):
            if name not in values:
                node = self.recipe[name]
                ins = [value(i) for i in node["input"]]
                op = node["op"]
                if op == "linear":
                    out = self.components[name].bias
                    for j, v in enumerate(ins):
                        out = out + v @ weights[(name, j)].t()
                elif op == "blend":
                    out = ins[0] * ins[1] + (1 - ins[0]) * ins[2]
                elif op == "elementwise_prod":
                    out = ins[0] * ins[1]
                elif op == "elementwise_sum":
                    out = ins[0] + ins[1]
                elif op == "activation_tanh":
                    out = torch.tanh(ins[0])
                elif op == "activation_sigm":
                    out = torch.sigmoid(ins[0])
                elif op == "activation_leaky_relu":
                    out = F.leaky_relu(ins[0], 0.01)
                values[name] = out
            return values[name]

        return [value(f"h_new_{k}") for k in range(self.tuple_size)]


class Layer(nn.Module):
    def __init__(self, recipe, input_size, hidden):
        super().__init__()
        self.cell = Cell(recipe, input_size, hidden)

    def forward(self, x):
        weights = {(n, j): self.cell.weight(n, j)
                   for n, c in self.cell.components.items() for j in range(len(c.weights))}
        hidden = [x.new_zeros(x.shape[1], self.cell.hidden) for _ in range(self.cell.tuple_size)]
        outputs = []
        for xt in torch.unbind(x, 0):
            hidden = self.cell.step(xt, hidden, weights)
            outputs.append(hidden[0])
        return torch.stack(outputs, 0)


class Net(nn.Module):
    def __init__(self, recipe, d, emsize, nhid, nlayers):
        super().__init__()
        self.encoder = nn.Linear(d, emsize)
        sizes = [(emsize if i == 0 else nhid, emsize if i == nlayers - 1 else nhid) for i in range(nlayers)]
        self.rnns = nn.ModuleList([Layer(recipe, i, h) for i, h in sizes])
        self.decoder = nn.Linear(sizes[-1][1], d)

    def forward(self, x):
        h = self.encoder(x)
        for rnn in self.rnns:
            h = rnn(h)
        return self.decoder(h)


def run_case(case):
    s = SMALL
    torch.manual_seed(0)
    net = Net(RECIPES[case["recipe"]], s["d"], s["emsize"], s["nhid"], s["nlayers"]).double()
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.copy_(init_param(case["seed"], name, tuple(p.shape)))
    for rnn in net.rnns:
        rnn.cell.frozen = case["frozen"]
    shape = (s["length"], s["batch"], s["d"])
    x = hashed_tensor("nlp-input", shape, 4096)
    target = hashed_tensor("nlp-target", shape, 4096)
    opt = torch.optim.Adam(net.parameters(), lr=case["lr"], weight_decay=s["wdecay"])
    losses, first_grads = [], None
    for it in range(s["iterations"]):
        opt.zero_grad()
        loss = F.mse_loss(net(x), target)
        loss.backward()
        if it == 0:
            first_grads = {n: (p.grad.flatten().tolist() if p.grad is not None else None)
                           for n, p in net.named_parameters()}
        opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        eval_loss = F.mse_loss(net(x), target).item()
    return {**case, "losses": losses, "eval_loss": eval_loss, "first_grads": first_grads,
            "final_params": {n: p.detach().flatten().tolist() for n, p in net.named_parameters()},
            "param_shapes": {n: list(p.shape) for n, p in net.named_parameters()}}


def main():
    print(json.dumps({
        "small": SMALL,
        "recipes": RECIPES,
        "hash_check": {"key": "check", "m": 1000, "ints": hashed_ints("check", 8, 1000).tolist()},
        "cases": [run_case(c) for c in CASES],
    }))


if __name__ == "__main__":
    main()
