/**
 * NLP proxy tasks (spec §2.11, §3.2 CONF_NLP*): a synthetic input sequence I (layer "0") and
 * target F* (layer "1"), each [l][B][d] with l = 8 and d = `dimension`. Signals as for CNN tasks
 * on an l×d map (sin pools on the S×S square, S = max(l, d), cropped), one map per batch element;
 * no resize. The input gets fresh noise every step.
 */
import { z } from "../deps.ts";
import { allowed, InputError } from "../util/errors.ts";
import type { Rng } from "../util/rng.ts";
import { noiseSchema, type StageFeatures, stageFeaturesSchema } from "./schema.ts";
import { dotGaussianSignal, dotSignal, type MapGrid, sin1dSignal, sin2dSignal } from "./signals.ts";

/** Sequence length l (--length). */
export const NLP_LENGTH = 8;
export const NLP_LAYERS = ["0", "1"] as const;

const nlpSchema = z.strictObject({
  batchsize: z.number().int().min(1).default(16),
  noise: noiseSchema,
  dimension: z.number({ error: "must be an integer >= 1 (the generator uses 16…96)" })
    .int({ error: "must be an integer >= 1 (the generator uses 16…96)" })
    .min(1, { error: "must be an integer >= 1 (the generator uses 16…96)" }),
  feature: z.strictObject({ "0": stageFeaturesSchema, "1": stageFeaturesSchema }, {
    error: (issue) =>
      issue.code === "unrecognized_keys"
        ? `unknown key ${allowed(issue.keys)} (allowed keys: "0" (input), "1" (target))`
        : `must be an object {"0": input signals, "1": target signals}`,
  }),
}, {
  error: (issue) =>
    issue.code === "unrecognized_keys"
      ? `unknown key ${allowed(issue.keys)} (allowed keys: "batchsize", "noise", "dimension", ` +
        `"feature")`
      : "must be an NLP task config object",
});

export type NlpTaskConfig = z.output<typeof nlpSchema>;

/** Validates an NLP task config; InputError naming the field. */
export function parseNlpTaskConfig(json: unknown, source: string): NlpTaskConfig {
  const result = nlpSchema.safeParse(json);
  const problems = result.success ? [] : result.error.issues.map((issue) => {
    const path = issue.path.length > 0 ? issue.path.map(String).join(".") : "(top level)";
    return `${path}: ${issue.message}`;
  });
  if (result.success) {
    for (const layer of NLP_LAYERS) {
      if (result.data.feature[layer].resize) {
        problems.push(`feature.${layer}.resize: NLP tasks have no resize signal; use null`);
      }
    }
    if (problems.length === 0) return result.data;
  }
  throw new InputError(`invalid NLP task config in ${source}: ${problems.join("; ")}`);
}

const grid = (from: number, step: number) =>
  Array.from({ length: 10 }, (_, k) => Math.round((from + k * step) * 1e6) / 1e6);
/** Frequency grids of spec §3.2: M = 0.125…0.35, H = 0.375…0.4875. */
export const GRID_M: readonly number[] = grid(0.125, 0.025);
export const GRID_H: readonly number[] = grid(0.375, 0.0125);

const none = { sin1d: null, sin2d: null, dot: null, dot_gaussian: null, resize: null };
const sin = (range: readonly number[]) => ({ level: 1, range: [...range], local: true });
const both = (features: Partial<StageFeatures>) => {
  const layer = { ...none, ...features };
  return { "0": layer, "1": structuredClone(layer) };
};
const variant = (features: Partial<StageFeatures>) => ({
  batchsize: 64,
  noise: { type: "uniform", noise_level: 0 },
  dimension: 64,
  feature: both(features),
});

const RAW_NLP_PRESETS: Record<string, unknown> = {
  "nlp-search": {
    batchsize: 16,
    noise: { type: "uniform", noise_level: 0.6 },
    dimension: 48,
    feature: {
      "0": {
        ...none,
        sin2d: {
          level: 2.5999999999999996,
          range: [
            0.19548103160169628,
            0.2282158789801897,
            0.1842639908446425,
            0.20731949085325374,
            0.22082386741852128,
            0.1345443194045737,
            0.17034055075490867,
            0.22295752611900838,
            0.19031212316299922,
            0.19147574467301293,
          ],
          local: true,
        },
      },
      "1": {
        ...none,
        sin2d: {
          level: 0.7999999999999999,
          range: [
            0.17216149803882433,
            0.17012483744775037,
            0.168561304364928,
            0.16552930641090283,
            0.16468901024790167,
            0.1702319091210886,
            0.16422069490502256,
            0.1770741059514029,
            0.17124201034882974,
            0.17227888619876072,
          ],
          local: true,
        },
        dot_gaussian: { level: 0.7, partial: 0.8625968590962992, local: true },
      },
    },
  },
  "nlp-combo": variant({ sin1d: sin(GRID_M), sin2d: sin(GRID_M) }),
  "nlp-single": variant({ dot: { level: 1, partial: 1, local: true } }),
  "nlp-sin1d-m": variant({ sin1d: sin(GRID_M) }),
  "nlp-sin2d-m": variant({ sin2d: sin(GRID_M) }),
  "nlp-sin1d-h": variant({ sin1d: sin(GRID_H) }),
  "nlp-sin2d-h": variant({ sin2d: sin(GRID_H) }),
};

/** nlp-search = CONF_NLP (the paper's searched PTB task), nlp-combo, nlp-single and the four
 *  single-signal ablations CONF_NLP_SIN{1,2}D_{M,H}. */
export const NLP_PRESET_NAMES = Object.keys(RAW_NLP_PRESETS);
export const NLP_PRESETS: Readonly<Record<string, NlpTaskConfig>> = Object.fromEntries(
  NLP_PRESET_NAMES.map((n) => [n, parseNlpTaskConfig(RAW_NLP_PRESETS[n], `preset "${n}"`)]),
);

/** A preset name or an NLP task JSON file. */
export async function resolveNlpTask(
  nameOrPath: string,
): Promise<{ name: string; config: NlpTaskConfig }> {
  if (Object.hasOwn(NLP_PRESETS, nameOrPath)) {
    return { name: nameOrPath, config: structuredClone(NLP_PRESETS[nameOrPath]) };
  }
  let text: string;
  try {
    text = await Deno.readTextFile(nameOrPath);
  } catch {
    throw new InputError(
      `unknown NLP task "${nameOrPath}": expected a preset (${allowed(NLP_PRESET_NAMES)}) or ` +
        "the path of an NLP task JSON file",
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InputError(`task file "${nameOrPath}" is not valid JSON: ${(e as Error).message}`);
  }
  return { name: nameOrPath, config: parseNlpTaskConfig(json, nameOrPath) };
}

/** The l×d map grid; sin pools live on the S×S square, S = max(l, d). */
export function nlpGrid(dimension: number): MapGrid {
  return { height: NLP_LENGTH, width: dimension, poolSide: Math.max(NLP_LENGTH, dimension) };
}

/** One layer's signal sum, [B][l][d] → permuted to [l][B][d] (time-major rows). */
export function buildNlpLayer(
  features: StageFeatures,
  dimension: number,
  batch: number,
  rng: Rng,
): Float32Array {
  const g = nlpGrid(dimension);
  const map = NLP_LENGTH * dimension;
  const sum = new Float64Array(batch * map);
  const add = (level: number, values: Float64Array) => {
    for (let i = 0; i < sum.length; i++) sum[i] += level * values[i];
  };
  if (features.sin1d) {
    add(features.sin1d.level, sin1dSignal(features.sin1d, batch, 1, g, rng.fork("sin1d")));
  }
  if (features.sin2d) {
    add(features.sin2d.level, sin2dSignal(features.sin2d, batch, 1, g, rng.fork("sin2d")));
  }
  if (features.dot) add(features.dot.level, dotSignal(features.dot, batch, 1, g, rng.fork("dot")));
  if (features.dot_gaussian) {
    const p = features.dot_gaussian;
    add(p.level, dotGaussianSignal(p, batch, 1, g, rng.fork("dot_gaussian")));
  }
  const out = new Float32Array(sum.length);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < NLP_LENGTH; t++) {
      for (let j = 0; j < dimension; j++) {
        out[(t * batch + b) * dimension + j] = sum[b * map + t * dimension + j];
      }
    }
  }
  return out;
}

/** Input I (layer 0) and target F* (layer 1), each [l·B][d] time-major. */
export function buildNlpTask(
  cfg: NlpTaskConfig,
  batch: number,
  rng: Rng,
): { input: Float32Array; target: Float32Array } {
  return {
    input: buildNlpLayer(cfg.feature["0"], cfg.dimension, batch, rng.fork("layer0")),
    target: buildNlpLayer(cfg.feature["1"], cfg.dimension, batch, rng.fork("layer1")),
  };
}
