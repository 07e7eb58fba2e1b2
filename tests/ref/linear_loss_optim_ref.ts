/**
 * Float64 CPU references for the linear, MSE loss, optimizer and noise kernels. Inputs are the
 * same float32 values the GPU sees; the arithmetic is double precision unless stated.
 */

import type { AdamOptions, SgdOptions } from "../../src/kernels/optim.ts";

export interface LinearDims {
  batch: number;
  inFeatures: number;
  outFeatures: number;
}

/** y = x·wᵀ + bias. */
export function linearForwardRef(
  s: LinearDims,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  bias?: ArrayLike<number>,
): Float64Array {
  const y = new Float64Array(s.batch * s.outFeatures);
  for (let n = 0; n < s.batch; n++) {
    for (let o = 0; o < s.outFeatures; o++) {
      let sum = bias ? bias[o] : 0;
      for (let i = 0; i < s.inFeatures; i++) {
        sum += x[n * s.inFeatures + i] * w[o * s.inFeatures + i];
      }
      y[n * s.outFeatures + o] = sum;
    }
  }
  return y;
}

/** dx = dy·w. */
export function linearBackwardDataRef(
  s: LinearDims,
  dy: ArrayLike<number>,
  w: ArrayLike<number>,
): Float64Array {
  const dx = new Float64Array(s.batch * s.inFeatures);
  for (let n = 0; n < s.batch; n++) {
    for (let o = 0; o < s.outFeatures; o++) {
      const g = dy[n * s.outFeatures + o];
      for (let i = 0; i < s.inFeatures; i++) {
        dx[n * s.inFeatures + i] += g * w[o * s.inFeatures + i];
      }
    }
  }
  return dx;
}

/** dw = dyᵀ·x and dbias = Σ_batch dy. */
export function linearBackwardWeightRef(
  s: LinearDims,
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
): { dw: Float64Array; dbias: Float64Array } {
  const dw = new Float64Array(s.outFeatures * s.inFeatures);
  const dbias = new Float64Array(s.outFeatures);
  for (let n = 0; n < s.batch; n++) {
    for (let o = 0; o < s.outFeatures; o++) {
      const g = dy[n * s.outFeatures + o];
      dbias[o] += g;
      for (let i = 0; i < s.inFeatures; i++) {
        dw[o * s.inFeatures + i] += g * x[n * s.inFeatures + i];
      }
    }
  }
  return { dw, dbias };
}

export interface MseStageRef {
  out: ArrayLike<number>;
  target: ArrayLike<number>;
  weight: number;
}

/** Σ_s weight_s·mean((out_s − target_s)²) and the gradient w.r.t. each out_s (null for weight 0). */
export function mseRef(stages: readonly MseStageRef[]): {
  loss: number;
  grads: (Float64Array | null)[];
} {
  let loss = 0;
  const grads = stages.map((s) => {
    if (s.weight === 0) return null;
    const n = s.out.length;
    const grad = new Float64Array(n);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const d = s.out[i] - s.target[i];
      sum += d * d;
      grad[i] = s.weight * 2 * d / n;
    }
    loss += s.weight * sum / n;
    return grad;
  });
  return { loss, grads };
}

/** One torch.optim.SGD step (dampening 0, no nesterov) in place; `buf` starts at zero. */
export function sgdRef(
  params: Float64Array,
  grads: ArrayLike<number>,
  buf: Float64Array,
  o: SgdOptions,
): void {
  for (let i = 0; i < params.length; i++) {
    const g = grads[i] + (i < o.decayCount ? o.weightDecay * params[i] : 0);
    buf[i] = o.momentum * buf[i] + g;
    params[i] -= o.lr * buf[i];
  }
}

/** One torch.optim.Adam step (no amsgrad, coupled L2) in place; `t` is the 1-based step. */
export function adamRef(
  params: Float64Array,
  grads: ArrayLike<number>,
  m: Float64Array,
  v: Float64Array,
  t: number,
  o: AdamOptions,
): void {
  const stepSize = o.lr / (1 - o.beta1 ** t);
  const correction2Sqrt = Math.sqrt(1 - o.beta2 ** t);
  for (let i = 0; i < params.length; i++) {
    const g = grads[i] + (i < o.decayCount ? o.weightDecay * params[i] : 0);
    m[i] = o.beta1 * m[i] + (1 - o.beta1) * g;
    v[i] = o.beta2 * v[i] + (1 - o.beta2) * g * g;
    params[i] -= stepSize * m[i] / (Math.sqrt(v[i]) / correction2Sqrt + o.eps);
  }
}

const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9;
const PHILOX_W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two u32 (exact: every partial stays below 2^53). */
function mulhi(a: number, b: number): number {
  const aHi = a >>> 16;
  const aLo = a & 0xffff;
  const cross = aHi * b + Math.floor((aLo * b) / 65536);
  return Math.floor(cross / 65536) >>> 0;
}

/** Philox4x32-10 (Salmon et al. 2011, Random123) of a 4-word counter under a 2-word key. */
export function philox4x32(
  counter: readonly [number, number, number, number],
  key: readonly [number, number],
): [number, number, number, number] {
  let [c0, c1, c2, c3] = counter.map((v) => v >>> 0);
  let [k0, k1] = key.map((v) => v >>> 0);
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + PHILOX_W0) >>> 0;
      k1 = (k1 + PHILOX_W1) >>> 0;
    }
    const hi0 = mulhi(PHILOX_M0, c0);
    const lo0 = Math.imul(PHILOX_M0, c0) >>> 0;
    const hi1 = mulhi(PHILOX_M1, c2);
    const lo1 = Math.imul(PHILOX_M1, c2) >>> 0;
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
  }
  return [c0, c1, c2, c3];
}

export type NoiseKind = "uniform" | "gaussian";

/** The noise the kernel adds to element i at a step: same counter layout as shaders/noise.wgsl. */
export function noiseRef(
  kind: NoiseKind,
  level: number,
  seed: number,
  step: number,
  i: number,
): number {
  const [r0, r1] = philox4x32([i, step, 0, 0], [seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0]);
  if (kind === "uniform") return level * (((r0 >>> 9) + 0.5) / 2 ** 22 - 1);
  const u1 = ((r0 >>> 8) + 1) / 2 ** 24;
  const u2 = (r1 >>> 8) / 2 ** 24;
  return level * Math.sqrt(-2 * Math.log(u1)) * Math.cos(Math.PI * (2 * u2 - 1));
}
