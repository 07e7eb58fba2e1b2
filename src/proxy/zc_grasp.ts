/**
 * grasp (spec §9, foresight/pruners/measures/grasp.py, T = 1, one iteration): g = ∂L/∂W over the
 * weights W of every conv and linear layer (softmax cross-entropy on the labelled batch, BN in
 * train mode); score = Σ −W ⊙ (H g), H the Hessian of L in those weights.
 *
 * WGSL has no double backward, so H g is a central finite difference of gradients along g:
 *   H g ≈ (∇L(W + εg) − ∇L(W − εg)) / (2ε),
 * only the conv/linear weights perturbed (biases and BN affine parameters unchanged), same batch,
 * BN in train mode (its batch statistics follow the perturbed weights, as autograd's second
 * derivative does). ε = GRASP_STEP · ‖W‖ / ‖g‖ (norms over all those weights): the perturbation
 * is a fixed fraction of the weights, whatever the gradient's scale.
 *
 * The two perturbed gradients come from the network with every ReLU's pattern frozen at W
 * (GraphBuilder `reluMasks`: x · [z(W) > 0]). Autograd's double backward sees ReLU'' = 0, i.e.
 * exactly this frozen-pattern Hessian; a plain finite difference instead sees every unit the
 * perturbation pushes across its kink, and on an NB-201 network at init those dominate at every
 * step (PyTorch, float64: ‖∇L(W + εg) − ∇L(W − εg)‖ ≈ 0.16‖g‖ already at ε‖g‖ = 1e-5‖W‖). With
 * the pattern frozen the network is smooth (conv, BN, pools, linear, cross-entropy), so the
 * error is O(ε²) truncation plus float32 rounding of the gradients ∝ 1/ε.
 *
 * Passes: the plain graph gives g, W and each ReLU input z (pass 1); the masked graph, compiled
 * once, gives ∇L(W ± εg) (importParams, then one lr-0 iteration each: lr 0 leaves the weights as
 * imported, every backward overwrites the gradient buffer, and the running statistics BN updates
 * are never read in train mode).
 */
import type { ConvBlocks } from "../gpu/kernel.ts";
import type { Gpu } from "../gpu/device.ts";
import type { GraphBuilder } from "../graph/builder.ts";
import { compileGraph, type GraphStats } from "../graph/compile.ts";
import type { Tensor } from "../graph/tensor.ts";
import { layerWeights } from "./zc_gradients.ts";

/** ‖εg‖ / ‖W‖, the perturbation's size relative to the weights. */
export const GRASP_STEP = 1e-5;

export interface GraspResult {
  value: number;
  /** The finite-difference H g by weight name (PyTorch layout), for tests. */
  hg: Map<string, Float64Array>;
  /** Σ |W ⊙ H g|: the scale the score's finite-difference error is relative to. */
  absSum: number;
  /** The step ε used. */
  epsilon: number;
  graph: GraphStats;
}

/** Bytes of ReLU inputs per readback. */
const READ_CHUNK_BYTES = 32 * 1024 * 1024;

type Classifier = { builder: GraphBuilder; input: Tensor; logits: Tensor };

function compileCrossEntropy(
  gpu: Gpu,
  c: Classifier,
  seed: number,
  iterations: number,
  convBlocks?: ConvBlocks,
) {
  const labels = c.builder.input("labels", [c.logits.shape[0]]);
  c.builder.crossEntropyLoss(c.logits, labels);
  const optimizer = { kind: "sgd" as const, lr: 0, momentum: 0, weightDecay: 0 };
  return compileGraph(gpu, c.builder, { optimizer, seed, maxIterations: iterations, convBlocks })
    .then((graph) => ({ graph, labels }));
}

/**
 * grasp of a classifier on (x, labels), weights drawn with `seed` (or `params`); `build` makes
 * the classifier, plain or with frozen ReLU masks (GraphBuilder option `reluMasks`).
 */
export async function graspScore(
  gpu: Gpu,
  build: (o: { reluMasks: boolean }) => Classifier,
  x: Float32Array,
  labels: Float32Array,
  o: {
    seed: number;
    convBlocks?: ConvBlocks;
    params?: ReadonlyMap<string, Float32Array>;
    step?: number;
  },
): Promise<GraspResult> {
  const plain = build({ reluMasks: false });
  const masked = build({ reluMasks: true });
  const weights = layerWeights(plain.builder);
  const byName = new Map(plain.builder.tensors.map((t) => [t.name, t]));
  const sources = [...masked.builder.reluMasks].map(([name, mask]) => {
    const source = byName.get(name);
    if (!source || source.kind === "param" || source.kind === "state") {
      throw new Error(`grasp: the ReLU input ${name} has no tensor of its own in the plain build`);
    }
    return { source, mask };
  });
  for (const { source } of sources) if (source.kind === "activation") plain.builder.observe(source);
  const b = await compileCrossEntropy(gpu, masked, o.seed, 2, o.convBlocks);
  try {
    const a = await compileCrossEntropy(gpu, plain, o.seed, 1, o.convBlocks);
    let g: Map<string, Float32Array>;
    let w: Map<string, Float32Array>;
    try {
      if (o.params) a.graph.importParams(o.params);
      a.graph.write(plain.input, x);
      a.graph.write(a.labels, labels);
      a.graph.train(1);
      [g, w] = [await a.graph.exportGradients(), await a.graph.exportParams()];
      // The masks: each ReLU input of pass 1 itself (the kernel tests m > 0), in chunks.
      let chunk: typeof sources = [];
      let bytes = 0;
      const flush = async () => {
        const values = await a.graph.exportValues(chunk.map((s) => s.source));
        chunk.forEach((s, i) => b.graph.write(s.mask, values[i]));
        [chunk, bytes] = [[], 0];
      };
      for (const s of sources) {
        if (s.source.kind === "activation" && a.graph.computes(s.source)) {
          chunk.push(s);
          bytes += s.source.size * 4;
          if (bytes >= READ_CHUNK_BYTES) await flush();
        } else {
          // The network input, or an always-zero tensor (or one the loss never reads).
          b.graph.write(s.mask, s.source === plain.input ? x : new Float32Array(s.source.size));
        }
      }
      if (chunk.length > 0) await flush();
    } finally {
      a.graph.destroy();
    }
    b.graph.importParams(w); // biases and BN parameters as in pass 1
    b.graph.write(masked.input, x);
    b.graph.write(b.labels, labels);
    const gradients = async (params: Map<string, Float32Array>) => {
      b.graph.importParams(params);
      b.graph.train(1);
      return await b.graph.exportGradients();
    };
    const graph = b.graph.stats;
    // A weight the loss does not reach has no gradient: it is not perturbed and adds 0.
    const reached = weights.filter((name) => g.has(name));
    let wSquares = 0;
    let gSquares = 0;
    for (const name of reached) {
      for (const v of w.get(name)!) wSquares += v * v;
      for (const v of g.get(name)!) gSquares += v * v;
    }
    const hg = new Map<string, Float64Array>();
    for (const name of weights) hg.set(name, new Float64Array(w.get(name)!.length));
    if (!(gSquares > 0) || !Number.isFinite(gSquares)) {
      const value = gSquares === 0 ? 0 : NaN;
      return { value, hg, absSum: Math.abs(value), epsilon: NaN, graph };
    }
    const epsilon = (o.step ?? GRASP_STEP) * Math.sqrt(wSquares / gSquares);
    const shifted = (sign: number) =>
      new Map(reached.map((name) => {
        const [wn, gn] = [w.get(name)!, g.get(name)!];
        return [name, Float32Array.from(wn, (v, i) => v + sign * epsilon * gn[i])];
      }));
    const gPlus = await gradients(shifted(1));
    const gMinus = await gradients(shifted(-1));
    let value = 0;
    let absSum = 0;
    for (const name of reached) {
      const [wn, p, m, out] = [w.get(name)!, gPlus.get(name)!, gMinus.get(name)!, hg.get(name)!];
      for (let i = 0; i < wn.length; i++) {
        out[i] = (p[i] - m[i]) / (2 * epsilon);
        value -= wn[i] * out[i];
        absSum += Math.abs(wn[i] * out[i]);
      }
    }
    return { value, hg, absSum, epsilon, graph };
  } finally {
    b.graph.destroy();
  }
}
