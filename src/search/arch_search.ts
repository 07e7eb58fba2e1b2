/**
 * End-to-end NAS (spec §8): regularized evolution (or random search) over architectures with the
 * GenNAS loss as fitness, minimised. Every evaluation is journaled as it lands; a killed run
 * resumes by replaying its journal, losing at most the evaluation in flight.
 */
import type { ConvBlocks } from "../gpu/kernel.ts";
import { renderSearchReport, writeReport } from "../eval/report.ts";
import { loadTruth, type TruthTable } from "../eval/truth.ts";
import {
  type CandidateOutcome,
  preparePlan,
  type ProxyOptions,
  type RankWorkerInit,
  withoutTaskConfig,
} from "../proxy/run.ts";
import { acquireScorer, validateWorkerOptions, type WorkerOptions } from "../proxy/workers.ts";
import { reportedSettings } from "../proxy/settings.ts";
import { getSpace } from "../spaces/index.ts";
import { scoreArch } from "../proxy/score.ts";
import { drawWithinBudget, validateMaxFlops } from "../proxy/budget.ts";
import { allowed, InputError } from "../util/errors.ts";
import { besideJournal } from "../util/journal.ts";
import { openSearchJournal } from "./journal.ts";
import { isBetter, regularizedEvolution, validateEvolutionOptions } from "./evolution.ts";
import { randomSearch } from "./random.ts";
import type { SearchBudget, SearchEvent, SearchHooks, SearchResult } from "./types.ts";

export const STRATEGIES = ["evolution", "random"] as const;
export type Strategy = typeof STRATEGIES[number];

export interface SearchOptions extends ProxyOptions, WorkerOptions {
  strategy?: Strategy;
  /** Population P (default 50). */
  population?: number;
  /** Tournament S (default 10). */
  tournament?: number;
  /** Evolution iterations T after the population (default 400). Random search evaluates P + T. */
  iterations?: number;
  /** Stop this run early (evaluations in this run, or wall seconds); resume continues it. */
  budget?: SearchBudget;
  /** Optional ground truth: accuracy of what was found, regret, best-so-far accuracy curve. */
  truth?: string;
  dataset?: string;
  metric?: string;
  /** Journal path; an existing journal with the same settings is resumed. "auto":
   *  gennas-runs/search-<space>-<settings hash>.jsonl. */
  out?: string;
  report?: string;
  signal?: AbortSignal;
  /** With workers > 1: breed evolution's children while others are in flight (asynchronous RE),
   *  so every evaluation runs `workers` at a time. Deterministic per seed and worker count, but
   *  another search than one at a time (the journal records the count). Without it only the
   *  independent evaluations (the initial population, random search) overlap. */
  asynchronous?: boolean;
  onEvent?: (e: SearchProgress) => void;
}

export interface SearchProgress {
  type: "start" | "evaluation";
  done: number;
  total: number;
  resumed: boolean;
  /** The journal (start event). */
  journal?: string;
  replayed?: boolean;
  arch?: string;
  loss?: number;
  bestLoss?: number;
  bestArch?: string;
}

export interface SearchedArch {
  index: number;
  arch: string;
  key: string;
  loss: number;
  seconds: number;
  accuracy?: number;
  /** Accuracy of the best-loss architecture found up to this evaluation. */
  bestSoFarAccuracy?: number;
}

export interface ArchSearchReport {
  best: SearchedArch;
  history: SearchedArch[];
  stoppedBy: SearchResult<unknown>["stoppedBy"];
  /** Highest accuracy in the truth table (the space optimum for a complete table). */
  optimumAccuracy?: number;
  regret?: number;
  /** Rank of the found arch's accuracy in the table (1 = best; ties share the better rank). */
  trueRank?: number;
  /** Architectures in the truth table. */
  tableSize?: number;
  truthMetric?: string;
  journal?: string;
  report?: string;
  resumed: boolean;
  /** With --width-scale: the scale every network was built at (the arch keeps its width). */
  widthScale?: number;
  /** With --conv-blocks compact. */
  convBlocks?: ConvBlocks;
  /** With --workers or --max-memory: workers scoring at a time, and how many were replaced. */
  workers?: number;
  asynchronous?: boolean;
  recycledWorkers?: number;
}

interface EvalRecord {
  type: "eval";
  index: number;
  arch: string;
  key: string;
  loss: number | null;
  seconds: number;
}

export async function searchArchitectures(o: SearchOptions): Promise<ArchSearchReport> {
  const strategy = o.strategy ?? "evolution";
  if (!STRATEGIES.includes(strategy)) {
    throw new InputError(`--strategy "${strategy}" is not known; allowed: ${allowed(STRATEGIES)}`);
  }
  const population = o.population ?? 50;
  const tournament = o.tournament ?? 10;
  const iterations = o.iterations ?? 400;
  const seed = o.settings?.seed ?? 0;
  if (strategy === "evolution") {
    validateEvolutionOptions({ population, tournament, iterations, seed });
  }
  validateMaxFlops(o.maxFlops);
  const workers = validateWorkerOptions(o.workers, o.maxMemory);
  const asynchronous = o.asynchronous === true;
  if (asynchronous && (workers < 2 || strategy !== "evolution")) {
    throw new InputError(
      `--asynchronous breeds evolution's children while others are scored: it needs ` +
        `--strategy evolution and --workers N with N ≥ 2 (got --strategy ${strategy}, ` +
        `--workers ${workers})`,
    );
  }
  const table = o.truth
    ? await loadTruth(getSpace(o.space).name, o.truth, { dataset: o.dataset, metric: o.metric })
    : undefined;
  const task = o.task ?? getSpace(o.space).defaultTask ?? "search-N";
  const ctx = await preparePlan({ ...o, task });
  // AnyNet and nbnlp with a table search the table's rows, as the reference's explorer does
  // (spec §8).
  const overTable = table && ctx.space.overTable;
  const space = overTable ? overTable([...table.extra?.values() ?? []]) : ctx.space;
  const settings = {
    space: space.name,
    ...(overTable ? { candidates: "truth table rows" } : {}),
    strategy,
    population,
    tournament: strategy === "evolution" ? tournament : null,
    iterations,
    task: ctx.task.name,
    taskConfig: ctx.task.config,
    images: ctx.task.images,
    proxy: ctx.settings,
    ...(o.maxFlops !== undefined ? { maxFlops: o.maxFlops } : {}),
    ...(asynchronous ? { asynchronousWorkers: workers } : {}),
  };
  const { gpu, pool } = await acquireScorer<RankWorkerInit, CandidateOutcome>({
    workers,
    init: {
      options: { space: o.space, task, images: o.images, settings: o.settings },
      names: ["gennas"],
    },
    workerUrl: o.workerUrl,
    maxMemoryMiB: o.maxMemory,
  });
  const journal = await openSearchJournal<unknown, EvalRecord>({
    out: o.out,
    kind: "search",
    label: space.name,
    settings,
    toReplay: (r) => ({ key: r.arch, fitness: r.loss, info: { seconds: r.seconds } }),
    toRecord: (e) => ({
      type: "eval",
      index: e.index,
      arch: e.key,
      key: space.key(e.candidate),
      loss: e.fitness,
      seconds: Number(e.info?.seconds ?? 0),
    }),
  }).catch((e) => {
    pool?.close();
    throw e;
  });
  const { replay, resumed } = journal;
  const total = population + iterations;

  // Scores are deterministic per (seed, architecture): a repeat is looked up, not retrained (one
  // still in flight, too).
  const cache = new Map<string, Promise<number>>();
  for (const r of replay) cache.set(r.key, Promise.resolve(r.fitness ?? NaN));
  // The workers parse the base space's text (a table-row space formats its rows the same way).
  const train = async (arch: unknown, index: number) => {
    if (gpu) return await scoreArch(gpu, space, arch, ctx.task, ctx.settings);
    const job = { index, text: ctx.space.format(arch), key: ctx.space.key(arch) };
    const outcome = await pool!.submit(job);
    return { loss: outcome.loss ?? NaN, seconds: outcome.seconds };
  };
  const hooks: SearchHooks<unknown> = {
    direction: "min",
    sample: (rng) => drawWithinBudget(space, (r) => space.sample(r), rng, ctx.settings, o.maxFlops),
    mutate: (parent, rng) =>
      drawWithinBudget(space, (r) => space.mutate(parent, r), rng, ctx.settings, o.maxFlops),
    // The key is the arch text: journal records, progress and the history show it as is.
    key: (a) => space.format(a),
    evaluate: async (arch, index) => {
      const text = space.format(arch);
      const cached = cache.get(text);
      if (cached !== undefined) {
        return { fitness: await cached, info: { seconds: 0, cached: true } };
      }
      const result = train(arch, index);
      const cachedLoss = result.then((r) => r.loss);
      // The failure surfaces through `result`; a repeat awaiting it rethrows.
      cachedLoss.catch(() => {});
      cache.set(text, cachedLoss);
      const { loss, seconds } = await result;
      return { fitness: loss, info: { seconds } };
    },
  };
  let result: SearchResult<unknown>;
  try {
    o.onEvent?.({ type: "start", done: replay.length, total, resumed, journal: journal.path });
    const run = {
      replay,
      budget: o.budget,
      signal: o.signal,
      concurrency: workers,
      onEvaluation: async (e: SearchEvent<unknown>) => {
        await journal.record(e);
        o.onEvent?.({
          type: "evaluation",
          done: e.done,
          total: e.total,
          resumed,
          replayed: e.replayed,
          arch: e.evaluation.key,
          loss: e.evaluation.fitness,
          bestLoss: e.best.fitness,
          bestArch: e.best.key,
        });
      },
    };
    result = strategy === "evolution"
      ? await regularizedEvolution(hooks, {
        population,
        tournament,
        iterations,
        seed: ctx.settings.seed,
        asynchronous,
      }, run)
      : await randomSearch(hooks, { samples: total, seed: ctx.settings.seed }, run);
  } finally {
    pool?.close();
    journal.close();
  }
  const history = withAccuracy(result, space.key.bind(space), table);
  const best = history[result.best.index];
  const optimumAccuracy = table ? Math.max(...table.accuracy.values()) : undefined;
  const regret = optimumAccuracy !== undefined && best.accuracy !== undefined
    ? optimumAccuracy - best.accuracy
    : undefined;
  const trueRank = table && best.accuracy !== undefined
    ? 1 + [...table.accuracy.values()].filter((a) => a > best.accuracy!).length
    : undefined;
  const reportPath = o.report ??
    (journal.path ? besideJournal(journal.path, ".html") : undefined);
  if (reportPath) {
    await writeReport(
      reportPath,
      renderSearchReport({
        title: `GenNAS ${strategy} search — ${space.name}, task ${ctx.task.name}`,
        settings: { ...withoutTaskConfig(settings), truth: o.truth ?? null },
        history: history.map((h) => ({ ...h, label: h.arch })),
        best: { ...best, label: best.arch },
        optimumAccuracy,
      }),
    );
  }
  return {
    best,
    history,
    stoppedBy: result.stoppedBy,
    optimumAccuracy,
    regret,
    trueRank,
    tableSize: table?.accuracy.size,
    truthMetric: table?.metric,
    journal: journal.path,
    report: reportPath,
    resumed,
    ...reportedSettings(ctx.settings),
    ...(pool ? { workers, asynchronous, recycledWorkers: pool.recycled } : {}),
  };
}

function withAccuracy(
  result: SearchResult<unknown>,
  key: (a: unknown) => string,
  table: TruthTable | undefined,
): SearchedArch[] {
  let bestIndex = -1;
  return result.history.map((e) => {
    const k = key(e.candidate);
    const accuracy = table?.accuracy.get(k);
    const better = bestIndex < 0 || isBetter(e.fitness, result.history[bestIndex].fitness, "min");
    if (better) bestIndex = e.index;
    const bestKey = key(result.history[bestIndex].candidate);
    return {
      index: e.index,
      arch: e.key,
      key: k,
      loss: e.fitness,
      seconds: Number(e.info?.seconds ?? 0),
      accuracy,
      bestSoFarAccuracy: table?.accuracy.get(bestKey),
    };
  });
}
