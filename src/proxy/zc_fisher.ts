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
import type { ConvBlocks } from "../gpu/kernel.ts";
import type { Gpu } from "../gpu/device.ts";
import type { GraphBuilder } from "../graph/builder.ts";
import type { GraphStats } from "../graph/compile.ts";
import { withCrossEntropyPass } from "./zc_gradients.ts";
import { Conv2dOp, LinearOp } from "../graph/ops.ts";
import type { Tensor } from "../graph/tensor.ts";
import { PARAM_ALIGN } from "../graph/analysis.ts";
import { alignUp, BufferAllocator } from "../gpu/buffers.ts";
import { bindChecked } from "../gpu/recorder.ts";
import { rowDot } from "../kernels/row_dot.ts";

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
  const dots = new Float64Array(n * c);
  for (let r = 0; r < n * c; r++) {
    let s = 0;
    for (let j = 0; j < spatial; j++) s += a[r * spatial + j] * g[r * spatial + j];
    dots[r] = s;
  }
  return fisherFromDots(dots, n, c);
}

/** Δ_k from the per-sample, per-channel sums d[n·C + k] = Σ_s a·g. */
export function fisherFromDots(dots: ArrayLike<number>, n: number, c: number): Float64Array {
  const delta = new Float64Array(c);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < c; k++) delta[k] += dots[i * c + k] ** 2;
  }
  for (let k = 0; k < c; k++) delta[k] *= 0.5 / n;
  return delta;
}

/**
 * fisher of a classifier graph on (x, labels), weights drawn with `seed` (or `params`); also
 * each layer's Δ (by layer name) for tests. The sums Σ_s a·g are formed on the GPU (row_dot),
 * one submit after the pass, so only N·C floats per layer are read back.
 */
export function fisherScore(
  gpu: Gpu,
  c: { builder: GraphBuilder; input: Tensor; logits: Tensor },
  x: Float32Array,
  labels: Float32Array,
  o: { seed: number; convBlocks?: ConvBlocks; params?: ReadonlyMap<string, Float32Array> },
): Promise<{ value: number; channels: Map<string, Float64Array>; graph: GraphStats }> {
  const layers = fisherLayers(c.builder);
  for (const l of layers) {
    c.builder.observe(l.output);
    c.builder.observeGrad(l.output);
  }
  // Only activation gradients are read: no weight-gradient kernels.
  c.builder.freezeParams();
  return withCrossEntropyPass(gpu, c, x, labels, o, async (graph) => {
    const reached = layers.filter((l) => graph.computes(l.output) && graph.gradSlice(l.output));
    const offsets: number[] = [];
    let floats = 0;
    for (const l of reached) {
      offsets.push(floats);
      floats = alignUp(floats + l.output.n * l.output.c, PARAM_ALIGN);
    }
    const scratch = new BufferAllocator(gpu.device);
    try {
      const out = scratch.storage(Math.max(1, floats) * 4, "fisher.dots");
      const [dispatches] = await bindChecked(
        gpu,
        "fisher kernels",
        reached.map((l, i) => {
          const rows = l.output.n * l.output.c;
          return rowDot({ rows, length: l.output.size / rows }, {
            a: graph.valueSlice(l.output),
            b: graph.gradSlice(l.output)!,
            out: { buffer: out, offset: offsets[i] * 4, size: rows * 4 },
          });
        }),
      );
      graph.recorder.submit(dispatches);
      const [dots] = await graph.recorder.readback([{ buffer: out, offset: 0, size: out.size }]);
      const channels = new Map<string, Float64Array>();
      let value = 0;
      for (const l of layers) {
        const i = reached.indexOf(l);
        const rows = l.output.n * l.output.c;
        // A layer that cannot reach the loss adds 0.
        const delta = i < 0
          ? new Float64Array(l.output.c)
          : fisherFromDots(dots.subarray(offsets[i], offsets[i] + rows), l.output.n, l.output.c);
        channels.set(l.name, delta);
        for (const d of delta) value += Math.abs(d) * l.fanIn;
      }
      return { value, channels, graph: graph.stats };
    } finally {
      scratch.destroy();
    }
  });
}
