/**
 * synflow (spec §9; Tanaka et al. 2020): the classification copy with batch norm disabled, every
 * weight replaced by its absolute value, an all-ones input [1, 3, 32, 32]; R = Σ logits,
 * score = Σ over conv/linear weights |W ⊙ ∂R/∂W|. Reported as log(synflow), as NASLib does.
 *
 * Overflow-safe in float32 by exact rescaling instead of float64: biases are set to 0 (the
 * official NB-201/NASLib networks have none), so the network is positively homogeneous of
 * degree 1 in its input; the input is 2^-s and the backward seed dR/dlogits is 2^-s, so every
 * gradient is 2^-2s times the unscaled one and log synflow = ln Σ + 2s·ln 2 exactly (powers of
 * two scale without rounding). With s = 40 activations and gradients stay below float32's
 * maximum for R up to ~1e50 and the summed terms above its minimum normal for R above ~1e-14.
 */
import type { ConvBlocks } from "../gpu/kernel.ts";
import type { Gpu } from "../gpu/device.ts";
import { GraphBuilder } from "../graph/builder.ts";
import type { GraphStats } from "../graph/compile.ts";
import { compileOnePass } from "./zc_gradients.ts";
import { Conv2dOp, LinearOp } from "../graph/ops.ts";
import type { Tensor } from "../graph/tensor.ts";
import type { NetworkSpace } from "../spaces/index.ts";

export const SYNFLOW_SCALE_LOG2 = 40;

/**
 * log synflow of a BN-disabled classifier graph (built with `new GraphBuilder({ batchNorm:
 * false })`, batch 1), from the weights drawn with `seed` or the given `params`.
 */
export async function logSynflow(
  gpu: Gpu,
  c: { builder: GraphBuilder; input: Tensor; logits: Tensor },
  o: { seed: number; convBlocks?: ConvBlocks; params?: ReadonlyMap<string, Float32Array> },
): Promise<{ value: number; graph: GraphStats }> {
  const layers = c.builder.ops.filter((op): op is Conv2dOp | LinearOp =>
    op instanceof Conv2dOp || op instanceof LinearOp
  );
  const seedTensor = c.builder.input("synflow.seed", c.logits.shape);
  c.builder.seedLoss(c.logits, seedTensor);
  const graph = await compileOnePass(gpu, c.builder, o.seed, o.convBlocks);
  try {
    if (o.params) graph.importParams(o.params);
    const params = await graph.exportParams();
    const biases = new Set(layers.map((op) => op.bias?.name).filter((n) => n !== undefined));
    const positive = new Map<string, Float32Array>();
    for (const [name, values] of params) {
      positive.set(name, biases.has(name) ? new Float32Array(values.length) : values.map(Math.abs));
    }
    graph.importParams(positive);
    const scale = 2 ** -SYNFLOW_SCALE_LOG2;
    graph.write(c.input, new Float32Array(c.input.size).fill(scale));
    graph.write(seedTensor, new Float32Array(seedTensor.size).fill(scale));
    graph.train(1);
    const grads = await graph.exportGradients();
    let sum = 0;
    for (const op of layers) {
      const w = positive.get(op.weight.name)!;
      const g = grads.get(op.weight.name);
      if (!g) continue; // not reached by the loss
      for (let i = 0; i < w.length; i++) sum += Math.abs(w[i] * g[i]);
    }
    return { value: Math.log(sum) + 2 * SYNFLOW_SCALE_LOG2 * Math.LN2, graph: graph.stats };
  } finally {
    graph.destroy();
  }
}

/**
 * log synflow of a sequence space's network (nbnlp: encoder, recurrent layers, decoder) as gennas
 * builds it for the GenNAS score, without dropout, at batch 1 over `length` steps of a
 * `dimension`-wide all-ones input: every parameter replaced by its absolute value (biases too, as
 * foresight does), R = Σ output, score = Σ over the weights (every parameter but biases) of
 * |W ⊙ ∂R/∂W|. Unscaled float32: sigmoid and tanh cells are not homogeneous, so the CNN version's
 * power-of-two rescaling does not apply, and they bound the activations.
 */
export async function logSequenceSynflow<A>(
  gpu: Gpu,
  space: NetworkSpace<A>,
  arch: A,
  o: {
    seed: number;
    length: number;
    dimension: number;
    params?: ReadonlyMap<string, Float32Array>;
  },
): Promise<{ value: number; graph: GraphStats }> {
  if (!space.buildSequence) throw new Error(`${space.name} is not a sequence space (internal)`);
  const g = new GraphBuilder();
  const input = g.input("input", [o.length, o.dimension]);
  const output = space.buildSequence(g, input, arch, {
    length: o.length,
    batch: 1,
    trainRecurrent: true,
    seed: 0,
    fuse: false,
    dropout: false,
  });
  const seedTensor = g.input("synflow.seed", output.shape);
  g.seedLoss(output, seedTensor);
  const graph = await compileOnePass(gpu, g, o.seed);
  try {
    if (o.params) graph.importParams(o.params);
    const params = await graph.exportParams();
    const positive = new Map([...params].map(([name, v]) => [name, v.map(Math.abs)]));
    graph.importParams(positive);
    graph.write(input, new Float32Array(input.size).fill(1));
    graph.write(seedTensor, new Float32Array(seedTensor.size).fill(1));
    graph.train(1);
    const grads = await graph.exportGradients();
    let sum = 0;
    for (const [name, w] of positive) {
      const grad = grads.get(name);
      if (!grad || name.endsWith(".bias")) continue;
      for (let i = 0; i < w.length; i++) sum += Math.abs(w[i] * grad[i]);
    }
    return { value: Math.log(sum), graph: graph.stats };
  } finally {
    graph.destroy();
  }
}
