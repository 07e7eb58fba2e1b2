/**
 * The ops of recurrent cells in a whole graph — linear, sigmoid, tanh, elementwise product,
 * leaky ReLU, global average pooling — trained with Adam against PyTorch
 * (scripts/golden_mlp.py), and their gradients against finite differences.
 */
import golden from "../fixtures/golden/mlp.json" with { type: "json" };
import { acquireGpu } from "../src/gpu/device.ts";
import { GraphBuilder } from "../src/graph/builder.ts";
import { type CompiledGraph, compileGraph } from "../src/graph/compile.ts";
import { Rng } from "../src/util/rng.ts";
import assert from "node:assert/strict";

async function compiledMlp(): Promise<CompiledGraph> {
  const g = new GraphBuilder();
  const x = g.input("x", [6, 3, 5, 5]);
  const conv = g.conv2d("conv", x, { outChannels: 8, kernel: 3, pad: 1, bias: true });
  const h = g.globalAvgPool("pool", conv);
  const gate = g.unary("gate.sigmoid", "sigmoid", g.linear("gate", h, 12, { bias: true }));
  const value = g.unary("value.tanh", "tanh", g.linear("value", h, 12, { bias: true }));
  const mixed = g.unary("leaky", "leaky_relu", g.mul("mixed", gate, value), 0.01);
  const out = g.linear("out", mixed, 5, { bias: true });
  const target = g.input("target", out.shape);
  g.mseLoss([{ output: out, target, trainWeight: 1, evalWeight: 1 }]);
  const graph = await compileGraph(await acquireGpu(), g, {
    optimizer: { kind: "adam", lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1.2e-6 },
    seed: 1,
    maxIterations: 16,
  });
  graph.write(x, Float32Array.from(golden.input));
  graph.write(target, Float32Array.from(golden.target));
  return graph;
}

const params = () =>
  new Map(Object.entries(golden.params).map(([k, v]) => [k, Float32Array.from(v)]));

Deno.test("linear, sigmoid, tanh, product, leaky ReLU and GAP train with Adam like PyTorch", async () => {
  const graph = await compiledMlp();
  try {
    assert.deepEqual(graph.params.map((p) => p.name).sort(), Object.keys(golden.params).sort());
    graph.importParams(params());
    graph.train(golden.losses.length);
    const { trainLosses } = await graph.evaluate();
    golden.losses.forEach((expected, i) => {
      const rel = Math.abs(trainLosses[i] - expected) / expected;
      assert(rel < 1e-4, `step ${i}: ${trainLosses[i]} vs PyTorch ${expected}`);
    });
    const final = await graph.exportParams();
    for (const [name, expected] of Object.entries(golden.final)) {
      const actual = final.get(name)!;
      const worst = Math.max(...expected.map((e, i) => Math.abs(actual[i] - e)));
      assert(worst < 1e-5, `${name} after 8 Adam steps: max error ${worst}`);
    }
  } finally {
    graph.destroy();
  }
});

Deno.test("gradients through linear, sigmoid, tanh, product and GAP match finite differences", async () => {
  const graph = await compiledMlp();
  try {
    const base = params();
    const lossAt = async (p: Map<string, Float32Array>) => {
      graph.reset();
      graph.importParams(p);
      graph.train(1);
      return (await graph.evaluate()).trainLosses[0];
    };
    await lossAt(base);
    const grads = await graph.exportGradients();
    // Smooth ops (leaky ReLU aside): ε = 1e-3; f32 rounding of the loss (~1) stays below 1e-4.
    const eps = 1e-3;
    for (const name of grads.keys()) {
      const rng = new Rng(name);
      const direction = Float32Array.from(base.get(name)!, () => rng.normal());
      const shifted = (sign: number) =>
        new Map(base).set(name, base.get(name)!.map((v, i) => v + sign * eps * direction[i]));
      const numeric = ((await lossAt(shifted(1))) - (await lossAt(shifted(-1)))) / (2 * eps);
      const analytic = grads.get(name)!.reduce((sum, g, i) => sum + g * direction[i], 0);
      assert(
        Math.abs(numeric - analytic) <= 0.02 * Math.abs(analytic) + 2e-4,
        `${name}: numeric ${numeric}, analytic ${analytic}`,
      );
    }
  } finally {
    graph.destroy();
  }
});
