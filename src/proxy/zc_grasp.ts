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
 * (GraphBuilder `frozenPatterns`: x · [z(W) > 0]) and every max pool's switches (its argmax at
 * W). Autograd's double backward sees ReLU'' = 0 and fixed switches, i.e. exactly this frozen
 * Hessian; a plain finite difference instead sees every unit the
 * perturbation pushes across its kink, and on an NB-201 network at init those dominate at every
 * step (PyTorch, float64: ‖∇L(W + εg) − ∇L(W − εg)‖ ≈ 0.16‖g‖ already at ε‖g‖ = 1e-5‖W‖). With
 * the patterns frozen the network is smooth (conv, BN, pools, linear, cross-entropy), so the
 * error is O(ε²) truncation plus float32 rounding of the gradients ∝ 1/ε.
 *
 * Passes: one masked graph, compiled once, three lr-0 iterations (lr 0 leaves the weights as
 * imported, every backward overwrites the gradient buffer, and the running statistics BN updates
 * are never read in train mode). Iteration 1 (step counter 0) captures each ReLU's pattern and
 * each max pool's argmax on the GPU, so it is the plain network: g and W. Iterations 2 and 3,
 * after importParams, give ∇L(W ± εg) under the captured patterns.
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

type Classifier = { builder: GraphBuilder; input: Tensor; logits: Tensor };

/**
 * grasp of a classifier on (x, labels), weights drawn with `seed` (or `params`); `build` makes
 * the classifier with frozen ReLU patterns and max-pool switches (GraphBuilder `frozenPatterns`).
 */
export async function graspScore(
  gpu: Gpu,
  build: (o: { frozenPatterns: boolean }) => Classifier,
  x: Float32Array,
  labels: Float32Array,
  o: {
    seed: number;
    convBlocks?: ConvBlocks;
    params?: ReadonlyMap<string, Float32Array>;
    step?: number;
  },
): Promise<GraspResult> {
  const c = build({ frozenPatterns: true });
  const weights = layerWeights(c.builder);
  const labelInput = c.builder.input("labels", [c.logits.shape[0]]);
  c.builder.crossEntropyLoss(c.logits, labelInput);
  const optimizer = { kind: "sgd" as const, lr: 0, momentum: 0, weightDecay: 0 };
  const compiled = await compileGraph(gpu, c.builder, {
    optimizer,
    seed: o.seed,
    maxIterations: 3,
    convBlocks: o.convBlocks,
  });
  try {
    if (o.params) compiled.importParams(o.params);
    compiled.write(c.input, x);
    compiled.write(labelInput, labels);
    // Step 0 captures every ReLU pattern at W: a plain pass, g = ∇L(W).
    compiled.train(1);
    const [g, w] = [await compiled.exportGradients(), await compiled.exportParams()];
    const gradients = async (params: Map<string, Float32Array>) => {
      compiled.importParams(params);
      compiled.train(1);
      return await compiled.exportGradients();
    };
    const graph = compiled.stats;
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
    compiled.destroy();
  }
}
