/**
 * CNN proxy-task config (GENNAS_SPEC §3.1): noise, per-stage channel multipliers and, per stage,
 * which synthetic signals make up the regression target. Parsing is strict: unknown keys and
 * out-of-range values are rejected with an InputError naming the field path and the allowed values.
 */
import { z } from "../deps.ts";
import { allowed, InputError } from "../util/errors.ts";
import { MAPS_PER_GROUP, RESIZE_PERMUTATION } from "./signals.ts";

/** `last_channels` of the reference CLI: C_s = floor(last_channel_l{s} × 64). */
export const LAST_CHANNELS = 64;
export const STAGE_KEYS = ["0", "1", "2"] as const;
export const SIGNAL_KEYS = ["sin1d", "sin2d", "dot", "dot_gaussian", "resize"] as const;
export const NOISE_TYPES = ["gaussian", "uniform"] as const;
/** Frequencies are in cycles per output pixel; 0.5 is Nyquist. */
export const MAX_FREQUENCY = 0.5;

export type StageKey = typeof STAGE_KEYS[number];
export type SignalKey = typeof SIGNAL_KEYS[number];
export type NoiseType = typeof NOISE_TYPES[number];

function show(value: unknown): string {
  if (value === undefined) return "nothing (the key is missing)";
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function mustBe(description: string) {
  return (issue: { input?: unknown }) => `must be ${description}, got ${show(issue.input)}`;
}

function numberWhere(description: string, ok: (value: number) => boolean = () => true) {
  const error = mustBe(description);
  return z.number({ error }).refine(ok, { error });
}

function strictObject<Shape extends z.ZodRawShape>(shape: Shape, description: string) {
  const keys = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === "unrecognized_keys"
        ? `unknown key ${allowed(issue.keys)} (allowed keys: ${allowed(keys)})`
        : mustBe(description)(issue),
  });
}

/** Null, or a missing key read as null (the reference skips absent signals). */
function nullable<T extends z.ZodType>(schema: T) {
  return schema.nullish().transform((value) => value ?? null);
}

const levelSchema = numberWhere("a number >= 0", (v) => v >= 0);
const localSchema = z.boolean({ error: mustBe("true or false") });

const rangeSchema = z.array(
  numberWhere(`a frequency in [0, ${MAX_FREQUENCY}]`, (v) => v >= 0 && v <= MAX_FREQUENCY),
  { error: mustBe(`a non-empty list of frequencies in [0, ${MAX_FREQUENCY}]`) },
).min(1, { error: mustBe(`a non-empty list of frequencies in [0, ${MAX_FREQUENCY}]`) });

const sinSignalSchema = strictObject(
  { level: levelSchema, range: rangeSchema, local: localSchema },
  "null or an object {level, range, local}",
);

const dotSignalSchema = strictObject(
  {
    level: levelSchema,
    partial: numberWhere("a number in [0, 1]", (v) => v >= 0 && v <= 1),
    local: localSchema,
  },
  "null or an object {level, partial, local}",
);

const resizeSignalSchema = strictObject({ level: levelSchema }, "null or an object {level}");

export const stageFeaturesSchema = strictObject(
  {
    sin1d: nullable(sinSignalSchema),
    sin2d: nullable(sinSignalSchema),
    dot: nullable(dotSignalSchema),
    dot_gaussian: nullable(dotSignalSchema),
    resize: nullable(resizeSignalSchema),
  },
  `an object with keys ${allowed(SIGNAL_KEYS)} (each null or a signal)`,
);

const featureSchema = strictObject(
  { "0": stageFeaturesSchema, "1": stageFeaturesSchema, "2": stageFeaturesSchema },
  `an object with one entry per stage, keys ${allowed(STAGE_KEYS)}`,
);

const channelMultiplierSchema = numberWhere(
  `a number >= 1/${LAST_CHANNELS} (C_s = floor(value × ${LAST_CHANNELS}) must be >= 1; ` +
    "the generator uses 0.25, 0.5, 0.75, 1, 1.25 or 1.5)",
  (v) => Math.floor(v * LAST_CHANNELS) >= 1,
);

const weight = numberWhere("a number >= 0", (v) => v >= 0);
const stageWeightsSchema = z.tuple([weight, weight, weight], {
  error: mustBe("a list of 3 numbers >= 0 [w0, w1, w2]"),
});

export const noiseSchema = strictObject(
  {
    type: z.enum(NOISE_TYPES, { error: mustBe(allowed(NOISE_TYPES)) }),
    noise_level: numberWhere("a number >= 0", (v) => v >= 0),
  },
  "an object {type, noise_level}",
);

const baseTaskSchema = strictObject(
  {
    batchsize: z.number({ error: mustBe("an integer >= 1") })
      .refine((v) => Number.isInteger(v) && v >= 1, { error: mustBe("an integer >= 1") })
      .default(16),
    noise: noiseSchema,
    last_channel_l0: channelMultiplierSchema,
    last_channel_l1: channelMultiplierSchema,
    last_channel_l2: channelMultiplierSchema,
    feature: featureSchema,
    train_weights: stageWeightsSchema.optional(),
    eval_weights: stageWeightsSchema.optional(),
  },
  "a task config object",
);

export const taskConfigSchema = baseTaskSchema.superRefine((cfg, ctx) => {
  const channels = stageChannels(cfg);
  STAGE_KEYS.forEach((stage, s) => {
    const features = cfg.feature[stage];
    const c = channels[s];
    const need = `stage ${s} has C_${s} = ${c} channels`;
    const poolCheck = (key: "sin1d" | "sin2d", pool: number, formula: string) => {
      if (pool >= c) return;
      ctx.addIssue({
        code: "custom",
        path: ["feature", stage, key, "range"],
        message: `${formula} = ${pool} maps, fewer than needed (${need}); ` +
          "add frequencies or lower last_channel_l" + s,
      });
    };
    const sin1d = features.sin1d;
    if (sin1d) {
      const n = sin1d.range.length;
      poolCheck("sin1d", MAPS_PER_GROUP * n, `gives a pool of 64·${n}`);
    }
    const sin2d = features.sin2d;
    if (sin2d) {
      const n = sin2d.range.length;
      poolCheck("sin2d", MAPS_PER_GROUP * n * n, `gives a pool of 64·${n}²`);
    }
    if (features.resize && c > RESIZE_PERMUTATION) {
      ctx.addIssue({
        code: "custom",
        path: ["feature", stage, "resize"],
        message: `needs at most ${RESIZE_PERMUTATION} channels (${need})`,
      });
    }
  });
});

export type TaskConfig = z.output<typeof taskConfigSchema>;
export type StageFeatures = z.output<typeof stageFeaturesSchema>;
export type SinSignal = z.output<typeof sinSignalSchema>;
export type DotSignal = z.output<typeof dotSignalSchema>;
export type ResizeSignal = z.output<typeof resizeSignalSchema>;
export type NoiseConfig = z.output<typeof noiseSchema>;
export type StageWeights = [number, number, number];

/** C_s = floor(last_channel_l{s} × 64) for the three stages. */
export function stageChannels(
  cfg: Pick<TaskConfig, "last_channel_l0" | "last_channel_l1" | "last_channel_l2">,
): [number, number, number] {
  return [cfg.last_channel_l0, cfg.last_channel_l1, cfg.last_channel_l2].map((m) =>
    Math.floor(m * LAST_CHANNELS)
  ) as [number, number, number];
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.length > 0 ? issue.path.map(String).join(".") : "(top level)";
  return `${path}: ${issue.message}`;
}

/**
 * Validates a parsed JSON value as a CNN task config. Missing signal keys read as null and a
 * missing `batchsize` as 16 (it is overridden by the batch size anyway). `source` (a file name or
 * preset name) prefixes the error message.
 */
export function parseTaskConfig(json: unknown, source: string): TaskConfig {
  const result = taskConfigSchema.safeParse(json);
  if (result.success) return result.data;
  const problems = result.error.issues.map(formatIssue);
  throw new InputError(`invalid task config in ${source}: ${problems.join("; ")}`);
}
