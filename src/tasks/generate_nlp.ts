/**
 * Random NLP task configs and their mutation, for the proxy-task search on `nbnlp` (spec §7.5 "the
 * NLP version": blocks batchsize, noise and dimension, and 2 layers × 4 signals; reference
 * utils/config_generator_nlp.py). As there, every signal is local (the coin flip is drawn and both
 * outcomes give true) and there is no resize signal.
 */
import type { Rng } from "../util/rng.ts";
import {
  DEFAULT_KEEP,
  drawStage,
  GENERATOR_BATCH_SIZE,
  randomNoise,
  randomSignal,
  type RandomTaskOptions,
  setSignal,
} from "./generate.ts";
import { NLP_LAYERS, type NlpTaskConfig } from "./nlp.ts";
import type { StageFeatures } from "./schema.ts";

/** The generator's dimension d (spec §3.1). */
export const NLP_DIMENSIONS: readonly number[] = [16, 32, 48, 64, 80, 96];
export const NLP_SIGNAL_KEYS = ["sin1d", "sin2d", "dot", "dot_gaussian"] as const;
type NlpSignalKey = typeof NLP_SIGNAL_KEYS[number];

function randomNlpSignal(key: NlpSignalKey, rng: Rng, options: RandomTaskOptions) {
  const signal = randomSignal(key, rng, options);
  return signal && "local" in signal ? { ...signal, local: true } : signal;
}

function randomLayer(rng: Rng, options: RandomTaskOptions): StageFeatures {
  return drawStage((key) => randomNlpSignal(key as NlpSignalKey, rng, options), NLP_SIGNAL_KEYS);
}

/** A fresh NLP config. */
export function randomNlpTaskConfig(rng: Rng, options: RandomTaskOptions = {}): NlpTaskConfig {
  return {
    batchsize: GENERATOR_BATCH_SIZE,
    noise: randomNoise(rng),
    dimension: rng.choice(NLP_DIMENSIONS),
    feature: { "0": randomLayer(rng, options), "1": randomLayer(rng, options) },
  };
}

/** A copy of `cfg` with each block regenerated with probability 1 − keep (spec §7.5). */
export function mutateNlpTaskConfig(
  cfg: NlpTaskConfig,
  rng: Rng,
  keep = DEFAULT_KEEP,
  options: RandomTaskOptions = {},
): NlpTaskConfig {
  if (!(keep >= 0 && keep <= 1)) throw new RangeError(`keep must be in [0, 1], got ${keep}`);
  const child = structuredClone(cfg);
  const regenerate = () => rng.uniform() >= keep;
  if (regenerate()) child.batchsize = GENERATOR_BATCH_SIZE;
  if (regenerate()) child.noise = randomNoise(rng);
  if (regenerate()) child.dimension = rng.choice(NLP_DIMENSIONS);
  for (const layer of NLP_LAYERS) {
    for (const key of NLP_SIGNAL_KEYS) {
      if (regenerate()) setSignal(child.feature[layer], key, randomNlpSignal(key, rng, options));
    }
  }
  return child;
}
