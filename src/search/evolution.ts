/**
 * Regularized evolution (Real et al. 2019; GENNAS_SPEC §7.3, §8), plus the evaluation bookkeeping
 * shared with random search: replay of a journal, budgets, abort, best-so-far.
 *
 * Randomness: candidate i is generated from `new Rng(seed).fork("candidate:i")` and tournaments
 * draw from `new Rng(seed).fork("tournament")`, so a seed fixes the whole run and candidate i does
 * not depend on how much randomness the hooks used for earlier candidates.
 */
import { InputError } from "../util/errors.ts";
import { Rng } from "../util/rng.ts";
import type {
  Evaluation,
  EvolutionOptions,
  ReplayRecord,
  SearchHooks,
  SearchResult,
  SearchRun,
} from "./types.ts";

export async function regularizedEvolution<G>(
  hooks: SearchHooks<G>,
  o: EvolutionOptions,
  run: SearchRun<G> = {},
): Promise<SearchResult<G>> {
  validateEvolutionOptions(o);
  const streams = new SearchStreams(o.seed);
  const session = new SearchSession(hooks, o.population + o.iterations, run);
  const population: Evaluation<G>[] = [];

  // The initial population's candidates are independent: with run.concurrency > 1 several are
  // scored at a time, and recorded in order, so the run is the same as one at a time.
  population.push(
    ...await session.evaluateMany(o.population, (index) => hooks.sample(streams.candidate(index))),
  );
  const breed = (index: number) => {
    const contenders = streams.tournament.sample(population, o.tournament);
    const parent = bestOf(contenders, hooks.direction);
    return hooks.mutate(parent.candidate, streams.candidate(index));
  };
  const age = (child: Evaluation<G>) => {
    population.push(child);
    population.shift(); // aging: the oldest member leaves, whatever its fitness
  };
  // Synchronous RE breeds child i from the population after evaluation i − 1. Asynchronous RE
  // (Real et al. 2019): from the population as it stands once evaluation i − concurrency is
  // recorded (and the initial population complete), while the evaluations between are in flight.
  await session.evaluateMany(o.iterations, breed, age, o.asynchronous ? undefined : 1);
  return session.result();
}

export function validateEvolutionOptions(o: EvolutionOptions): void {
  requireInteger(o.population, "--population", 1);
  requireInteger(o.tournament, "--tournament", 1);
  if (o.tournament > o.population) {
    throw new InputError(
      `--tournament must be at most --population (${o.population}), got ${o.tournament}`,
    );
  }
  requireInteger(o.iterations, "--iterations", 0);
  requireInteger(o.seed, "--seed");
}

/** Throws an InputError naming `flag` unless `value` is an integer (and at least `min`). */
export function requireInteger(value: number, flag: string, min?: number): void {
  if (!Number.isInteger(value) || (min !== undefined && value < min)) {
    const bound = min === undefined ? "" : ` >= ${min}`;
    throw new InputError(`${flag} must be an integer${bound}, got ${value}`);
  }
}

/** The named random streams of one search run. */
export class SearchStreams {
  readonly #root: Rng;
  readonly tournament: Rng;

  constructor(seed: number) {
    this.#root = new Rng(seed);
    this.tournament = this.#root.fork("tournament");
  }

  /** The stream that generates (samples or mutates into) candidate `index`. */
  candidate(index: number): Rng {
    return this.#root.fork(`candidate:${index}`);
  }
}

/** Fitness mapped so that lower is better and every non-finite value is the worst. */
function badness(fitness: number, direction: "min" | "max"): number {
  if (!Number.isFinite(fitness)) return Infinity;
  return direction === "min" ? fitness : -fitness;
}

/** True when `a` is strictly better than `b`; non-finite is worse than any finite value. */
export function isBetter(a: number, b: number, direction: "min" | "max"): boolean {
  return badness(a, direction) < badness(b, direction);
}

/** The best of `items`; ties go to the earliest evaluated (the first in population order). */
function bestOf<G>(items: readonly Evaluation<G>[], direction: "min" | "max"): Evaluation<G> {
  let best = items[0];
  for (const item of items.slice(1)) {
    const tied = !isBetter(best.fitness, item.fitness, direction);
    if (isBetter(item.fitness, best.fitness, direction) || (tied && item.index < best.index)) {
      best = item;
    }
  }
  return best;
}

/**
 * Runs the evaluations of a search algorithm (`evaluateMany`: in history order, up to
 * `run.concurrency` in flight): takes fitness from the replay list while it lasts (checking keys),
 * then calls hooks.evaluate; keeps history and best; enforces budget and abort.
 */
export class SearchSession<G> {
  readonly history: Evaluation<G>[] = [];
  readonly #hooks: SearchHooks<G>;
  readonly #total: number;
  readonly #run: SearchRun<G>;
  readonly #replay: readonly ReplayRecord[];
  #best: Evaluation<G> | undefined;
  #stoppedBy: SearchResult<G>["stoppedBy"] = "completed";
  #freshEvaluations = 0;
  #freshStartMs: number | undefined;

  constructor(hooks: SearchHooks<G>, total: number, run: SearchRun<G>) {
    validateBudget(run.budget);
    this.#hooks = hooks;
    this.#total = total;
    this.#run = run;
    this.#replay = run.replay ?? [];
    if (this.#replay.length > total) {
      throw new InputError(
        `the journal holds ${this.#replay.length} evaluations but these settings run only ` +
          `${total}: the journal does not belong to these settings`,
      );
    }
  }

  /**
   * Evaluates up to `count` candidates, `make(index)` generating each, in history order; as many
   * as `run.concurrency` fresh ones are in flight at once (hooks.evaluate must then take concurrent
   * calls). Each is recorded (history, best, onEvaluation) in order, so the outcome equals
   * evaluating them one at a time. Stops early where a new evaluation must not start (total reached,
   * budget spent, aborted: `result().stoppedBy` says which); evaluations already
   * started are finished and recorded first. `onRecord` runs after each record, before the next
   * candidate is made: candidate i is made after evaluation i − concurrency is recorded.
   * `concurrency` overrides the run's (1: one at a time, each made after the one before).
   */
  async evaluateMany(
    count: number,
    make: (index: number) => G,
    onRecord?: (e: Evaluation<G>) => void,
    concurrency = this.#run.concurrency,
  ): Promise<Evaluation<G>[]> {
    const base = this.history.length;
    const window = Math.max(1, concurrency ?? 1);
    const started: { candidate: G; key: string; scored: Promise<Scored> }[] = [];
    let refused = false;
    const startUpTo = (end: number) => {
      while (!refused && started.length < Math.min(end, count)) {
        const index = base + started.length;
        if (!this.#mayStart(index)) {
          refused = true;
          return;
        }
        const candidate = make(index);
        const key = this.#hooks.key(candidate);
        const scored = index < this.#replay.length
          ? Promise.resolve(this.#replayed(index, key))
          : this.#fresh(candidate, index);
        // Rejections surface when this evaluation's turn to be recorded comes.
        scored.catch(() => {});
        started.push({ candidate, key, scored });
      }
    };
    const out: Evaluation<G>[] = [];
    for (let j = 0; j < count; j++) {
      startUpTo(j + window);
      if (j >= started.length) break;
      const { candidate, key, scored } = started[j];
      const evaluation = await this.#record(candidate, key, base + j, await scored);
      onRecord?.(evaluation);
      out.push(evaluation);
    }
    return out;
  }

  /** False when evaluation `index` must not start; sets the reason when it is budget or abort. */
  #mayStart(index: number): boolean {
    if (index >= this.#total) return false;
    if (index < this.#replay.length) return true;
    if (this.#run.signal?.aborted) return this.#stop("aborted");
    const budget = this.#run.budget ?? {};
    if (budget.evaluations !== undefined && this.#freshEvaluations >= budget.evaluations) {
      return this.#stop("budget");
    }
    const elapsedSeconds = this.#freshStartMs === undefined
      ? 0
      : (performance.now() - this.#freshStartMs) / 1000;
    if (budget.seconds !== undefined && elapsedSeconds >= budget.seconds) {
      return this.#stop("budget");
    }
    return true;
  }

  async #record(candidate: G, key: string, index: number, scored: Scored): Promise<Evaluation<G>> {
    const replayed = index < this.#replay.length;
    const evaluation: Evaluation<G> = { index, candidate, key, ...scored };
    this.history.push(evaluation);
    if (
      this.#best === undefined || isBetter(evaluation.fitness, this.#best.fitness, this.#direction)
    ) {
      this.#best = evaluation;
    }
    await this.#run.onEvaluation?.({
      evaluation,
      best: this.#best,
      done: this.history.length,
      total: this.#total,
      replayed,
    });
    return evaluation;
  }

  /** The outcome. Throws the abort reason when aborted before anything was evaluated. */
  result(): SearchResult<G> {
    if (this.#best === undefined) {
      throw this.#run.signal?.reason ?? new Error("the search ended without any evaluation");
    }
    return { best: this.#best, history: this.history, stoppedBy: this.#stoppedBy };
  }

  get #direction(): "min" | "max" {
    return this.#hooks.direction;
  }

  #stop(reason: "budget" | "aborted"): false {
    this.#stoppedBy = reason;
    return false;
  }

  #replayed(index: number, key: string): Scored {
    const record = this.#replay[index];
    if (record.key !== key) {
      throw new InputError(
        `journal evaluation ${index + 1} has key "${record.key}" but these settings generate ` +
          `"${key}": the journal does not belong to these settings (seed, search space, options)`,
      );
    }
    const fitness = typeof record.fitness === "number" ? record.fitness : NaN;
    return record.info === undefined ? { fitness } : { fitness, info: record.info };
  }

  async #fresh(candidate: G, index: number): Promise<Scored> {
    this.#freshStartMs ??= performance.now();
    this.#freshEvaluations++;
    const { fitness, info } = await this.#hooks.evaluate(candidate, index);
    return info === undefined ? { fitness } : { fitness, info };
  }
}

type Scored = Pick<Evaluation<unknown>, "fitness" | "info">;

function validateBudget(budget: SearchRun<unknown>["budget"]): void {
  if (budget?.evaluations !== undefined) {
    requireInteger(budget.evaluations, "--budget-evaluations", 1);
  }
  const seconds = budget?.seconds;
  if (seconds !== undefined && !(seconds > 0 && seconds < Infinity)) {
    throw new InputError(`--budget-seconds must be a number > 0, got ${seconds}`);
  }
}
