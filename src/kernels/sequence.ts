/**
 * Sequence kernels of the recurrent networks (shaders/sequence.wgsl): ranged copies that split a
 * [L·B][D] tensor into time steps and stack them back, and counter-based dropout (LockedDropout
 * with PERIOD = B·D, WeightDrop with PERIOD = N).
 */
import template from "../../shaders/sequence.wgsl" with { type: "text" };
import { declareBindings } from "../gpu/bindings.ts";
import { grid1d, type Launch } from "../gpu/kernel.ts";
import { preprocess } from "../gpu/wgsl.ts";

const WG = 256;
const source = preprocess(template);
const COPY = declareBindings({ src: "read", dst: "read_write" });
const DROPOUT = declareBindings({ src: "read", dst: "read_write", step: "read" });

/** dst[dstOffset + i] (= or +=) src[srcOffset + i], i < n. */
export function copyRange<B>(
  n: number,
  src: B,
  dst: B,
  o: { srcOffset?: number; dstOffset?: number; accumulate?: boolean },
): Launch<B> {
  return {
    kernel: {
      name: "copy_range",
      source,
      entryPoint: "copy_range",
      constants: {
        N: n,
        SRC_OFFSET: o.srcOffset ?? 0,
        DST_OFFSET: o.dstOffset ?? 0,
        ACCUMULATE: o.accumulate ? 1 : 0,
      },
      layout: COPY,
    },
    bindings: COPY.bind({ src, dst }),
    workgroups: grid1d(n, WG),
  };
}

export interface DropoutOptions {
  /** Drop probability in [0, 1). */
  p: number;
  /** The mask repeats every `period` elements (n: no repeat). */
  period: number;
  /** 32-bit seed of the mask stream. */
  seed: number;
  accumulate?: boolean;
}

/** dst (= or +=) src · mask(step[0]) / (1 − p); the backward is the same launch on gradients. */
export function dropout<B>(
  n: number,
  io: { src: B; dst: B; step: B },
  o: DropoutOptions,
): Launch<B> {
  if (!(o.p >= 0 && o.p < 1)) throw new RangeError(`dropout: p must be in [0, 1), got ${o.p}`);
  if (!Number.isInteger(o.period) || o.period < 1 || n % o.period !== 0) {
    throw new RangeError(`dropout: period ${o.period} must divide n = ${n}`);
  }
  return {
    kernel: {
      name: "dropout",
      source,
      entryPoint: "dropout",
      constants: {
        N: n,
        PERIOD: o.period,
        P: o.p,
        SEED_LO: o.seed >>> 0,
        SEED_HI: 0,
        ACCUMULATE: o.accumulate ? 1 : 0,
      },
      layout: DROPOUT,
    },
    bindings: DROPOUT.bind(io),
    workgroups: grid1d(n, WG),
  };
}
