/** The `search` and `task-search` commands: flags → library calls, with progress on stderr. */
import { searchArchitectures, type Strategy } from "../search/arch_search.ts";
import { searchTasks } from "../search/task_search.ts";
import type { SearchBudget } from "../search/types.ts";
import { InputError } from "../util/errors.ts";
import { createProgress, type Progress } from "../util/progress.ts";
import { parseDuration, type ProxyFlags, proxySettings, spaceArg } from "./options.ts";
import { printSearch, printTaskSearch } from "./print.ts";

export interface SearchFlags extends ProxyFlags {
  strategy: Strategy;
  population: number;
  tournament: number;
  iterations: number;
  budget?: string;
  truth?: string;
  dataset: string;
  metric?: string;
  out?: string;
  report?: string;
  workers: number;
  asynchronous?: boolean;
  maxMemory?: number;
}

/** `--budget 200` is evaluations; `--budget 30m` (s, m or h) is wall time. */
export function parseBudget(text: string | undefined): SearchBudget | undefined {
  if (text === undefined) return undefined;
  if (/^\d+$/.test(text.trim())) return { evaluations: Number(text) };
  try {
    return { seconds: parseDuration(text) };
  } catch {
    throw new InputError(
      `--budget "${text}" is neither a number of evaluations (e.g. 200) nor a time (e.g. 90s, 30m, 2h)`,
    );
  }
}

/** Says where results are journaled, and whether an earlier run is being resumed. */
export function announceJournal(
  journal: string | undefined,
  resumed: boolean,
  done: number,
  total: number,
  what: string,
): void {
  if (!journal) return;
  if (resumed && done > 0) console.error(`resuming ${journal}: ${done}/${total} ${what}`);
  else console.error(`journal ${journal} (rerun the same command to resume)`);
}

/** Ctrl-C finishes the evaluations in flight, journals them and stops cleanly. */
function interruptible(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const handler = () => {
    console.error("\ngennas: stopping after the evaluation(s) in flight (Ctrl-C again to abort)");
    Deno.removeSignalListener("SIGINT", handler);
    controller.abort();
  };
  try {
    Deno.addSignalListener("SIGINT", handler);
  } catch {
    // Signals are not available on every platform.
  }
  return {
    signal: controller.signal,
    dispose: () => {
      try {
        Deno.removeSignalListener("SIGINT", handler);
      } catch { /* already removed */ }
    },
  };
}

/** `workerUrl`: the CLI's own module, which serves as the worker (see cli.ts). */
export async function runSearchCommand(flags: SearchFlags, workerUrl?: string): Promise<void> {
  let progress: Progress | undefined;
  const stop = interruptible();
  try {
    const result = await searchArchitectures({
      space: spaceArg(flags),
      task: flags.task,
      images: flags.images,
      settings: proxySettings(flags),
      maxFlops: flags.maxFlops,
      strategy: flags.strategy,
      population: flags.population,
      tournament: flags.tournament,
      iterations: flags.iterations,
      budget: parseBudget(flags.budget),
      truth: flags.truth,
      dataset: flags.dataset,
      metric: flags.metric,
      out: flags.out,
      report: flags.report,
      workers: flags.workers,
      asynchronous: flags.asynchronous,
      maxMemory: flags.maxMemory,
      workerUrl,
      signal: stop.signal,
      onEvent: (e) => {
        if (e.type === "start") {
          if (e.resumed) {
            console.error(`resuming ${e.journal}: ${e.done}/${e.total} evaluations replayed`);
          }
          progress = createProgress({ total: e.total, label: "search", initial: e.done });
        } else if (!e.replayed) {
          progress?.tick(e.done, { best: (e.bestLoss ?? NaN).toPrecision(4) });
        }
      },
    });
    progress?.stop();
    printSearch(result);
  } finally {
    progress?.stop();
    stop.dispose();
  }
}

export interface TaskSearchFlags extends ProxyFlags {
  truth: string;
  dataset: string;
  metric?: string;
  samples: number;
  archs?: string;
  population: number;
  tournament: number;
  iterations: number;
  budget?: string;
  partialGrid?: boolean;
  out?: string;
  best?: string;
  report?: string;
  workers: number;
  maxMemory?: number;
}

/** `workerUrl`: the CLI's own module, which serves as the worker (see cli.ts). */
export async function runTaskSearchCommand(
  flags: TaskSearchFlags,
  workerUrl?: string,
): Promise<void> {
  let progress: Progress | undefined;
  const stop = interruptible();
  try {
    const result = await searchTasks({
      space: spaceArg(flags),
      images: flags.images,
      settings: proxySettings(flags),
      truth: flags.truth,
      dataset: flags.dataset,
      metric: flags.metric,
      samples: flags.samples,
      archs: flags.archs,
      population: flags.population,
      tournament: flags.tournament,
      iterations: flags.iterations,
      budget: parseBudget(flags.budget),
      partialGrid: flags.partialGrid,
      out: flags.out,
      best: flags.best,
      report: flags.report,
      workers: flags.workers,
      maxMemory: flags.maxMemory,
      workerUrl,
      signal: stop.signal,
      onEvent: (e) => {
        if (e.type === "start") {
          if (e.resumed) {
            console.error(`resuming ${e.journal}: ${e.done}/${e.total} configs replayed`);
          }
          progress = createProgress({ total: e.total, label: "task-search", initial: e.done });
        } else if (!e.replayed) {
          progress?.tick(e.done, { best_rho: (e.bestRho ?? NaN).toFixed(3) });
        }
      },
    });
    progress?.stop();
    printTaskSearch(result);
  } finally {
    progress?.stop();
    stop.dispose();
  }
}
