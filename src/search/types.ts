/**
 * Types shared by the search algorithms (regularized evolution, random search). They are generic
 * over the candidate type G: an architecture (fitness = GenNAS loss, minimised) or a proxy-task
 * config (fitness = Spearman ρ, maximised).
 */
import type { Rng } from "../util/rng.ts";

/** One scored candidate. `index` is its position in the search history (0-based). */
export interface Evaluation<G> {
  index: number;
  candidate: G;
  key: string;
  fitness: number;
  /** extra data to journal, e.g. seconds, accuracy */
  info?: Record<string, unknown>;
}

export interface SearchHooks<G> {
  /** A random candidate. Must draw all its randomness from `rng`. */
  sample(rng: Rng): G;
  /** A random neighbour of `parent`. Must draw all its randomness from `rng`. */
  mutate(parent: G, rng: Rng): G;
  /** A stable identity of a candidate; a journal replay checks it. */
  key(g: G): string;
  evaluate(g: G, index: number): Promise<{ fitness: number; info?: Record<string, unknown> }>;
  /** "min" for losses, "max" for correlations. Non-finite fitness is always the worst. */
  direction: "min" | "max";
}

export interface EvolutionOptions {
  population: number;
  tournament: number;
  iterations: number;
  seed: number;
  /**
   * Breed children while others are in flight (run.concurrency of them at once): child i comes
   * from the population after evaluation i − concurrency. Deterministic per seed and
   * concurrency; with concurrency 1 it is the synchronous run.
   */
  asynchronous?: boolean;
}

export interface RandomSearchOptions {
  samples: number;
  seed: number;
}

export interface SearchEvent<G> {
  evaluation: Evaluation<G>;
  /** Best evaluation so far (including this one). */
  best: Evaluation<G>;
  /** Evaluations done so far, this one included. */
  done: number;
  /** Evaluations of the complete run. */
  total: number;
  /** True when the fitness came from the replay list rather than evaluate(). */
  replayed: boolean;
}

/**
 * A previously journaled evaluation. `fitness` may be null or missing when it was not finite
 * (JSON writes NaN and ±Infinity as null); such a record replays as NaN, i.e. the worst.
 */
export interface ReplayRecord {
  key: string;
  fitness: number | null;
  info?: Record<string, unknown>;
}

export interface SearchBudget {
  /** At most this many evaluate() calls in this run (replayed evaluations are free). */
  evaluations?: number;
  /** No new evaluation starts once this many wall seconds have passed since the first one. */
  seconds?: number;
}

export interface SearchRun<G> {
  /** Evaluations of an earlier, interrupted run with the same settings, in order. */
  replay?: readonly ReplayRecord[];
  /** Called after every evaluation, replayed ones included (flagged), in order and awaited. */
  onEvaluation?: (e: SearchEvent<G>) => void | Promise<void>;
  budget?: SearchBudget;
  /** Checked before each new evaluation; an evaluation in flight is finished first. */
  signal?: AbortSignal;
  /**
   * Fresh evaluations in flight at once where candidates are independent (the initial population
   * of evolution, every candidate of random search); default 1. hooks.evaluate must then take
   * concurrent calls. Results are recorded in order: the run is the same as with 1.
   */
  concurrency?: number;
}

export interface SearchResult<G> {
  /** Best in the whole history; ties go to the earliest. */
  best: Evaluation<G>;
  history: Evaluation<G>[];
  stoppedBy: "completed" | "budget" | "aborted";
}
