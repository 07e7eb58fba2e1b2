/**
 * Input noise (shaders/noise.wgsl): dst = clean + ε with ε from a counter-based generator
 * (Philox4x32-10) of (seed, step[0], element index), so every step draws fresh noise without any
 * state and a seed reproduces a run.
 */
import template from "../../shaders/noise.wgsl" with { type: "text" };
import { allowed } from "../util/errors.ts";
import { declareBindings } from "../gpu/bindings.ts";
import { grid1d, type Launch, type LaunchContext } from "../gpu/kernel.ts";
import { preprocess } from "../gpu/wgsl.ts";

const WG = 256;
const source = preprocess(template);
const BINDINGS = declareBindings({ clean: "read", dst: "read_write", step: "read" });

export const NOISE_KINDS = ["uniform", "gaussian"] as const;
export type NoiseKind = typeof NOISE_KINDS[number];

export interface NoiseOptions {
  /** uniform: ε ~ U(−level, level); gaussian: ε ~ level·N(0, 1). */
  kind: NoiseKind;
  /** 0 copies clean exactly. */
  level: number;
  /**
   * Integer in [0, 2^53). An override constant, so each distinct seed compiles its own pipeline:
   * keep one seed per task and let the step counter vary the noise.
   */
  seed: number;
}

function check(n: number, o: NoiseOptions): void {
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`addNoise: n must be a positive integer, got ${n}`);
  }
  if (!NOISE_KINDS.includes(o.kind)) {
    throw new RangeError(`addNoise: kind must be ${allowed(NOISE_KINDS)}, got "${o.kind}"`);
  }
  if (!Number.isFinite(o.level) || o.level < 0) {
    throw new RangeError(`addNoise: level must be a finite number ≥ 0, got ${o.level}`);
  }
  if (!Number.isSafeInteger(o.seed) || o.seed < 0) {
    throw new RangeError(`addNoise: seed must be an integer in [0, 2^53), got ${o.seed}`);
  }
}

/** dst[i] = clean[i] + ε(seed, step[0], i); `step` is the u32 step counter (read only). */
export function addNoise<B>(
  _ctx: LaunchContext<B>,
  n: number,
  io: { clean: B; dst: B; step: B },
  o: NoiseOptions,
): Launch<B>[] {
  check(n, o);
  return [{
    kernel: {
      name: `add_noise_${o.kind}`,
      source,
      entryPoint: "add_noise",
      constants: {
        N: n,
        KIND: NOISE_KINDS.indexOf(o.kind),
        LEVEL: o.level,
        SEED_LO: o.seed % 2 ** 32,
        SEED_HI: Math.floor(o.seed / 2 ** 32),
      },
      layout: BINDINGS,
    },
    bindings: BINDINGS.bind(io),
    workgroups: grid1d(n, WG),
  }];
}
