/**
 * Random task configs and their mutation, for the proxy-task search (GENNAS_SPEC §7.4–§7.5, value
 * ranges of §3.1, reference utils/config_generator.py).
 */
import type { Rng } from "../util/rng.ts";
import {
  type DotSignal,
  NOISE_TYPES,
  type NoiseConfig,
  type ResizeSignal,
  SIGNAL_KEYS,
  type SignalKey,
  type SinSignal,
  STAGE_KEYS,
  type StageFeatures,
  type TaskConfig,
} from "./schema.ts";

/** numpy arange(0.5, 3, 0.1), shown rounded to one decimal: 0.5, 0.6, …, 2.9. */
export const LEVELS: readonly number[] = Array.from({ length: 25 }, (_, k) => (5 + k) / 10);
/** 0.0, 0.1, …, 0.9. */
export const NOISE_LEVELS: readonly number[] = Array.from({ length: 10 }, (_, k) => k / 10);
/** × 64 gives C_s ∈ {16, 32, 48, 64, 80, 96}. */
export const CHANNEL_MULTIPLIERS: readonly number[] = [0.25, 0.5, 0.75, 1, 1.25, 1.5];
export const RANGE_LENGTH = 10;
export const MAX_RANGE_FREQUENCY = 0.5;
/** Each (stage, signal) is present with this probability. */
export const SIGNAL_PRESENT_PROBABILITY = 0.5;
export const GENERATOR_BATCH_SIZE = 16;
/** Probability of keeping each block in a mutation (reference --mutate_ratio). */
export const DEFAULT_KEEP = 0.8;
/** Denominator of the partial grid (every preset partial is a multiple of 1/64). */
export const PARTIAL_GRID_STEPS = 64;

export interface RandomTaskOptions {
  /**
   * Draw `partial` from {1/64, 2/64, …, 1} instead of U(0, 1) (spec Appendix A alternative). The
   * grid leaves out 0, which would give an empty dot map and a NaN dot_gaussian target.
   */
  partialGrid?: boolean;
}

export function randomNoise(rng: Rng): NoiseConfig {
  return { type: rng.choice(NOISE_TYPES), noise_level: rng.choice(NOISE_LEVELS) };
}

export function randomChannelMultiplier(rng: Rng): number {
  return rng.choice(CHANNEL_MULTIPLIERS);
}

/** 10 i.i.d. U(a, b) values, (a, b) the sorted pair of two U(0, 0.5) draws. */
export function randomRange(rng: Rng): number[] {
  const first = rng.range(0, MAX_RANGE_FREQUENCY);
  const second = rng.range(0, MAX_RANGE_FREQUENCY);
  const low = Math.min(first, second);
  const high = Math.max(first, second);
  return Array.from({ length: RANGE_LENGTH }, () => rng.range(low, high));
}

function randomPartial(rng: Rng, options: RandomTaskOptions): number {
  if (options.partialGrid) return (rng.int(PARTIAL_GRID_STEPS) + 1) / PARTIAL_GRID_STEPS;
  return rng.uniform();
}

function randomSin(rng: Rng): SinSignal {
  return { level: rng.choice(LEVELS), range: randomRange(rng), local: rng.bernoulli(0.5) };
}

function randomDot(rng: Rng, options: RandomTaskOptions): DotSignal {
  return {
    level: rng.choice(LEVELS),
    partial: randomPartial(rng, options),
    local: rng.bernoulli(0.5),
  };
}

function randomResize(rng: Rng): ResizeSignal {
  return { level: rng.choice(LEVELS) };
}

/** One (stage, signal) block: null with probability ½, otherwise fresh parameters. */
export function randomSignal(
  key: SignalKey,
  rng: Rng,
  options: RandomTaskOptions = {},
): SinSignal | DotSignal | ResizeSignal | null {
  if (!rng.bernoulli(SIGNAL_PRESENT_PROBABILITY)) return null;
  switch (key) {
    case "sin1d":
    case "sin2d":
      return randomSin(rng);
    case "dot":
    case "dot_gaussian":
      return randomDot(rng, options);
    case "resize":
      return randomResize(rng);
  }
}

export function setSignal(
  features: StageFeatures,
  key: SignalKey,
  value: SinSignal | DotSignal | ResizeSignal | null,
): void {
  (features as Record<SignalKey, unknown>)[key] = value;
}

/** A stage with every signal drawn by `draw` in SIGNAL_KEYS order (absent keys stay null). */
export function drawStage(
  draw: (key: SignalKey) => SinSignal | DotSignal | ResizeSignal | null,
  keys: readonly SignalKey[] = SIGNAL_KEYS,
): StageFeatures {
  const features: StageFeatures = {
    sin1d: null,
    sin2d: null,
    dot: null,
    dot_gaussian: null,
    resize: null,
  };
  for (const key of keys) setSignal(features, key, draw(key));
  return features;
}

function randomStage(rng: Rng, options: RandomTaskOptions): StageFeatures {
  return drawStage((key) => randomSignal(key, rng, options));
}

/** A fresh config as the reference generate_config draws it. */
export function randomTaskConfig(rng: Rng, options: RandomTaskOptions = {}): TaskConfig {
  return {
    batchsize: GENERATOR_BATCH_SIZE,
    noise: randomNoise(rng),
    last_channel_l0: randomChannelMultiplier(rng),
    last_channel_l1: randomChannelMultiplier(rng),
    last_channel_l2: randomChannelMultiplier(rng),
    feature: {
      "0": randomStage(rng, options),
      "1": randomStage(rng, options),
      "2": randomStage(rng, options),
    },
  };
}

const CHANNEL_KEYS = ["last_channel_l0", "last_channel_l1", "last_channel_l2"] as const;

/**
 * A copy of `cfg` in which each minimal block is regenerated from scratch with probability
 * 1 − keep: batchsize, the noise block (type and level together), each last_channel multiplier,
 * and each of the 3 × 5 (stage, signal) blocks. `train_weights` / `eval_weights` are kept.
 */
export function mutateTaskConfig(
  cfg: TaskConfig,
  rng: Rng,
  keep = DEFAULT_KEEP,
  options: RandomTaskOptions = {},
): TaskConfig {
  if (!(keep >= 0 && keep <= 1)) throw new RangeError(`keep must be in [0, 1], got ${keep}`);
  const child = structuredClone(cfg);
  const regenerate = () => rng.uniform() >= keep;
  if (regenerate()) child.batchsize = GENERATOR_BATCH_SIZE;
  if (regenerate()) child.noise = randomNoise(rng);
  for (const key of CHANNEL_KEYS) {
    if (regenerate()) child[key] = randomChannelMultiplier(rng);
  }
  for (const stage of STAGE_KEYS) {
    for (const key of SIGNAL_KEYS) {
      if (regenerate()) setSignal(child.feature[stage], key, randomSignal(key, rng, options));
    }
  }
  return child;
}
