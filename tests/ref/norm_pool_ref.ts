/**
 * Float64 CPU references for batch norm, pooling, nearest resampling and channel copies, written
 * straight from PyTorch's definitions (NCHW, contiguous).
 */
import type { BatchNormShape } from "../../src/kernels/batchnorm.ts";
import type { GlobalPoolShape, Pool2dShape } from "../../src/kernels/pool.ts";
import { poolOutputSize } from "../../src/kernels/pool.ts";
import type { ChannelCopyShape, SubsampleShape } from "../../src/kernels/layout.ts";

type Values = ArrayLike<number>;

// ---- batch norm ------------------------------------------------------------------------------

function channelIndices(s: BatchNormShape, c: number): number[] {
  const out: number[] = [];
  for (let n = 0; n < s.batch; n++) {
    const base = (n * s.channels + c) * s.spatial;
    for (let k = 0; k < s.spatial; k++) out.push(base + k);
  }
  return out;
}

export interface BatchStatistics {
  mean: number[];
  /** Biased (divide by N·H·W). */
  variance: number[];
}

export function batchStatistics(x: Values, s: BatchNormShape): BatchStatistics {
  const mean: number[] = [];
  const variance: number[] = [];
  const m = s.batch * s.spatial;
  for (let c = 0; c < s.channels; c++) {
    const idx = channelIndices(s, c);
    const mu = idx.reduce((acc, i) => acc + x[i], 0) / m;
    mean.push(mu);
    variance.push(idx.reduce((acc, i) => acc + (x[i] - mu) ** 2, 0) / m);
  }
  return { mean, variance };
}

export interface BatchNormRefOptions {
  mode: "train" | "eval";
  relu: boolean;
  eps?: number;
  momentum?: number;
  /** Absent: γ = 1, β = 0. */
  gamma?: Values;
  beta?: Values;
  runningMean?: Values;
  runningVar?: Values;
}

export interface BatchNormRefResult {
  y: number[];
  /** Batch statistics (train) — what the kernel saves for backward. */
  mean: number[];
  invstd: number[];
  /** Running statistics after the update (train with running stats given). */
  runningMean?: number[];
  runningVar?: number[];
}

export function batchNormForwardRef(
  x: Values,
  s: BatchNormShape,
  o: BatchNormRefOptions,
): BatchNormRefResult {
  const eps = o.eps ?? 1e-5;
  const momentum = o.momentum ?? 0.1;
  const m = s.batch * s.spatial;
  const stats = batchStatistics(x, s);
  const invstd = stats.variance.map((v) => 1 / Math.sqrt(v + eps));
  let centre = stats.mean;
  let scale = invstd;
  if (o.mode === "eval") {
    centre = Array.from(o.runningMean!);
    scale = Array.from(o.runningVar!, (v) => 1 / Math.sqrt(v + eps));
  }
  const y = new Array<number>(x.length);
  for (let c = 0; c < s.channels; c++) {
    const g = o.gamma ? o.gamma[c] : 1;
    const b = o.beta ? o.beta[c] : 0;
    for (const i of channelIndices(s, c)) {
      const z = g * (x[i] - centre[c]) * scale[c] + b;
      y[i] = o.relu ? Math.max(z, 0) : z;
    }
  }
  const result: BatchNormRefResult = { y, mean: stats.mean, invstd };
  if (o.mode === "train" && o.runningMean && o.runningVar) {
    const rm = o.runningMean;
    const rv = o.runningVar;
    result.runningMean = stats.mean.map((mu, c) => (1 - momentum) * rm[c] + momentum * mu);
    result.runningVar = stats.variance.map((v, c) =>
      (1 - momentum) * rv[c] + momentum * v * m / (m - 1)
    );
  }
  return result;
}

export interface BatchNormBackwardRef {
  dx: number[];
  dgamma: number[];
  dbeta: number[];
}

/**
 * Train-mode backward given the saved statistics: with x̂ = (x − mean)·invstd, z = γ·x̂ + β and
 * dy' = dy·[z > 0] (relu), dγ = Σdy'·x̂, dβ = Σdy', dx = γ·invstd·(dy' − dβ/M − x̂·dγ/M).
 */
export function batchNormBackwardRef(
  x: Values,
  dy: Values,
  s: BatchNormShape,
  saved: { mean: Values; invstd: Values },
  o: { relu: boolean; gamma?: Values; beta?: Values },
): BatchNormBackwardRef {
  const m = s.batch * s.spatial;
  const dx = new Array<number>(x.length);
  const dgamma: number[] = [];
  const dbeta: number[] = [];
  for (let c = 0; c < s.channels; c++) {
    const g = o.gamma ? o.gamma[c] : 1;
    const b = o.beta ? o.beta[c] : 0;
    const idx = channelIndices(s, c);
    const xhat = idx.map((i) => (x[i] - saved.mean[c]) * saved.invstd[c]);
    const grad = idx.map((i, k) => (o.relu && !(g * xhat[k] + b > 0) ? 0 : dy[i]));
    const sumGrad = grad.reduce((a, v) => a + v, 0);
    const sumGradXhat = grad.reduce((a, v, k) => a + v * xhat[k], 0);
    dgamma.push(sumGradXhat);
    dbeta.push(sumGrad);
    idx.forEach((i, k) => {
      dx[i] = g * saved.invstd[c] * (grad[k] - sumGrad / m - xhat[k] * sumGradXhat / m);
    });
  }
  return { dx, dgamma, dbeta };
}

// ---- pooling ---------------------------------------------------------------------------------

interface Window {
  rows: [number, number];
  cols: [number, number];
}

function poolWindow(s: Pool2dShape, oy: number, ox: number): Window {
  const top = oy * s.stride - s.pad;
  const left = ox * s.stride - s.pad;
  return {
    rows: [Math.max(top, 0), Math.min(top + s.kernel, s.inH)],
    cols: [Math.max(left, 0), Math.min(left + s.kernel, s.inW)],
  };
}

function forEachOutput(
  s: Pool2dShape,
  visit: (o: number, inBase: number, w: Window) => void,
): void {
  const { outH, outW } = poolOutputSize(s);
  for (let plane = 0; plane < s.batch * s.channels; plane++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        visit((plane * outH + oy) * outW + ox, plane * s.inH * s.inW, poolWindow(s, oy, ox));
      }
    }
  }
}

export function maxPoolForwardRef(x: Values, s: Pool2dShape): { y: number[]; argmax: number[] } {
  const y: number[] = [];
  const argmax: number[] = [];
  forEachOutput(s, (o, base, w) => {
    let best = -Infinity;
    let arg = w.rows[0] * s.inW + w.cols[0];
    for (let iy = w.rows[0]; iy < w.rows[1]; iy++) {
      for (let ix = w.cols[0]; ix < w.cols[1]; ix++) {
        const v = x[base + iy * s.inW + ix];
        if (v > best) {
          best = v;
          arg = iy * s.inW + ix;
        }
      }
    }
    y[o] = best;
    argmax[o] = arg;
  });
  return { y, argmax };
}

/** Scatter form (the definition); the kernel gathers. */
export function maxPoolBackwardRef(dy: Values, argmax: Values, s: Pool2dShape): number[] {
  const { outH, outW } = poolOutputSize(s);
  const dx = new Array<number>(s.batch * s.channels * s.inH * s.inW).fill(0);
  for (let o = 0; o < dy.length; o++) {
    const plane = Math.floor(o / (outH * outW));
    dx[plane * s.inH * s.inW + argmax[o]] += dy[o];
  }
  return dx;
}

function avgDivisor(s: Pool2dShape, w: Window, countIncludePad: boolean): number {
  if (countIncludePad) return s.kernel * s.kernel;
  return (w.rows[1] - w.rows[0]) * (w.cols[1] - w.cols[0]);
}

export function avgPoolForwardRef(x: Values, s: Pool2dShape, countIncludePad: boolean): number[] {
  const y: number[] = [];
  forEachOutput(s, (o, base, w) => {
    let sum = 0;
    for (let iy = w.rows[0]; iy < w.rows[1]; iy++) {
      for (let ix = w.cols[0]; ix < w.cols[1]; ix++) sum += x[base + iy * s.inW + ix];
    }
    y[o] = sum / avgDivisor(s, w, countIncludePad);
  });
  return y;
}

export function avgPoolBackwardRef(
  dy: Values,
  s: Pool2dShape,
  countIncludePad: boolean,
): number[] {
  const dx = new Array<number>(s.batch * s.channels * s.inH * s.inW).fill(0);
  forEachOutput(s, (o, base, w) => {
    const share = dy[o] / avgDivisor(s, w, countIncludePad);
    for (let iy = w.rows[0]; iy < w.rows[1]; iy++) {
      for (let ix = w.cols[0]; ix < w.cols[1]; ix++) dx[base + iy * s.inW + ix] += share;
    }
  });
  return dx;
}

export function globalAvgPoolForwardRef(x: Values, s: GlobalPoolShape): number[] {
  const y: number[] = [];
  for (let row = 0; row < s.batch * s.channels; row++) {
    let sum = 0;
    for (let k = 0; k < s.spatial; k++) sum += x[row * s.spatial + k];
    y.push(sum / s.spatial);
  }
  return y;
}

export function globalAvgPoolBackwardRef(dy: Values, s: GlobalPoolShape): number[] {
  return Array.from(
    { length: s.batch * s.channels * s.spatial },
    (_, i) => dy[Math.floor(i / s.spatial)] / s.spatial,
  );
}

// ---- layout ----------------------------------------------------------------------------------

/** PyTorch's nearest source index: min(floor(dst · f32(in/out)), in − 1), product in f32. */
export function nearestSourceIndex(dst: number, inSize: number, outSize: number): number {
  const scale = Math.fround(inSize / outSize);
  return Math.min(Math.floor(Math.fround(dst * scale)), inSize - 1);
}

export function nearestSubsampleForwardRef(x: Values, s: SubsampleShape): number[] {
  const y: number[] = [];
  for (let plane = 0; plane < s.batch * s.channels; plane++) {
    for (let oy = 0; oy < s.outH; oy++) {
      const sy = nearestSourceIndex(oy, s.inH, s.outH);
      for (let ox = 0; ox < s.outW; ox++) {
        const sx = nearestSourceIndex(ox, s.inW, s.outW);
        y.push(x[(plane * s.inH + sy) * s.inW + sx]);
      }
    }
  }
  return y;
}

export function nearestSubsampleBackwardRef(dy: Values, s: SubsampleShape): number[] {
  const dx = new Array<number>(s.batch * s.channels * s.inH * s.inW).fill(0);
  let o = 0;
  for (let plane = 0; plane < s.batch * s.channels; plane++) {
    for (let oy = 0; oy < s.outH; oy++) {
      const sy = nearestSourceIndex(oy, s.inH, s.outH);
      for (let ox = 0; ox < s.outW; ox++) {
        dx[(plane * s.inH + sy) * s.inW + nearestSourceIndex(ox, s.inW, s.outW)] += dy[o++];
      }
    }
  }
  return dx;
}

/** The new contents of dst (given its old contents). */
export function channelCopyRef(
  src: Values,
  dst: Values,
  s: ChannelCopyShape,
  o: { accumulate?: boolean; zeroRest?: boolean } = {},
): number[] {
  const out = o.zeroRest ? new Array<number>(dst.length).fill(0) : Array.from(dst);
  for (let n = 0; n < s.batch; n++) {
    for (let c = 0; c < s.count; c++) {
      const from = (n * s.srcChannels + s.srcOffset + c) * s.spatial;
      const to = (n * s.dstChannels + s.dstOffset + c) * s.spatial;
      for (let k = 0; k < s.spatial; k++) {
        out[to + k] = (o.accumulate ? out[to + k] : 0) + src[from + k];
      }
    }
  }
  return out;
}
