/**
 * grasp (spec §9, foresight/pruners/measures/grasp.py, T = 1, one iteration): g = ∂L/∂W over the
 * weights W of every conv and linear layer (softmax cross-entropy on the labelled batch, BN in
 * train mode); score = Σ −W ⊙ (H g), H the Hessian of L in those weights.
 *
 * WGSL has no double backward, so H g is a central finite difference of gradients along g:
 *   H g ≈ (∇L(W + εg) − ∇L(W − εg)) / (2ε),
 * only the conv/linear weights perturbed (biases and BN affine parameters unchanged), same batch,
 * BN in train mode (its batch statistics follow the perturbed weights, as autograd's second
 * derivative does). ε = GRASP_STEP · ‖W‖ / ‖g‖ (norms over all those weights): the perturbation is a
 * fixed fraction of the weights, whatever the gradient's scale. Its error: O(ε²) truncation, float32
 * rounding of the gradients ∝ 1/ε, and ReLU kinks crossed by the perturbation (where the exact
 * Hessian sees none); see README "Zero-cost proxies" for the measured size.
 *
 * One compiled graph serves the three passes (importParams, then one lr-0 iteration each): lr 0
 * leaves the weights as imported, the gradient buffers are overwritten by every backward, and the
 * running statistics BN updates are never read in train mode.
 */
import type { Gpu } from "../gpu/device.ts";
import type { GraphBuilder } from "../graph/builder.ts";
import { compileGraph, type GraphStats } from "../graph/compile.ts";
import type { Tensor } from "../graph/tensor.ts";
import { layerWeights } from "./zc_gradients.ts";

/** ‖εg‖ / ‖W‖, the perturbation's size relative to the weights. */
export const GRASP_STEP = 3e-4;

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

/** grasp of a classifier graph on (x, labels), weights drawn with `seed` (or `params`). */
export async function graspScore(
  gpu: Gpu,
  c: { builder: GraphBuilder; input: Tensor; logits: Tensor },
  x: Float32Array,
  labels: Float32Array,
  o: { seed: number; params?: ReadonlyMap<string, Float32Array>; step?: number },
): Promise<GraspResult> {
  const weights = layerWeights(c.builder);
  const labelTensor = c.builder.input("labels", [c.logits.shape[0]]);
  c.builder.crossEntropyLoss(c.logits, labelTensor);
  const graph = await compileGraph(gpu, c.builder, {
    optimizer: { kind: "sgd", lr: 0, momentum: 0, weightDecay: 0 },
    seed: o.seed,
    maxIterations: 3,
  });
  try {
    if (o.params) graph.importParams(o.params);
    graph.write(c.input, x);
    graph.write(labelTensor, labels);
    const gradients = async (params?: Map<string, Float32Array>) => {
      if (params) graph.importParams(params);
      graph.train(1);
      return await graph.exportGradients();
    };
    const g = await gradients();
    const w = await graph.exportParams();
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
      return { value, hg, absSum: Math.abs(value), epsilon: NaN, graph: graph.stats };
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
    return { value, hg, absSum, epsilon, graph: graph.stats };
  } finally {
    graph.destroy();
  }
}
