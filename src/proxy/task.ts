/**
 * A prepared proxy task: the input batch and the three stage targets, built once per task from a
 * seed and shared by every architecture scored with it (spec §1–§2).
 */
import { drawBatch } from "../data/batch.ts";
import type { ImageSet } from "../data/images.ts";
import type { TaskConfig } from "../tasks/schema.ts";
import { stageChannels } from "../tasks/schema.ts";
import { buildTargets } from "../tasks/targets.ts";
import { Rng } from "../util/rng.ts";
import type { ProxySettings, StageWeights } from "./settings.ts";

export interface PreparedTask {
  readonly name: string;
  readonly config: TaskConfig;
  readonly images: string;
  readonly batch: number;
  /** Clean, normalised inputs [batch][3][32][32]. */
  readonly inputs: Float32Array;
  /** Stage targets [batch][C_s][8][8]. */
  readonly targets: readonly Float32Array[];
  readonly channels: readonly [number, number, number];
  readonly trainWeights: StageWeights;
  readonly evalWeights: StageWeights;
  readonly noise: { kind: "uniform" | "gaussian"; level: number };
  /** Sequence tasks (src/proxy/sequence.ts): inputs and targets[0] are [length·batch][dimension]. */
  readonly sequence?: { length: number; dimension: number };
}

export function prepareTask(
  name: string,
  config: TaskConfig,
  images: ImageSet,
  settings: ProxySettings,
): PreparedTask {
  const rng = new Rng(settings.seed).fork("task");
  const batch = drawBatch(images.images, settings.batch, rng.fork("batch"));
  const targets = buildTargets(config, batch.data, settings.batch, rng.fork("targets"));
  return {
    name,
    config,
    images: images.name,
    batch: settings.batch,
    inputs: batch.data,
    targets,
    channels: stageChannels(config),
    trainWeights: toWeights(config.train_weights) ?? settings.trainWeights,
    evalWeights: toWeights(config.eval_weights) ?? settings.evalWeights,
    noise: { kind: config.noise.type, level: config.noise.noise_level },
  };
}

function toWeights(w: readonly number[] | undefined | null): StageWeights | undefined {
  return w ? [w[0], w[1], w[2]] : undefined;
}
