/**
 * Zero-cost proxies (spec §9) of one architecture, computed on the GPU from its classification
 * copy (backbone + global average pool + 10-class linear). Each returns a score where higher
 * predicts higher accuracy.
 */
import type { Gpu } from "../gpu/device.ts";
import type { GraphStats } from "../graph/compile.ts";
import { drawBatch } from "../data/batch.ts";
import type { ImageSet } from "../data/images.ts";
import type { NetworkSpace } from "../spaces/index.ts";
import { InputError } from "../util/errors.ts";
import { Rng } from "../util/rng.ts";
import { buildClassifier, SEQUENCE_COST_DIMENSION } from "./cost.ts";
import type { ProxyName } from "./proxies.ts";
import { archSeed } from "./score.ts";
import type { ProxySettings } from "./settings.ts";
import { crossEntropyPass, gradientMeasures, layerWeights } from "./zc_gradients.ts";
import { logSequenceSynflow, logSynflow } from "./zc_synflow.ts";
import { NLP_LENGTH } from "../tasks/nlp.ts";
import { naswotScore } from "./zc_naswot.ts";
import { inputJacobian, jacobCovScore } from "./zc_jacob.ts";
import { fisherScore } from "./zc_fisher.ts";
import { graspScore } from "./zc_grasp.ts";

/** What a zero-cost proxy needs of a run (a ProxyBase satisfies it). */
export interface ZeroCostContext {
  gpu: Gpu;
  space: NetworkSpace<unknown>;
  images: ImageSet;
  settings: ProxySettings;
}

export interface ZeroCostResult {
  values: Partial<Record<ProxyName, number>>;
  seconds: Partial<Record<ProxyName, number>>;
  /** Stats of the last graph compiled, when any. */
  graph?: GraphStats;
}

/** One pass computes a group of proxies (e.g. grad_norm and snip share one backward). */
type Implementation = (
  ctx: ZeroCostContext,
  arch: unknown,
  names: readonly ProxyName[],
) => Promise<{ values: Partial<Record<ProxyName, number>>; graph?: GraphStats }>;

/**
 * Images per zero-cost pass (grad_norm, snip, grasp, fisher, jacob_cov): foresight's default
 * `--batch_size 64`, the protocol of the published zero-cost values (Abdelfattah et al. 2021),
 * fixed a priori, not tuned here. GenNAS's own batch (settings.batch, 16) is not used.
 */
export const ZERO_COST_BATCH = 64;

/**
 * The labelled batch of the zero-cost proxies (jacob_cov and naswot ask for no labels):
 * `batch` CIFAR-10 images drawn with the seed, normalised, not augmented. Memoised per image
 * set, seed and batch.
 */
export function labelledBatch(
  images: ImageSet,
  settings: Pick<ProxySettings, "seed" | "batch">,
  o: { labels?: boolean } = {},
): { x: Float32Array; labels: Float32Array } {
  const key = `${settings.seed}/${settings.batch}`;
  const cached = batches.get(images)?.get(key);
  if (cached) return cached;
  if (!images.labels && o.labels !== false) {
    throw new InputError(
      `--images: the gradient-based proxies need labelled images (a CIFAR-10 binary file, e.g. ` +
        `../shared/data/cifar10_test_first256.bin); ${images.name} has no labels`,
    );
  }
  const rng = new Rng(settings.seed).fork("zero-cost batch");
  const batch = drawBatch(images.images, settings.batch, rng, { pad: 0, flip: false });
  const labels = Float32Array.from(batch.indices, (i) => images.labels?.[i] ?? NaN);
  const made = { x: batch.data, labels };
  if (!batches.has(images)) batches.set(images, new Map());
  batches.get(images)!.set(key, made);
  return made;
}

const batches = new WeakMap<ImageSet, Map<string, { x: Float32Array; labels: Float32Array }>>();

/** What every zero-cost pass of `arch` is compiled with: its init seed and the conv blocks. */
function passOptions<A>(ctx: { settings: ProxySettings; space: NetworkSpace<A> }, arch: A) {
  const seed = archSeed(ctx.settings, ctx.space.name, ctx.space.format(arch));
  return { seed, convBlocks: ctx.settings.convBlocks };
}

/** The settings of a zero-cost pass: the run's, at the zero-cost batch. */
function zeroCostSettings(ctx: ZeroCostContext): ProxySettings {
  return { ...ctx.settings, batch: ZERO_COST_BATCH };
}

const gradientGroup: Implementation = async (ctx, arch) => {
  const settings = zeroCostSettings(ctx);
  const { x, labels } = labelledBatch(ctx.images, settings);
  const c = buildClassifier(ctx.space, arch, { ...settings, lastAct: true });
  const pass = await crossEntropyPass(ctx.gpu, c, x, labels, passOptions(ctx, arch));
  return { values: gradientMeasures(pass, layerWeights(c.builder)), graph: pass.graph };
};

const synflowGroup: Implementation = async (ctx, arch) => {
  if (ctx.space.proxy === "sequence") {
    const { value, graph } = await logSequenceSynflow(ctx.gpu, ctx.space, arch, {
      ...passOptions(ctx, arch),
      length: NLP_LENGTH,
      dimension: SEQUENCE_COST_DIMENSION,
    });
    return { values: { synflow: value }, graph };
  }
  const c = buildClassifier(ctx.space, arch, {
    ...ctx.settings,
    batch: 1,
    batchNorm: false,
    lastAct: true,
  });
  const { value, graph } = await logSynflow(ctx.gpu, c, passOptions(ctx, arch));
  return { values: { synflow: value }, graph };
};

const jacobGroup: Implementation = async (ctx, arch) => {
  const settings = zeroCostSettings(ctx);
  const { x } = labelledBatch(ctx.images, settings, { labels: false });
  const c = buildClassifier(ctx.space, arch, { ...settings, lastAct: true });
  const { jacobian, graph } = await inputJacobian(ctx.gpu, c, x, passOptions(ctx, arch));
  return { values: { jacob_cov: jacobCovScore(jacobian, settings.batch) }, graph };
};

/** naswot's batch, as the original (Mellor et al. 2021). */
export const NASWOT_BATCH = 128;

const naswotGroup: Implementation = async (ctx, arch) => {
  const settings = { ...ctx.settings, batch: NASWOT_BATCH };
  const { x } = labelledBatch(ctx.images, settings, { labels: false });
  const c = buildClassifier(ctx.space, arch, { ...settings, lastAct: true });
  const { value, graph } = await naswotScore(ctx.gpu, c, x, passOptions(ctx, arch));
  return { values: { naswot: value }, graph };
};

const fisherGroup: Implementation = async (ctx, arch) => {
  const settings = zeroCostSettings(ctx);
  const { x, labels } = labelledBatch(ctx.images, settings);
  const c = buildClassifier(ctx.space, arch, { ...settings, lastAct: true, layerOutputs: true });
  const { value, graph } = await fisherScore(ctx.gpu, c, x, labels, passOptions(ctx, arch));
  return { values: { fisher: value }, graph };
};

const graspGroup: Implementation = async (ctx, arch) => {
  const settings = zeroCostSettings(ctx);
  const { x, labels } = labelledBatch(ctx.images, settings);
  const build = (o: { frozenPatterns: boolean }) =>
    buildClassifier(ctx.space, arch, { ...settings, lastAct: true, ...o });
  const { value, graph } = await graspScore(ctx.gpu, build, x, labels, passOptions(ctx, arch));
  return { values: { grasp: value }, graph };
};

const GROUPS: { names: readonly ProxyName[]; run: Implementation }[] = [
  { names: ["grad_norm", "snip"], run: gradientGroup },
  { names: ["synflow"], run: synflowGroup },
  { names: ["jacob_cov"], run: jacobGroup },
  { names: ["naswot"], run: naswotGroup },
  { names: ["fisher"], run: fisherGroup },
  { names: ["grasp"], run: graspGroup },
];

/** Every zero-cost proxy that has an implementation here. */
export const IMPLEMENTED_ZERO_COST: readonly ProxyName[] = GROUPS.flatMap((g) => g.names);

/** The proxies each shared pass computes (grad_norm and snip: one backward). */
export const ZERO_COST_GROUPS: readonly (readonly ProxyName[])[] = GROUPS.map((g) => g.names);

/** The zero-cost proxies a sequence space (nbnlp) has: the data-free one. */
export const SEQUENCE_ZERO_COST: readonly ProxyName[] = ["synflow"];

/**
 * InputError unless every requested zero-cost proxy applies to the space: the label- and
 * image-based ones need a classification copy of a CNN; a sequence space has only synflow.
 */
export function checkZeroCostSupport(space: NetworkSpace<unknown>, names: readonly ProxyName[]) {
  if (space.proxy !== "sequence") return;
  const unsupported = names.filter((n) =>
    IMPLEMENTED_ZERO_COST.includes(n) && !SEQUENCE_ZERO_COST.includes(n)
  );
  if (unsupported.length > 0) {
    throw new InputError(
      `--proxies: ${unsupported.join(", ")} ${
        unsupported.length === 1 ? "needs" : "need"
      } labelled images and a classification copy of a ` +
        `CNN; for ${space.name} the proxies are gennas, params, flops, ${
          SEQUENCE_ZERO_COST.join(", ")
        } and ensemble`,
    );
  }
}

/** The requested zero-cost proxies; a group's seconds are its shared pass's, for each of them. */
export async function scoreZeroCost(
  ctx: ZeroCostContext,
  arch: unknown,
  names: readonly ProxyName[],
): Promise<ZeroCostResult> {
  const result: ZeroCostResult = { values: {}, seconds: {} };
  for (const group of GROUPS) {
    const wanted = group.names.filter((n) => names.includes(n));
    if (wanted.length === 0) continue;
    const started = performance.now();
    const { values, graph } = await group.run(ctx, arch, wanted);
    const seconds = (performance.now() - started) / 1000;
    for (const name of wanted) {
      result.values[name] = values[name];
      result.seconds[name] = seconds;
    }
    result.graph = graph ?? result.graph;
  }
  return result;
}
