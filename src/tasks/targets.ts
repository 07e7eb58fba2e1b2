/**
 * Per-stage regression targets of a CNN task (GENNAS_SPEC §2.3): T_s = Σ level × signal over the
 * stage's signals, in the order sin1d, sin2d, resize, dot, dot_gaussian, each [B][C_s][8][8].
 */
import type { Rng } from "../util/rng.ts";
import {
  type SignalKey,
  STAGE_KEYS,
  stageChannels,
  type StageFeatures,
  type TaskConfig,
} from "./schema.ts";
import {
  CNN_GRID,
  dotGaussianSignal,
  dotSignal,
  type ImageBatch,
  type MapGrid,
  resizeSignal,
  sin1dSignal,
  sin2dSignal,
} from "./signals.ts";

/** Input images are [B][3][32][32]; targets are 8×8 (--input_size / --output_size). */
export const INPUT_SIZE = 32;
export const IMAGE_CHANNELS = 3;
export const TARGET_GRID: Readonly<MapGrid> = CNN_GRID;

/** The order in which signals are added to a stage target (reference _build_target). */
export const SIGNAL_ORDER: readonly SignalKey[] = [
  "sin1d",
  "sin2d",
  "resize",
  "dot",
  "dot_gaussian",
];

/** [B, C_s, 8, 8] for each stage. */
export function targetShapes(cfg: TaskConfig, batch: number): [number, number, number, number][] {
  return stageChannels(cfg).map((c) => [batch, c, TARGET_GRID.height, TARGET_GRID.width]);
}

/** One signal of one stage, or null when the stage does not use it. */
function stageSignal(
  features: StageFeatures,
  key: SignalKey,
  images: ImageBatch,
  channels: number,
  rng: Rng,
): { level: number; values: Float64Array } | null {
  const batch = images.batch;
  switch (key) {
    case "sin1d":
    case "sin2d": {
      const params = features[key];
      if (!params) return null;
      const generate = key === "sin1d" ? sin1dSignal : sin2dSignal;
      return { level: params.level, values: generate(params, batch, channels, TARGET_GRID, rng) };
    }
    case "dot":
    case "dot_gaussian": {
      const params = features[key];
      if (!params) return null;
      const generate = key === "dot" ? dotSignal : dotGaussianSignal;
      return { level: params.level, values: generate(params, batch, channels, TARGET_GRID, rng) };
    }
    case "resize": {
      const params = features.resize;
      if (!params) return null;
      return { level: params.level, values: resizeSignal(images, channels, TARGET_GRID, rng) };
    }
  }
}

/**
 * One stage's target in float64. Each signal draws from its own `rng.fork(key)`, so adding or
 * removing one signal leaves the others unchanged.
 */
export function buildStageTarget(
  features: StageFeatures,
  channels: number,
  images: ImageBatch,
  rng: Rng,
): Float64Array {
  const target = new Float64Array(images.batch * channels * TARGET_GRID.height * TARGET_GRID.width);
  for (const key of SIGNAL_ORDER) {
    const signal = stageSignal(features, key, images, channels, rng.fork(key));
    if (!signal) continue;
    for (let i = 0; i < target.length; i++) target[i] += signal.level * signal.values[i];
  }
  return target;
}

/**
 * The three stage targets [B][C_s][8][8] (float32), built from the clean normalised input batch
 * `cleanInputs` ([B][3][32][32], no noise). Stage s draws from `rng.fork("stage" + s)`.
 */
export function buildTargets(
  cfg: TaskConfig,
  cleanInputs: Float32Array,
  batch: number,
  rng: Rng,
): Float32Array[] {
  const images: ImageBatch = {
    data: cleanInputs,
    batch,
    channels: IMAGE_CHANNELS,
    height: INPUT_SIZE,
    width: INPUT_SIZE,
  };
  const expected = batch * IMAGE_CHANNELS * INPUT_SIZE * INPUT_SIZE;
  if (cleanInputs.length !== expected) {
    throw new RangeError(
      `buildTargets: cleanInputs has ${cleanInputs.length} values, expected ${expected} ` +
        `([${batch}][${IMAGE_CHANNELS}][${INPUT_SIZE}][${INPUT_SIZE}])`,
    );
  }
  const channels = stageChannels(cfg);
  return STAGE_KEYS.map((stage, s) =>
    Float32Array.from(
      buildStageTarget(cfg.feature[stage], channels[s], images, rng.fork(`stage${s}`)),
    )
  );
}
