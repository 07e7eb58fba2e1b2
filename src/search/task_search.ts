/**
 * Proxy-task search (spec §7): regularized evolution over task configs (CNN configs for image
 * spaces, NLP configs for nbnlp). The fitness of a config is
 * ρ(−loss, accuracy) over a labelled set of architectures — the sign respected, not |ρ| (spec
 * §10.10): a task whose loss rises with accuracy scores badly. Each config gets its own batch and
 * targets drawn from (seed, config), as the reference redraws per config.
 */
import { rankingMetrics } from "../eval/metrics.ts";
import { renderSearchReport, writeReport } from "../eval/report.ts";
import { accuraciesFor, loadTruth } from "../eval/truth.ts";
import {
  type CandidateOutcome,
  prepareCandidateTask,
  type ProxyOptions,
  rankCandidates,
  type RankWorkerInit,
  resolveBase,
} from "../proxy/run.ts";
import { acquireScorer, validateWorkerOptions, type WorkerOptions } from "../proxy/workers.ts";
import { scoreArch } from "../proxy/score.ts";
import { getSpace } from "../spaces/index.ts";
import { DEFAULT_KEEP, mutateTaskConfig, randomTaskConfig } from "../tasks/generate.ts";
import { mutateNlpTaskConfig, randomNlpTaskConfig } from "../tasks/generate_nlp.ts";
import type { NlpTaskConfig } from "../tasks/nlp.ts";
import { saveTaskConfig } from "../tasks/io.ts";
import type { TaskConfig } from "../tasks/schema.ts";
import { besideJournal } from "../util/journal.ts";
import { openSearchJournal } from "./journal.ts";
import { hashString } from "../util/rng.ts";
import { regularizedEvolution, validateEvolutionOptions } from "./evolution.ts";
import type { SearchBudget, SearchEvent, SearchHooks, SearchResult } from "./types.ts";

/** A CNN task config, or an NLP one for a sequence space (nbnlp). */
export type AnyTaskConfig = TaskConfig | NlpTaskConfig;

/** `workers`: each config's labelled architectures N at a time. */
export interface TaskSearchOptions extends Omit<ProxyOptions, "task">, WorkerOptions {
  /** Ground truth of the labelled architectures. */
  truth: string;
  dataset?: string;
  metric?: string;
  /** Labelled architectures drawn (seeded) from the table (default 20). */
  samples?: number;
  /** Or: labelled architectures from a file, one per line. */
  archs?: string;
  population?: number;
  tournament?: number;
  iterations?: number;
  budget?: SearchBudget;
  /** Draw dot `partial` from k/64 as in the presets (default: U(0,1) as the reference code). */
  partialGrid?: boolean;
  out?: string;
  /** Where the best config is written (a file `--task` accepts). */
  best?: string;
  report?: string;
  signal?: AbortSignal;
  onEvent?: (e: TaskSearchProgress) => void;
}

export interface TaskSearchProgress {
  type: "start" | "evaluation";
  done: number;
  total: number;
  resumed: boolean;
  /** The journal (start event). */
  journal?: string;
  replayed?: boolean;
  rho?: number;
  bestRho?: number;
}

export interface TaskEvaluation {
  index: number;
  config: AnyTaskConfig;
  /** Spearman ρ(−loss, accuracy) on the labelled architectures: the fitness (maximised). */
  rho: number;
  kendall: number;
  seconds: number;
}

export interface TaskSearchReport {
  best: TaskEvaluation;
  history: TaskEvaluation[];
  stoppedBy: SearchResult<unknown>["stoppedBy"];
  labelled: number;
  bestPath?: string;
  journal?: string;
  report?: string;
  resumed: boolean;
  /** With --workers or --max-memory: workers scoring at a time, and how many were replaced. */
  workers?: number;
  recycledWorkers?: number;
}

interface TaskRecord {
  type: "eval";
  index: number;
  key: string;
  rho: number | null;
  kendall: number | null;
  seconds: number;
}

/** The identity of a config: its JSON (generation and journal round trips preserve it). */
function configKey(config: AnyTaskConfig): string {
  return JSON.stringify(config);
}

export async function searchTasks(o: TaskSearchOptions): Promise<TaskSearchReport> {
  const population = o.population ?? 50;
  const tournament = o.tournament ?? 10;
  const iterations = o.iterations ?? 400;
  validateEvolutionOptions({ population, tournament, iterations, seed: o.settings?.seed ?? 0 });
  const table = await loadTruth(getSpace(o.space).name, o.truth, {
    dataset: o.dataset,
    metric: o.metric,
  });
  const workers = validateWorkerOptions(o.workers, o.maxMemory);
  const base = await resolveBase(o);
  const { space, settings } = base;
  const candidates = await rankCandidates(space, table, {
    archs: o.archs,
    limit: o.archs ? o.samples : undefined,
    sample: o.samples ?? 20,
  }, settings.seed);
  const archs = candidates.map((c) => c.arch);
  const archTexts = candidates.map((c) => c.text);
  const keys = archs.map((a) => space.key(a));
  const accuracies = accuraciesFor(table, keys);
  const journalSettings = {
    space: space.name,
    truthMetric: table.metric,
    labelled: archTexts,
    population,
    tournament,
    iterations,
    partialGrid: o.partialGrid ?? false,
    images: base.images.name,
    proxy: settings,
  };
  const { gpu, pool } = await acquireScorer<RankWorkerInit, CandidateOutcome>({
    workers,
    init: {
      options: { space: o.space, images: o.images, settings: o.settings },
      names: ["gennas"],
    },
    workerUrl: o.workerUrl,
    maxMemoryMiB: o.maxMemory,
  });
  const journal = await openSearchJournal<AnyTaskConfig, TaskRecord>({
    out: o.out,
    kind: "task-search",
    label: space.name,
    settings: journalSettings,
    toReplay: (r) => ({
      key: r.key,
      fitness: r.rho,
      info: { kendall: r.kendall ?? NaN, seconds: r.seconds },
    }),
    toRecord: (e) => ({
      type: "eval",
      index: e.index,
      key: e.key,
      rho: e.fitness,
      kendall: Number(e.info?.kendall),
      seconds: Number(e.info?.seconds ?? 0),
    }),
  }).catch((e) => {
    pool?.close();
    throw e;
  });
  const { replay, resumed } = journal;
  const out = journal.path;
  const total = population + iterations;

  const generation = { partialGrid: o.partialGrid ?? false };
  const sequence = space.proxy === "sequence";
  const hooks: SearchHooks<AnyTaskConfig> = {
    direction: "max",
    sample: (rng) =>
      sequence ? randomNlpTaskConfig(rng, generation) : randomTaskConfig(rng, generation),
    mutate: (parent, rng) =>
      sequence
        ? mutateNlpTaskConfig(parent as NlpTaskConfig, rng, DEFAULT_KEEP, generation)
        : mutateTaskConfig(parent as TaskConfig, rng, DEFAULT_KEEP, generation),
    key: configKey,
    evaluate: async (config) => {
      const started = performance.now();
      const candidate = { config, seed: hashString(`${settings.seed}/${configKey(config)}`) };
      const losses: number[] = [];
      if (pool) {
        const jobs = archs.map((_, index) =>
          pool.submit({ index, text: archTexts[index], key: keys[index], task: candidate })
        );
        for (const outcome of await Promise.all(jobs)) losses.push(outcome.loss ?? NaN);
      } else {
        const { task, settings: taskSettings } = prepareCandidateTask(base, candidate);
        for (const arch of archs) {
          losses.push((await scoreArch(gpu!, space, arch, task, taskSettings)).loss);
        }
      }
      const m = rankingMetrics(losses, accuracies);
      return {
        fitness: m.spearman,
        info: { kendall: m.kendall, seconds: (performance.now() - started) / 1000 },
      };
    },
  };
  let result: SearchResult<AnyTaskConfig>;
  try {
    o.onEvent?.({ type: "start", done: replay.length, total, resumed, journal: out });
    result = await regularizedEvolution(hooks, {
      population,
      tournament,
      iterations,
      seed: settings.seed,
    }, {
      replay,
      budget: o.budget,
      signal: o.signal,
      onEvaluation: async (e: SearchEvent<AnyTaskConfig>) => {
        await journal.record(e);
        o.onEvent?.({
          type: "evaluation",
          done: e.done,
          total: e.total,
          resumed,
          replayed: e.replayed,
          rho: e.evaluation.fitness,
          bestRho: e.best.fitness,
        });
      },
    });
  } finally {
    pool?.close();
    journal.close();
  }
  const history: TaskEvaluation[] = result.history.map((e) => ({
    index: e.index,
    config: e.candidate,
    rho: e.fitness,
    kendall: Number(e.info?.kendall ?? NaN),
    seconds: Number(e.info?.seconds ?? 0),
  }));
  const best = history[result.best.index];
  const bestPath = o.best ?? (out ? besideJournal(out, ".task.json") : undefined);
  if (bestPath) await saveTaskConfig(bestPath, best.config);
  const reportPath = o.report ?? (out ? besideJournal(out, ".html") : undefined);
  if (reportPath) {
    await writeReport(
      reportPath,
      renderSearchReport({
        title: `GenNAS proxy-task search — ${space.name}, ${archs.length} labelled architectures`,
        settings: { ...journalSettings, labelled: archs.length, truth: o.truth },
        history: history.map((h) => ({ index: h.index, label: `task ${h.index}`, loss: h.rho })),
        best: { index: best.index, label: `task ${best.index}`, loss: best.rho },
        quantity: { name: "fitness ρ(−loss, accuracy)", higherIsBetter: true },
      }),
    );
  }
  return {
    best,
    history,
    stoppedBy: result.stoppedBy,
    labelled: archs.length,
    bestPath,
    journal: out,
    report: reportPath,
    resumed,
    ...(pool ? { workers, recycledWorkers: pool.recycled } : {}),
  };
}
