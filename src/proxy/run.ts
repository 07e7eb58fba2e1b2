/**
 * The library API behind `gennas score` and `gennas rank`: load a task, images and ground truth,
 * score architectures, journal each result as it lands, resume, and compute ranking metrics.
 */
import { resolve } from "node:path";
import { acquireGpu, type Gpu } from "../gpu/device.ts";
import type { ConvBlocks } from "../gpu/kernel.ts";
import { type ImageSet, loadImageSet } from "../data/images.ts";
import { median, type RankingMetrics } from "../eval/metrics.ts";
import { accuraciesFor, loadTruth, type TruthTable } from "../eval/truth.ts";
import {
  checkShardOutputs,
  inShard,
  resolveShard,
  type Shard,
  shardJournalPath,
  shardPositions,
  type ShardRunRecord,
  shardRunRecord,
  shardSettings,
} from "../shard/shard.ts";
import { getSpace, type NetworkSpace, SPACE_NAMES } from "../spaces/index.ts";
import { resolveNlpTask } from "../tasks/nlp.ts";
import { resolveTask } from "../tasks/presets.ts";
import { allowed, InputError } from "../util/errors.ts";
import { besideJournal, openRunJournal } from "../util/journal.ts";
import { Rng } from "../util/rng.ts";
import { type ProxyMetrics, type RankedArch, rankOutcome, type RankRecord } from "./ranking.ts";
import { isZeroCost, parseProxies, type ProxyName } from "./proxies.ts";
import { checkZeroCostSupport, scoreZeroCost, type ZeroCostResult } from "./zero_cost.ts";
import { acquireScorer, validateWorkerOptions, type WorkerOptions } from "./workers.ts";
import { archCost } from "./cost.ts";
import { checkBudget, validateMaxFlops, withinBudget } from "./budget.ts";
import {
  DEFAULT_PROXY_SETTINGS,
  type ProxySettings,
  reportedSettings,
  validateProxySettings,
} from "./settings.ts";
import { scoreArch, type ScoreResult } from "./score.ts";
import { prepareSequenceTask } from "./sequence.ts";
import { type PreparedTask, prepareTask } from "./task.ts";
import type { NlpTaskConfig } from "../tasks/nlp.ts";
import type { TaskConfig } from "../tasks/schema.ts";

export interface ProxyOptions {
  space: string;
  /** A preset name (combo, search-N, search-D, search-R, single) or a task JSON file. */
  task?: string;
  /** CIFAR-10 binary file or a folder of PNGs; built-in procedural images when absent. */
  images?: string;
  /** Overrides of the proxy defaults (seed, iterations, batch, init channels, …). */
  settings?: Partial<ProxySettings>;
  /** Compute budget, M MACs per image (src/proxy/budget.ts); none when absent. */
  maxFlops?: number;
}

export interface ProxyBase {
  gpu: Gpu;
  space: NetworkSpace<unknown>;
  images: ImageSet;
  settings: ProxySettings;
}

export interface ProxyContext extends ProxyBase {
  task: PreparedTask;
}

/** A ProxyContext without its GPU: what a run that scores in workers needs on the main thread,
 *  where a device would go unused (measured: ≈ 8 MiB less peak RSS with two workers). */
export type ProxyPlan = Omit<ProxyContext, "gpu">;

export const DEFAULT_TASK = "combo";

/** Resolves space, images and settings (validating all of them), then acquires the GPU. */
export async function prepareBase(o: Omit<ProxyOptions, "task">): Promise<ProxyBase> {
  const base = await resolveBase(o);
  return { ...base, gpu: await acquireGpu() };
}

/** prepareBase without acquiring the GPU. */
export async function resolveBase(
  o: Omit<ProxyOptions, "task">,
): Promise<Omit<ProxyBase, "gpu">> {
  const space = getSpace(o.space);
  const initChannels = o.settings?.initChannels ?? space.defaultInitChannels ??
    DEFAULT_PROXY_SETTINGS.initChannels;
  const given = Object.fromEntries(
    Object.entries(o.settings ?? {}).filter(([, v]) => v !== undefined),
  );
  const optimizer = space.optimizer
    ? { lr: space.optimizer.lr, weightDecay: space.optimizer.weightDecay }
    : {};
  const settings = validateProxySettings({
    ...DEFAULT_PROXY_SETTINGS,
    ...optimizer,
    ...given,
    initChannels,
  });
  if (settings.widthScale !== undefined && !space.widthScalable) {
    const scalable = SPACE_NAMES.filter((name) => getSpace(name).widthScalable);
    throw new InputError(
      `--width-scale applies to the NDS cell and AnyNet spaces only (${allowed(scalable)}); for ` +
        `${o.space} ` +
        `set the width with --init-channels`,
    );
  }
  const images = await loadImageSet(o.images, { seed: settings.seed });
  return { space, images, settings };
}

/** prepareBase plus the task: its batch and targets, built once for every architecture. */
export async function prepareProxy(o: ProxyOptions): Promise<ProxyContext> {
  const plan = await preparePlan(o);
  return { ...plan, gpu: await acquireGpu() };
}

/** prepareProxy without acquiring the GPU. */
export async function preparePlan(o: ProxyOptions): Promise<ProxyPlan> {
  const space = getSpace(o.space);
  const taskName = o.task ?? space.defaultTask ?? DEFAULT_TASK;
  if (space.proxy === "sequence") {
    const { name, config } = await resolveNlpTask(taskName);
    const base = await resolveBase(o);
    return { ...base, task: prepareSequenceTask(name, config, base.settings) };
  }
  const { name, config } = await resolveTask(taskName);
  const base = await resolveBase(o);
  return { ...base, task: prepareTask(name, config, base.images, base.settings) };
}

/** Which proxies to compute: `proxy` (one) and/or `proxies` (a list or "a,b,c"); gennas when neither. */
export interface ProxySelection {
  proxy?: string;
  proxies?: string | string[];
}

export interface ScoreOptions extends ProxyOptions, ProxySelection {
  /** Architecture text (NB-201 arch string or op indices, NB-101 JSON); the space's example if absent. */
  arch?: string;
}

export interface ScoreReport extends Omit<ScoreResult, "graph"> {
  /** Stats of the GenNAS graph (or of a zero-cost proxy's graph when gennas was not requested). */
  graph?: ScoreResult["graph"];
  /** Every requested proxy's value (gennas: the loss, lower is better; others higher is better). */
  proxies: Partial<Record<ProxyName, number>>;
  /** Seconds of each requested proxy. */
  proxySeconds: Partial<Record<ProxyName, number>>;
  /** Multiply-accumulates per 32×32 image of the classification copy (the `flops` baseline). */
  macs: number;
  space: string;
  arch: string;
  key: string;
  task: string;
  images: string;
  seed: number;
  /** With --width-scale: the scale the network was built at. */
  widthScale?: number;
  /** With --conv-blocks compact. */
  convBlocks?: ConvBlocks;
}

/** Scores one architecture with the requested proxies (gennas when none is named). */
export async function score(o: ScoreOptions): Promise<ScoreReport> {
  const names = parseProxies(o);
  if (names.includes("ensemble")) {
    throw new InputError(
      `--proxy ensemble ranks a population of architectures (it aggregates per-proxy ranks); ` +
        `use it with gennas rank`,
    );
  }
  validateMaxFlops(o.maxFlops);
  const space = getSpace(o.space);
  checkZeroCostSupport(space, names);
  const arch = space.parse(o.arch ?? space.example);
  const ctx = await prepareProxy(o);
  checkBudget(ctx.space, arch, ctx.settings, o.maxFlops);
  const proxies: Partial<Record<ProxyName, number>> = {};
  const proxySeconds: Partial<Record<ProxyName, number>> = {};
  let result: ScoreResult | undefined;
  if (names.includes("gennas")) {
    result = await scoreArch(ctx.gpu, ctx.space, arch, ctx.task, ctx.settings);
    proxies.gennas = result.loss;
    proxySeconds.gennas = result.seconds;
  }
  const started = performance.now();
  const cost = archCost(ctx.space, arch, ctx.settings);
  const counted = (performance.now() - started) / 1000;
  for (const name of ["params", "flops"] as const) {
    if (!names.includes(name)) continue;
    proxies[name] = name === "params" ? cost.params : cost.macs;
    proxySeconds[name] = counted;
  }
  const zeroCost = await scoreZeroCost(ctx, arch, names.filter(isZeroCost));
  Object.assign(proxies, zeroCost.values);
  Object.assign(proxySeconds, zeroCost.seconds);
  return {
    loss: result?.loss ?? NaN,
    trainLosses: result?.trainLosses ?? [],
    seconds: result?.seconds ?? 0,
    parameters: result?.parameters ?? cost.params,
    macs: cost.macs,
    graph: result?.graph ?? zeroCost.graph,
    proxies,
    proxySeconds,
    space: ctx.space.name,
    arch: ctx.space.format(arch),
    key: ctx.space.key(arch),
    task: ctx.task.name,
    images: ctx.task.images,
    seed: ctx.settings.seed,
    ...reportedSettings(ctx.settings),
  };
}

export interface RankOptions extends ProxyOptions, ProxySelection, WorkerOptions {
  /** Ground-truth table (nb201.csv or an NB-101 jsonl). */
  truth: string;
  /** NB-201 dataset column: cifar10 (default), cifar100, imagenet16_120. */
  dataset?: string;
  /** NB-101 accuracy field (default val_acc_mean_of_samples, or acc). */
  metric?: string;
  /** Number of architectures drawn (seeded) from the table; ignored with `archs`. */
  sample?: number;
  /** A file with one architecture per line (e.g. nb201_gennas_sample_0.txt). */
  archs?: string;
  /** Use only the first `limit` architectures of `archs`. */
  limit?: number;
  /** Journal (JSONL): each score is appended as it lands; an existing one is resumed. "auto":
   *  gennas-runs/rank-<space>-<settings hash>.jsonl. */
  out?: string;
  /** HTML report path (default: the journal path with .html). */
  report?: string;
  /** Bootstrap resamples for the τ/ρ intervals (0: none). */
  bootstrap?: number;
  /** Score only shard i of n ("i/n", "auto/n" reads i from SLURM_ARRAY_TASK_ID or
   *  JOB_COMPLETION_INDEX); `gennas merge` combines the shard journals. */
  shard?: string | Shard;
  onEvent?: (e: RankEvent) => void;
}

export type RankEvent =
  | { type: "start"; total: number; done: number; resumed: boolean; journal?: string }
  | {
    type: "scored";
    index: number;
    arch: string;
    loss: number;
    seconds: number;
    done: number;
    total: number;
  };

export type { ProxyMetrics, RankedArch };

export interface RankReport {
  /** Metrics of the first requested proxy (gennas by default). */
  metrics: RankingMetrics;
  /** Every requested proxy, then params and flops: the side-by-side table. */
  proxies: ProxyMetrics[];
  /** params and flops on the same architectures, to print beside GenNAS. */
  baselines: ProxyMetrics[];
  archs: RankedArch[];
  /** Median seconds per freshly scored architecture (NaN when all came from the journal). */
  secondsPerArch: number;
  /** With --workers N > 1: wall seconds of the scoring over the freshly scored architectures
   *  (the throughput; each one's own seconds run beside the others'). */
  wallSecondsPerArch?: number;
  workers?: number;
  /** With --max-memory: how many workers were replaced. */
  recycledWorkers?: number;
  truthMetric: string;
  /** The truth table's notes (rows skipped, sign convention of a loss table). */
  truthNotes?: string[];
  /** With --max-flops: the budget and how many drawn or listed archs it left unscored. */
  budget?: { maxFlops: number; overBudget: number };
  /** With --width-scale: the scale every network was built at. */
  widthScale?: number;
  /** With --conv-blocks compact. */
  convBlocks?: ConvBlocks;
  journal?: string;
  report?: string;
  resumed: boolean;
  /** Set for a shard: `archs` and `metrics` then cover its part of the candidates only. */
  shard?: Shard;
}

/** An architecture to score, parsed once, and its canonical text (journals, reports). */
export interface RankCandidate<A> {
  arch: A;
  text: string;
}

/** The architectures to rank: from a file, or a seeded sample of the truth table. */
export async function rankCandidates<A>(
  space: NetworkSpace<A>,
  table: TruthTable,
  o: Pick<RankOptions, "archs" | "limit" | "sample">,
  seed: number,
): Promise<RankCandidate<A>[]> {
  const candidate = (arch: A) => ({ arch, text: space.format(arch) });
  if (o.archs) {
    let text: string;
    try {
      text = await Deno.readTextFile(o.archs);
    } catch (e) {
      throw new InputError(`--archs ${o.archs}: ${(e as Error).message}`);
    }
    const lines = text.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
    const chosen = o.limit ? lines.slice(0, o.limit) : lines;
    return chosen.map((line, i) => {
      try {
        return candidate(space.parse(line));
      } catch (e) {
        throw new InputError(`--archs ${o.archs} line ${i + 1}: ${(e as Error).message}`);
      }
    });
  }
  const n = o.sample ?? 100;
  if (!Number.isInteger(n) || n < 2) {
    throw new InputError(`--sample must be an integer ≥ 2, got ${n}`);
  }
  const keys = [...table.accuracy.keys()];
  if (n > keys.length) {
    throw new InputError(
      `--sample ${n} exceeds the ${keys.length} architectures of ${table.source}`,
    );
  }
  const picked = new Rng(seed).fork("rank-sample").sample(keys, n);
  return picked.map((key) => candidate(space.fromTable(key, table.extra?.get(key))));
}

/** Scores many architectures and correlates their losses with the benchmark's accuracies. */
export async function rank(o: RankOptions): Promise<RankReport> {
  const names = parseProxies(o);
  const workers = validateWorkerOptions(o.workers, o.maxMemory);
  const shard = resolveShard(o.shard);
  checkShardOutputs(shard, o);
  const space = getSpace(o.space);
  checkZeroCostSupport(space, names);
  const table = await loadTruth(space.name, o.truth, { dataset: o.dataset, metric: o.metric });
  validateMaxFlops(o.maxFlops);
  const seed = o.settings?.seed ?? DEFAULT_PROXY_SETTINGS.seed;
  const drawn = await rankCandidates(space, table, o, seed);
  const ctx = await preparePlan(o);
  const { kept: candidates, dropped: overBudget } = withinBudget(
    ctx.space,
    drawn,
    (c) => c.arch,
    ctx.settings,
    o.maxFlops,
  );
  if (candidates.length < 2) {
    throw new InputError(
      `--max-flops ${o.maxFlops}: only ${candidates.length} of the architectures fit the budget; ` +
        `a ranking needs 2`,
    );
  }
  const archs = candidates.map((c) => c.arch);
  const archTexts = candidates.map((c) => c.text);
  const keys = archs.map((a) => ctx.space.key(a));
  const accuracies = accuraciesFor(table, keys);

  const settings = {
    space: ctx.space.name,
    truth: resolve(o.truth),
    truthMetric: table.metric,
    archs: o.archs ? resolve(o.archs) : null,
    limit: o.limit ?? null,
    sample: o.archs ? null : o.sample ?? 100,
    task: ctx.task.name,
    taskConfig: ctx.task.config,
    images: ctx.task.images,
    proxy: ctx.settings,
    // Recorded only when not the default, so journals of gennas-only runs keep their hash.
    ...(names.length === 1 && names[0] === "gennas" ? {} : { proxies: names }),
    ...(o.maxFlops !== undefined ? { maxFlops: o.maxFlops, overBudget } : {}),
  };
  const zeroCostNames = names.filter(isZeroCost);
  const { gpu, pool, adapter } = await acquireScorer<RankWorkerInit, CandidateOutcome>({
    workers,
    init: {
      options: { space: o.space, task: o.task, images: o.images, settings: o.settings },
      names,
    },
    workerUrl: o.workerUrl,
    maxMemoryMiB: o.maxMemory,
  });
  const journal = await openRunJournal<RankRecord | ShardRunRecord>({
    out: shard ? await shardJournalPath(o.out!, "rank", ctx.space.name, settings, shard) : o.out,
    kind: "rank",
    label: ctx.space.name,
    settings: shardSettings(settings, shard),
  }).catch((e) => {
    pool?.close();
    throw e;
  });
  const out = journal.path;
  // Resuming keeps the scores of architectures that are still at the same position.
  const done = new Map<number, RankRecord>();
  for (const record of journal.records) {
    if (record.type === "score" && archTexts[record.index] === record.arch) {
      done.set(record.index, record);
    }
  }
  const total = shardPositions(archs.length, shard).length;
  const freshSeconds: number[] = [];
  let wallSecondsPerArch: number | undefined;
  let recycledWorkers: number | undefined;
  try {
    o.onEvent?.({
      type: "start",
      total,
      done: done.size,
      resumed: journal.resumed,
      journal: out,
    });
    const pending = [...archs.keys()].filter((i) => !done.has(i) && inShard(i, shard));
    if (shard && pending.length > 0) {
      await journal.append(shardRunRecord(shard, adapter));
    }
    const land = async (index: number, outcome: CandidateOutcome) => {
      const record: RankRecord = {
        type: "score",
        index,
        arch: archTexts[index],
        key: keys[index],
        loss: outcome.loss,
        seconds: outcome.seconds,
        trainLossFinal: outcome.trainLossFinal,
      };
      if (zeroCostNames.length > 0) {
        record.proxies = Object.fromEntries(
          zeroCostNames.map((n) => [n, finiteOrNull(outcome.zeroCost.values[n])]),
        );
        record.proxySeconds = outcome.zeroCost.seconds;
      }
      await journal.append(record);
      done.set(index, record);
      const seconds = outcome.seconds +
        Object.values(outcome.zeroCost.seconds).reduce((a, b) => a + (b ?? 0), 0);
      freshSeconds.push(seconds);
      o.onEvent?.({
        type: "scored",
        index,
        arch: record.arch,
        loss: outcome.loss ?? NaN,
        seconds,
        done: done.size,
        total,
      });
    };
    if (pool && pending.length > 0) {
      const started = performance.now();
      await pool.scoreAll(
        pending.map((index) => ({ index, text: archTexts[index], key: keys[index] })),
        land,
      );
      recycledWorkers = pool.recycled;
      wallSecondsPerArch = (performance.now() - started) / 1000 / pending.length;
    } else {
      for (const index of pending) {
        await land(index, await scoreCandidate({ ...ctx, gpu: gpu! }, archs[index], names));
      }
    }
  } finally {
    pool?.close();
    journal.close();
  }

  const reportPath = shard
    ? undefined
    : o.report ?? (out ? besideJournal(out, ".html") : undefined);
  const { archs: ranked, metrics, baselines, proxies } = await rankOutcome({
    settings,
    adapter,
    accuracies,
    scored: done,
    bootstrap: shard ? 0 : o.bootstrap,
    report: reportPath,
  });
  return {
    metrics,
    proxies,
    baselines,
    archs: ranked,
    secondsPerArch: median(freshSeconds),
    ...(wallSecondsPerArch !== undefined ? { wallSecondsPerArch, workers } : {}),
    ...(o.maxMemory !== undefined ? { recycledWorkers: recycledWorkers ?? 0 } : {}),
    truthMetric: table.metric,
    truthNotes: table.notes,
    ...(o.maxFlops !== undefined ? { budget: { maxFlops: o.maxFlops, overBudget } } : {}),
    ...reportedSettings(ctx.settings),
    journal: out,
    report: reportPath,
    resumed: journal.resumed,
    shard,
  };
}

/** What a rank worker (src/proxy/rank_worker.ts) prepares from: the proxy options and proxies. */
export interface RankWorkerInit {
  options: ProxyOptions;
  names: ProxyName[];
}

/** What scoring one architecture gives a rank: the GenNAS loss (when asked) and zero-cost values. */
export interface CandidateOutcome {
  loss: number | null;
  seconds: number;
  trainLossFinal?: number;
  zeroCost: ZeroCostResult;
}

/** A task-search candidate task: its config (image or NLP) and the seed it is drawn with. */
export interface CandidateTask {
  config: unknown;
  seed: number;
}

/** The prepared task of a task-search candidate and the settings to score with it (its seed). */
export function prepareCandidateTask(
  base: Omit<ProxyBase, "gpu">,
  candidate: CandidateTask,
): { task: PreparedTask; settings: ProxySettings } {
  const settings = { ...base.settings, seed: candidate.seed };
  const task = base.space.proxy === "sequence"
    ? prepareSequenceTask("candidate", candidate.config as NlpTaskConfig, settings)
    : prepareTask("candidate", candidate.config as TaskConfig, base.images, settings);
  return { task, settings };
}

/**
 * Scores one architecture with the requested proxies (one rank position; also in a worker);
 * `withTask`: the GenNAS loss on another task and seed (a task-search candidate's).
 */
export async function scoreCandidate(
  ctx: ProxyContext,
  arch: unknown,
  names: readonly ProxyName[],
  withTask?: { task: PreparedTask; settings: ProxySettings },
): Promise<CandidateOutcome> {
  const result = names.includes("gennas")
    ? await scoreArch(
      ctx.gpu,
      ctx.space,
      arch,
      withTask?.task ?? ctx.task,
      withTask?.settings ?? ctx.settings,
    )
    : undefined;
  const zeroCost = await scoreZeroCost(ctx, arch, names.filter(isZeroCost));
  return {
    loss: result?.loss ?? null,
    seconds: result?.seconds ?? 0,
    trainLossFinal: result?.trainLosses.at(-1),
    zeroCost,
  };
}

function finiteOrNull(v: number | undefined): number | null {
  return v !== undefined && Number.isFinite(v) ? v : null;
}

/** Run settings for a report's table: the task is named, its full config stays in the journal. */
export function withoutTaskConfig<T extends { taskConfig: unknown }>(
  settings: T,
): Omit<T, "taskConfig"> {
  const { taskConfig: _omitted, ...rest } = settings;
  return rest;
}
