/** Weight layouts: their strides as the kernels see them, and conversion on the host. */
import type { Conv2dShape } from "./shape.ts";

/**
 * "oihw": PyTorch's [Cout][Cin/groups][kh][kw]. "ihwo": [Cin/groups][kh][kw][Cout] (output
 * channels innermost, groups side by side along Cout), what the forward kernel reads.
 */
export type WeightLayout = "oihw" | "ihwo";

/**
 * Where a direct pass reads its weights: in place from a storage binding ("direct"), from a
 * transposed copy in scratch ("scratch", one more launch), or in place from a uniform binding
 * ("uniform": ungrouped convs whose weights are at most 64 KiB, a multiple of 4 floats; the kernel's weight indices
 * are the same for every lane, and lavapipe loads a uniform buffer at such an index once per
 * SIMD row instead of lane by lane).
 */
export type WeightSource = "direct" | "scratch" | "uniform";

/** Largest uniform binding every WebGPU device allows (maxUniformBufferBindingSize default). */
export const MAX_UNIFORM_BYTES = 65536;

/** Whether a direct pass of `s` can read its weights as a uniform binding. */
export function uniformWeightsFit(s: Conv2dShape): boolean {
  if (s.groups !== 1) return false;
  const count = s.outChannels * (s.inChannels / s.groups) * s.kernelH * s.kernelW;
  return count % 4 === 0 && count * 4 <= MAX_UNIFORM_BYTES;
}

/**
 * Strides (in floats) of a weight layout seen from a direct pass: weight (g, c, tap, ch) with
 * c the reduced (loop) channel and ch the dst channel, both local to group g.
 */
export interface WeightStrides {
  group: number;
  loop: number;
  tap: number;
  channel: number;
}

export function layoutStrides(
  s: Conv2dShape,
  pass: "forward" | "data",
  layout: WeightLayout,
): WeightStrides {
  const cin = s.inChannels / s.groups;
  const cout = s.outChannels / s.groups;
  const kk = s.kernelH * s.kernelW;
  if (layout === "oihw") {
    const group = cout * cin * kk;
    return pass === "forward"
      ? { group, loop: kk, tap: 1, channel: cin * kk }
      : { group, loop: cin * kk, tap: 1, channel: kk };
  }
  const cAll = s.outChannels;
  return pass === "forward"
    ? { group: cout, loop: kk * cAll, tap: cAll, channel: 1 }
    : { group: cout, loop: 1, tap: cAll, channel: kk * cAll };
}

/** dw strides (co global, ci local to its group, tap) of a layout. */
export function gradientStrides(s: Conv2dShape, layout: WeightLayout) {
  const cin = s.inChannels / s.groups;
  const kk = s.kernelH * s.kernelW;
  return layout === "oihw"
    ? { co: cin * kk, ci: kk, tap: 1 }
    : { co: 1, ci: kk * s.outChannels, tap: s.outChannels };
}

/** Weights of shape `s` converted between layouts on the host (a new array). */
export function convertWeightLayout(
  w: Float32Array,
  s: Conv2dShape,
  from: WeightLayout,
  to: WeightLayout,
): Float32Array {
  const cin = s.inChannels / s.groups;
  const kk = s.kernelH * s.kernelW;
  const size = s.outChannels * cin * kk;
  if (w.length !== size) {
    throw new RangeError(`convertWeightLayout: expected ${size} weights, got ${w.length}`);
  }
  if (from === to) return w.slice();
  const src = gradientStrides(s, from);
  const dst = gradientStrides(s, to);
  const out = new Float32Array(size);
  for (let co = 0; co < s.outChannels; co++) {
    for (let ci = 0; ci < cin; ci++) {
      for (let tap = 0; tap < kk; tap++) {
        out[co * dst.co + ci * dst.ci + tap * dst.tap] =
          w[co * src.co + ci * src.ci + tap * src.tap];
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Planning
