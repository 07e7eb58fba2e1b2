/**
 * Whole-graph checks: the training loop against PyTorch (20 SGD steps from identical weights),
 * a finite-difference gradient check, and the no-sync property of the training loop.
 */
import assert from "node:assert/strict";
import golden from "../fixtures/golden/train.json" with { type: "json" };
import { acquireGpu } from "../src/gpu/device.ts";
import { GraphBuilder } from "../src/graph/builder.ts";
import { type CompiledGraph, compileGraph } from "../src/graph/compile.ts";
import type { Tensor } from "../src/graph/tensor.ts";
import { Rng } from "../src/util/rng.ts";

interface SmallNet {
  builder: GraphBuilder;
  input: Tensor;
  targets: Tensor[];
}

/** The net of scripts/golden_train.py, with the same parameter names. */
function smallNet(trainWeights: readonly number[], evalWeights: readonly number[]): SmallNet {
  const g = new GraphBuilder();
  const input = g.input("input", [4, 3, 8, 8]);
  const stem = g.conv2d("stem", input, { outChannels: 8, kernel: 3, pad: 1, bias: false });
  const tap0 = g.batchNorm("stem_bn", stem, { affine: true, relu: true, track: true });
  const pooled = g.maxPool("pool", tap0, { kernel: 2, stride: 2, pad: 0 });
  const conv2 = g.conv2d("conv2", pooled, { outChannels: 16, kernel: 3, pad: 1, bias: true });
  const act = g.batchNorm("bn2", conv2, { affine: true, relu: true, track: true });
  const tap1 = g.avgPool("avg", act, { kernel: 3, stride: 1, pad: 1, countIncludePad: false });
  const head = (name: string, x: Tensor, out: number) => {
    const small = g.subsample(`${name}.sub`, x, 4, 4);
    const bn = g.batchNorm(`${name}.bn`, small, { affine: true, track: true });
    return g.conv2d(`${name}.conv`, bn, { outChannels: out, kernel: 1, bias: true });
  };
  const outputs = [head("head0", tap0, 5), head("head1", tap1, 6)];
  const targets = [g.input("target0", outputs[0].shape), g.input("target1", outputs[1].shape)];
  g.mseLoss(outputs.map((output, i) => ({
    output,
    target: targets[i],
    trainWeight: trainWeights[i],
    evalWeight: evalWeights[i],
  })));
  return { builder: g, input, targets };
}

async function compiledSmallNet(): Promise<{ graph: CompiledGraph; net: SmallNet }> {
  const gpu = await acquireGpu();
  const net = smallNet(golden.train_weights, golden.eval_weights);
  const graph = await compileGraph(gpu, net.builder, {
    optimizer: { kind: "sgd", lr: 0.1, momentum: 0.9, weightDecay: 4e-5 },
    seed: 1,
    maxIterations: 32,
  });
  graph.write(net.input, Float32Array.from(golden.input));
  net.targets.forEach((t, i) => graph.write(t, Float32Array.from(golden.targets[i])));
  return { graph, net };
}

function goldenParams(): Map<string, Float32Array> {
  return new Map(Object.entries(golden.params).map(([k, v]) => [k, Float32Array.from(v)]));
}

Deno.test("20 SGD steps match PyTorch's loss trajectory within 1e-3 relative", async () => {
  const { graph } = await compiledSmallNet();
  try {
    const names = graph.params.map((p) => p.name).sort();
    assert.deepEqual(names, Object.keys(golden.params).sort());
    graph.importParams(goldenParams());
    graph.train(20);
    const { loss, trainLosses } = await graph.evaluate();
    golden.losses.forEach((expected, i) => {
      const rel = Math.abs(trainLosses[i] - expected) / Math.abs(expected);
      assert(rel < 1e-3, `step ${i}: loss ${trainLosses[i]} vs PyTorch ${expected} (rel ${rel})`);
    });
    const evalRel = Math.abs(loss - golden.eval_loss) / golden.eval_loss;
    assert(evalRel < 1e-3, `eval loss ${loss} vs PyTorch ${golden.eval_loss}`);
    const finalParams = await graph.exportParams();
    const state = await graph.exportState();
    for (const [name, expected] of Object.entries(golden.final)) {
      const actual = finalParams.get(name) ?? state.get(name);
      if (!actual) throw new Error(`missing ${name}`);
      const scale = Math.max(...expected.map(Math.abs), 1e-3);
      const worst = Math.max(...expected.map((e, i) => Math.abs(actual[i] - e)));
      assert(worst / scale < 2e-3, `${name} after training: max error ${worst} (scale ${scale})`);
    }
  } finally {
    graph.destroy();
  }
});

Deno.test("training makes no readback and one submit per iteration", async () => {
  const { graph } = await compiledSmallNet();
  try {
    const before = { ...graph.recorder };
    graph.train(7);
    assert.deepEqual(graph.recorder.readbacks, before.readbacks, "readbacks during training");
    assert.deepEqual(graph.recorder.submits - before.submits, 7, "submits for 7 iterations");
    graph.train(8, { perSubmit: 4 });
    assert.deepEqual(graph.recorder.submits - before.submits, 9, "4 iterations per submit");
    assert.deepEqual(graph.recorder.readbacks, before.readbacks);
    await graph.evaluate();
    assert.deepEqual(graph.recorder.readbacks, before.readbacks + 1, "one readback per evaluation");
  } finally {
    graph.destroy();
  }
});

Deno.test("parameter gradients agree with central finite differences", async () => {
  const { graph } = await compiledSmallNet();
  try {
    const base = goldenParams();
    const lossAt = async (params: Map<string, Float32Array>) => {
      graph.reset();
      graph.importParams(params);
      graph.train(1);
      return (await graph.evaluate()).trainLosses[0];
    };
    await lossAt(base);
    const grads = await graph.exportGradients();
    // Directional derivatives along random directions: over all parameters, then over each
    // parameter tensor alone. ε = 1e-4 keeps ReLU / max-pool kinks out of the difference (larger
    // steps cross them on these 8×8 maps); the loss is f32 (~2, ulp 2.4e-7), so the difference
    // carries ~2e-3 of rounding noise: tolerance 3 % + 3e-3.
    const eps = 1e-4;
    const check = async (label: string, only?: string) => {
      const rng = new Rng(7);
      const direction = new Map(
        [...base].map((
          [k, v],
        ) => [
          k,
          Float32Array.from(v, () => (only === undefined || only === k ? rng.normal() : 0)),
        ]),
      );
      const shifted = (sign: number) =>
        new Map(
          [...base].map(([k, v]) => [k, v.map((x, i) => x + sign * eps * direction.get(k)![i])]),
        );
      const numeric = ((await lossAt(shifted(1))) - (await lossAt(shifted(-1)))) / (2 * eps);
      let analytic = 0;
      for (const [k, g] of grads) g.forEach((v, i) => analytic += v * direction.get(k)![i]);
      assert(
        Math.abs(numeric - analytic) <= 0.03 * Math.abs(analytic) + 3e-3,
        `${label}: numeric ${numeric}, analytic ${analytic}`,
      );
    };
    await check("all parameters");
    for (const name of grads.keys()) await check(name, name);
  } finally {
    graph.destroy();
  }
});
