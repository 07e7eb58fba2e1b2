/**
 * grasp (spec §9, foresight/pruners/measures/grasp.py, T = 1, one iteration): g = ∂L/∂W over the
 * weights W of every conv and linear layer (softmax cross-entropy on the labelled batch, BN in
 * train mode); score = Σ −W ⊙ (H g), H the Hessian of L in those weights.
 *
 * WGSL has no double backward. H is symmetric, so Σ W ⊙ (H g) = Σ g ⊙ (H W), and H W — the
 * derivative of the gradient as every conv/linear weight is scaled — is a central finite
 * difference along W itself:
 *   H W ≈ (∇L((1 + δ)W) − ∇L((1 − δ)W)) / (2δ),
 * only those weights scaled (biases and BN affine parameters unchanged), same batch, BN in train
 * mode (its batch statistics follow the scaled weights, as autograd's second derivative does).
 * Along W rather than along g because a conv followed by a train-mode BN is (but for BN's eps)
 * scale-invariant, so H W ≈ −g on those layers and the terms g ⊙ H W ≈ −g² share one sign: on an
 * NB-101 classifier Σ |g ⊙ H W| is ≈ 2× |score|, while Σ |W ⊙ H g| is ≈ 2·10⁴× |score| and a
 * float32 difference along g lost the score in its cancellation.
 *
 * The perturbed gradients come from the network with every ReLU's pattern frozen at W
 * (GraphBuilder `frozenPatterns`: x · [z(W) > 0]) and every max pool's switches (its argmax at
 * W). Autograd's double backward sees ReLU'' = 0 and fixed switches, i.e. exactly this frozen
 * Hessian; a plain finite difference instead sees every unit the step pushes across its kink. With
 * the patterns frozen the network is smooth (conv, BN, pools, linear, cross-entropy), so the error
 * is O(δ²) truncation plus float32 rounding of the gradients ∝ 1/δ.
 *
 * Passes: one masked graph, compiled once, three lr-0 iterations (lr 0 leaves the weights as
 * imported, every backward overwrites the gradient buffer, and the running statistics BN updates
 * are never read in train mode). Iteration 1 (step counter 0) captures each ReLU's pattern and
 * each max pool's argmax on the GPU, so it is the plain network: g and W. Iterations 2 and 3,
 * after importParams, give ∇L((1 ± δ)W) under the captured patterns.
 */
import type { ConvBlocks } from "../gpu/kernel.ts";
import type { Gpu } from "../gpu/device.ts";
import type { GraphBuilder } from "../graph/builder.ts";
import { compileGraph, type GraphStats } from "../graph/compile.ts";
import type { Tensor } from "../graph/tensor.ts";
import { layerWeights } from "./zc_gradients.ts";

/** δ: the conv/linear weights are scaled by 1 ± δ for the finite difference. */
export const GRASP_STEP = 1e-2;

export interface GraspResult {
  value: number;
  /** The finite-difference H W by weight name (PyTorch layout), for tests. */
  hw: Map<string, Float64Array>;
  /** Σ |g ⊙ H W|: the scale the score's finite-difference error is relative to. */
  absSum: number;
  /** The relative step δ used (weights scaled by 1 ± δ). */
  step: number;
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
    // A weight the loss does not reach has no gradient: it is not scaled and adds 0.
    const reached = weights.filter((name) => g.has(name));
    const hw = new Map<string, Float64Array>();
    for (const name of weights) hw.set(name, new Float64Array(w.get(name)!.length));
    const step = o.step ?? GRASP_STEP;
    const scaled = (factor: number) =>
      new Map(reached.map((name) => [name, w.get(name)!.map((v) => v * factor)]));
    const gPlus = await gradients(scaled(1 + step));
    const gMinus = await gradients(scaled(1 - step));
    let value = 0;
    let absSum = 0;
    for (const name of reached) {
      const [gn, p, m, out] = [g.get(name)!, gPlus.get(name)!, gMinus.get(name)!, hw.get(name)!];
      for (let i = 0; i < gn.length; i++) {
        out[i] = (p[i] - m[i]) / (2 * step);
        value -= gn[i] * out[i];
        absSum += Math.abs(gn[i] * out[i]);
      }
    }
    return { value, hw, absSum, step, graph };
  } finally {
    compiled.destroy();
  }
}
