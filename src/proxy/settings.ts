/**
 * Settings of the GenNAS regression proxy, with the defaults of spec Appendix A: SGD lr 0.1,
 * momentum 0.9, coupled weight decay 4e-5 on conv/linear weights, 100 iterations on a batch of 16,
 * 16 init channels, train stage weights [1, 1, 1] and eval weights [0.25, 0.5, 1].
 */
import type { ConvBlocks } from "../gpu/kernel.ts";
import { allowed, InputError } from "../util/errors.ts";

export type StageWeights = readonly [number, number, number];

export interface ProxySettings {
  iterations: number;
  batch: number;
  initChannels: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  /** Used unless the task config carries train_weights. */
  trainWeights: StageWeights;
  /** Used unless the task config carries eval_weights. */
  evalWeights: StageWeights;
  /** Seeds the task (batch, targets) and, with each architecture, its init and noise. */
  seed: number;
  nb101Init: "pytorch" | "kaiming-fan-out";
  /** Training iterations encoded per GPU submit (0: pick by device class). */
  iterationsPerSubmit: number;
  /** nbnlp: train the raw recurrent weights WeightDrop freezes (spec §4.5 quirk off). */
  nlpTrainRecurrent?: boolean;
  /** nbnlp: run each cell step unfused, one launch per node and product (A/B benchmarks). */
  nlpUnfused?: boolean;
  /** NDS cell spaces: scale every architecture's width by this (0, 1] (cost control, off = 1). */
  widthScale?: number;
  /** Conv register blocks; absent: "large" (recorded only when "compact"). */
  convBlocks?: ConvBlocks;
}

export const DEFAULT_PROXY_SETTINGS: Readonly<ProxySettings> = Object.freeze({
  iterations: 100,
  batch: 16,
  initChannels: 16,
  lr: 0.1,
  momentum: 0.9,
  weightDecay: 4e-5,
  trainWeights: [1, 1, 1] as const,
  evalWeights: [0.25, 0.5, 1] as const,
  seed: 0,
  nb101Init: "pytorch",
  iterationsPerSubmit: 0,
});

function positiveInteger(value: number, flag: string): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new InputError(`${flag} must be a positive integer, got ${value}`);
  }
}

/** Checks user-supplied settings, naming the flag at fault. */
export function validateProxySettings(s: ProxySettings): ProxySettings {
  positiveInteger(s.iterations, "--iters");
  positiveInteger(s.batch, "--batch");
  positiveInteger(s.initChannels, "--init-channels");
  if (!(s.lr > 0)) throw new InputError(`--lr must be > 0, got ${s.lr}`);
  if (!(s.weightDecay >= 0)) {
    throw new InputError(`--weight-decay must be ≥ 0, got ${s.weightDecay}`);
  }
  if (s.widthScale !== undefined && !(s.widthScale > 0 && s.widthScale <= 1)) {
    throw new InputError(`--width-scale must be a number in (0, 1], got ${s.widthScale}`);
  }
  if (s.convBlocks !== undefined && s.convBlocks !== "large" && s.convBlocks !== "compact") {
    throw new InputError(
      `--conv-blocks "${s.convBlocks}" is not known; allowed: ${allowed(["large", "compact"])}`,
    );
  }
  if (!Number.isInteger(s.seed)) throw new InputError(`--seed must be an integer, got ${s.seed}`);
  if (s.nb101Init !== "pytorch" && s.nb101Init !== "kaiming-fan-out") {
    throw new InputError(
      `--nb101-init "${s.nb101Init}" is not known; allowed: ${
        allowed(["pytorch", "kaiming-fan-out"])
      }`,
    );
  }
  for (
    const [flag, weights] of [["--train-weights", s.trainWeights], [
      "--eval-weights",
      s.evalWeights,
    ]] as const
  ) {
    if (weights.length !== 3 || weights.some((w) => !(w >= 0))) {
      throw new InputError(`${flag} must be three non-negative numbers, e.g. 0.25,0.5,1`);
    }
  }
  // "large" is the default: dropped, so the settings (and journal hashes) match runs without it.
  if (s.convBlocks === "large") {
    const { convBlocks: _, ...rest } = s;
    return rest;
  }
  return s;
}

/** The non-default build settings a report shows: --width-scale and --conv-blocks compact. */
export function reportedSettings(
  s: ProxySettings,
): Pick<ProxySettings, "widthScale" | "convBlocks"> {
  return {
    ...(s.widthScale !== undefined ? { widthScale: s.widthScale } : {}),
    ...(s.convBlocks === "compact" ? { convBlocks: s.convBlocks } : {}),
  };
}
