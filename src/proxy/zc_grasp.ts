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
 * Passes: one masked graph, compiled once, and three lr-0 steps (lr 0 leaves the weights as
 * imported, every backward overwrites the gradient buffer, and the running statistics BN updates
 * are never read in train mode). Step 0 is a forward only, at W: it captures each ReLU's pattern
 * and each max pool's argmax on the GPU. Steps 1 and 2, after importParams, give ∇L((1 ± δ)W)
 * under those patterns, and g is their mean, ∇L(W) + O(δ²), instead of a third gradient pass.
 * Against float64 double backward this is as close as the exact g was (relative to the score,
 * δ = 1e-2: tiny network 4.6e-6 against 5.7e-6, NB-201 3.3e-4 against 2.7e-4, NB-101 9.3e-3 both).
 * The patterns must be W's: captured at (1 + δ)W instead, NB-201's reduction shortcuts (a conv
 * with no BN after it) move ReLU inputs by O(δ), and the score moved by 18 %.
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
    const w = await compiled.exportParams();
    const step = o.step ?? GRASP_STEP;
    const gradients = async (factor: number) => {
      compiled.importParams(
        new Map(weights.map((name) => [name, w.get(name)!.map((v) => v * factor)])),
      );
      compiled.train(1);
      return await compiled.exportGradients();
    };
    // Step 0, a forward at W, captures every ReLU pattern and max-pool switch.
    compiled.forward({ advance: true });
    const gPlus = await gradients(1 + step);
    const gMinus = await gradients(1 - step);
    const graph = compiled.stats;
    const hw = new Map<string, Float64Array>();
    for (const name of weights) hw.set(name, new Float64Array(w.get(name)!.length));
    // A weight the loss does not reach has no gradient and adds 0.
    const reached = weights.filter((name) => gPlus.has(name));
    let value = 0;
    let absSum = 0;
    for (const name of reached) {
      const [p, m, out] = [gPlus.get(name)!, gMinus.get(name)!, hw.get(name)!];
      for (let i = 0; i < p.length; i++) {
        out[i] = (p[i] - m[i]) / (2 * step);
        const g = (p[i] + m[i]) / 2;
        value -= g * out[i];
        absSum += Math.abs(g * out[i]);
      }
    }
    return { value, hw, absSum, step, graph };
  } finally {
    compiled.destroy();
  }
}
