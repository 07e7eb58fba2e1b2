/**
 * The gradient-based zero-cost proxies (spec §9, foresight/pruners): one softmax cross-entropy
 * forward/backward of the classification copy on a labelled batch, BN in train mode, weights at
 * their initialisation. "Layers" are every conv and linear layer; biases and BN are not counted.
 * - grad_norm = Σ_l ‖∂L/∂W_l‖_F
 * - snip = Σ_l Σ |W_l ⊙ ∂L/∂W_l|
 */
import type { ConvBlocks } from "../gpu/kernel.ts";
import type { Gpu } from "../gpu/device.ts";
import type { GraphBuilder } from "../graph/builder.ts";
import { type CompiledGraph, compileGraph, type GraphStats } from "../graph/compile.ts";
import { Conv2dOp, LinearOp } from "../graph/ops.ts";
import type { Tensor } from "../graph/tensor.ts";

/** Names of the weights of every conv and linear layer of a graph. */
export function layerWeights(g: GraphBuilder): string[] {
  return g.ops.filter((op) => op instanceof Conv2dOp || op instanceof LinearOp)
    .map((op) => (op as Conv2dOp | LinearOp).weight.name);
}

/**
 * Compiles a zero-cost graph for one pass from the weights drawn with `seed`: SGD at lr 0, so the
 * step leaves the weights as drawn and the gradient buffer holds ∂L/∂W.
 */
export function compileOnePass(
  gpu: Gpu,
  builder: GraphBuilder,
  seed: number,
  convBlocks?: ConvBlocks,
): Promise<CompiledGraph> {
  return compileGraph(gpu, builder, {
    optimizer: { kind: "sgd", lr: 0, momentum: 0, weightDecay: 0 },
    seed,
    maxIterations: 1,
    convBlocks,
  });
}

export interface GradientPass {
  params: Map<string, Float32Array>;
  grads: Map<string, Float32Array>;
  /** The cross-entropy of the pass (train-mode BN); NaN unless asked for (`o.loss`). */
  loss: number;
  graph: GraphStats;
}

/**
 * Adds labels and a cross-entropy loss to a classifier graph, runs one forward/backward on
 * (x, labels) from the weights drawn with `seed` (or `params`), and returns what `read` takes
 * from the compiled graph before it is destroyed.
 */
export async function withCrossEntropyPass<T>(
  gpu: Gpu,
  c: { builder: GraphBuilder; input: Tensor; logits: Tensor },
  x: Float32Array,
  labels: Float32Array,
  o: { seed: number; convBlocks?: ConvBlocks; params?: ReadonlyMap<string, Float32Array> },
  read: (graph: CompiledGraph) => Promise<T>,
): Promise<T> {
  const labelTensor = c.builder.input("labels", [c.logits.shape[0]]);
  c.builder.crossEntropyLoss(c.logits, labelTensor);
  const graph = await compileOnePass(gpu, c.builder, o.seed, o.convBlocks);
  try {
    if (o.params) graph.importParams(o.params);
    graph.write(c.input, x);
    graph.write(labelTensor, labels);
    graph.train(1);
    return await read(graph);
  } finally {
    graph.destroy();
  }
}

/** One cross-entropy pass; reads back weights and gradients (and the loss when asked). */
export function crossEntropyPass(
  gpu: Gpu,
  c: { builder: GraphBuilder; input: Tensor; logits: Tensor },
  x: Float32Array,
  labels: Float32Array,
  o: {
    seed: number;
    convBlocks?: ConvBlocks;
    params?: ReadonlyMap<string, Float32Array>;
    loss?: boolean;
  },
): Promise<GradientPass> {
  return withCrossEntropyPass(gpu, c, x, labels, o, async (graph) => {
    // evaluate() costs an extra forward; only tests need the loss.
    const loss = o.loss ? (await graph.evaluate()).trainLosses[0] : NaN;
    const [params, grads] = [await graph.exportParams(), await graph.exportGradients()];
    return { params, grads, loss, graph: graph.stats };
  });
}

/** grad_norm and snip from one pass's weights and gradients (float64 sums). */
export function gradientMeasures(
  pass: Pick<GradientPass, "params" | "grads">,
  weights: readonly string[],
): { grad_norm: number; snip: number } {
  let gradNorm = 0;
  let snip = 0;
  for (const name of weights) {
    const w = pass.params.get(name);
    const g = pass.grads.get(name);
    if (!w || !g) continue; // a layer the loss does not reach has no gradient: it adds 0
    let squares = 0;
    for (let i = 0; i < g.length; i++) {
      squares += g[i] * g[i];
      snip += Math.abs(w[i] * g[i]);
    }
    gradNorm += Math.sqrt(squares);
  }
  return { grad_norm: gradNorm, snip };
}
