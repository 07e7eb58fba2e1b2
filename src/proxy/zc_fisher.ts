/**
 * fisher (spec §9, foresight/pruners/measures/fisher.py): one softmax cross-entropy
 * forward/backward of the classification copy, BN in train mode, weights at initialisation. For
 * every conv and linear layer l take its output a (bias included, before BN) and g = ∂L/∂a; per
 * output channel k, Δ_k = ½ · mean over the batch of (Σ_spatial a_k · g_k)²; the metric |Δ_k| is
 * broadcast to the prod(W_l.shape[1:]) weights of channel k, so
 * score = Σ_l Σ_k |Δ_k| · prod(W_l.shape[1:]).
 * The classifier must be built with `layerOutputs: true` so that no layer writes into a sum (its
 * output would then be the sum, not a). A layer the loss does not reach adds 0, as in foresight.
 */
import type { Gpu } from "../gpu/device.ts";
import type { GraphBuilder } from "../graph/builder.ts";
import type { GraphStats } from "../graph/compile.ts";
import { withCrossEntropyPass } from "./zc_gradients.ts";
import { Conv2dOp, LinearOp } from "../graph/ops.ts";
import type { Tensor } from "../graph/tensor.ts";

/** Bytes of activations (and as many of gradients) per readback. */
const READ_CHUNK_BYTES = 32 * 1024 * 1024;

interface FisherLayer {
  name: string;
  output: Tensor;
  /** prod(W.shape[1:]): the weights each output channel's Δ_k is broadcast to. */
  fanIn: number;
}

/** Every conv and linear layer of a graph, with its own output tensor. */
export function fisherLayers(g: GraphBuilder): FisherLayer[] {
  const layers: FisherLayer[] = [];
  for (const op of g.ops) {
    if (!(op instanceof Conv2dOp || op instanceof LinearOp)) continue;
    if (op.accumulate) {
      throw new Error(`fisher: ${op.name} adds into a sum; build with layerOutputs: true`);
    }
    layers.push({ name: op.name, output: op.y, fanIn: op.weight.size / op.weight.shape[0] });
  }
  return layers;
}

/** Δ_k = ½ · mean_n (Σ_s a[n,k,s] · g[n,k,s])² of one [N, C, ...] output, in float64. */
export function fisherChannels(a: Float32Array, g: Float32Array, n: number, c: number) {
  const spatial = a.length / (n * c);
  const delta = new Float64Array(c);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < c; k++) {
      const base = (i * c + k) * spatial;
      let s = 0;
      for (let j = 0; j < spatial; j++) s += a[base + j] * g[base + j];
      delta[k] += s * s;
    }
  }
  for (let k = 0; k < c; k++) delta[k] *= 0.5 / n;
  return delta;
}

/**
 * fisher of a classifier graph on (x, labels), weights drawn with `seed` (or `params`); also
 * each layer's Δ (by layer name) for tests.
 */
export async function fisherScore(
  gpu: Gpu,
  c: { builder: GraphBuilder; input: Tensor; logits: Tensor },
  x: Float32Array,
  labels: Float32Array,
  o: { seed: number; params?: ReadonlyMap<string, Float32Array> },
): Promise<{ value: number; channels: Map<string, Float64Array>; graph: GraphStats }> {
  const layers = fisherLayers(c.builder);
  for (const l of layers) {
    c.builder.observe(l.output);
    c.builder.observeGrad(l.output);
  }
  return withCrossEntropyPass(gpu, c, x, labels, o, async (graph) => {
    const channels = new Map<string, Float64Array>();
    let value = 0;
    const add = (l: FisherLayer, a: Float32Array, g: Float32Array) => {
      const delta = fisherChannels(a, g, l.output.n, l.output.c);
      channels.set(l.name, delta);
      for (const d of delta) value += Math.abs(d) * l.fanIn;
    };
    let chunk: FisherLayer[] = [];
    let bytes = 0;
    const flush = async () => {
      const outputs = chunk.map((l) => l.output);
      const [as, gs] = [
        await graph.exportValues(outputs),
        await graph.exportGradientValues(outputs),
      ];
      chunk.forEach((l, i) => add(l, as[i], gs[i]));
      chunk = [];
      bytes = 0;
    };
    for (const l of layers) {
      if (!graph.computes(l.output)) {
        channels.set(l.name, new Float64Array(l.output.c)); // cannot reach the loss: adds 0
        continue;
      }
      chunk.push(l);
      bytes += l.output.size * 4;
      if (bytes >= READ_CHUNK_BYTES) await flush();
    }
    if (chunk.length > 0) await flush();
    return { value, channels, graph: graph.stats };
  });
}
