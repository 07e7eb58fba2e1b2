/**
 * 2-D convolution: forward, data gradient and weight gradient.
 *
 * x [N][Cin][H][W], y [N][Cout][outH][outW], bias [Cout], f32. Weights (and their gradient) are
 * in either of two layouts (`weightLayout`): "oihw", PyTorch's [Cout][Cin/groups][kh][kw] (the
 * default), or "ihwo", [Cin/groups][kh][kw][Cout], which the forward kernel reads directly and
 * which the graph keeps its conv weights in (`convertWeightLayout` converts on the host).
 *
 * Forward and data gradient share one direct, register-blocked kernel (shaders/conv2d_direct.wgsl):
 * each invocation accumulates OCB channels × a tile of outputs over a runtime loop on the reduced
 * channels (KB of them per iteration), with the kernel taps and the register block unrolled in a
 * generated entry point. The data gradient is the same kernel in gather form (dx from dy, one
 * register block per stride phase). The kernel reads the caller's weights in place when their
 * layout allows vec4 loads (or when that is cheaper than one more launch), else a copy transposed
 * into scratch by a small launch (shaders/conv2d_aux.wgsl), in which a block's weights are
 * contiguous vec4s. The weight gradient is split over N·outH·outW (shaders/conv2d_wgrad.wgsl)
 * and, when split, summed (weight and bias together) by one conv2d_aux.wgsl launch, which also
 * applies `accumulate`.
 *
 * `reluInput` fuses a ReLU on the input: the forward and the weight gradient read max(x, 0), and
 * the data gradient, given x, multiplies its result by [x > 0] before accumulating.
 *
 * Blocking is chosen per shape and per device class by a small cost model (`conv2dPlan`): on
 * lavapipe every storage load with a computed index is a per-lane scalar gather, far dearer than
 * an FMA, so the "cpu" plans maximise FMAs per load within a code-size cap (the JIT cost of an
 * unrolled block grows with it); "gpu" plans use small blocks and many invocations.
 */
export {
  conv2dBackwardData,
  conv2dBackwardWeight,
  conv2dForward,
  type Conv2dOptions,
} from "./launch.ts";
export { type Conv2dBlock, type Conv2dPass, type Conv2dPlan, conv2dPlan } from "./plan.ts";
export {
  conv2dFlops,
  conv2dOutputSize,
  type Conv2dParams,
  type Conv2dShape,
  conv2dShape,
  type PairArg,
} from "./shape.ts";
export type { WeightVector } from "./structure.ts";
export { convertWeightLayout, type WeightLayout, type WeightSource } from "./weights.ts";
