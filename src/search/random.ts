/**
 * Random search: `samples` independent candidates from hooks.sample, best in history wins. It uses
 * the same candidate streams as regularized evolution, so with the same seed its first samples are
 * exactly the initial population of an evolution run.
 */
import { requireInteger, SearchSession, SearchStreams } from "./evolution.ts";
import type { RandomSearchOptions, SearchHooks, SearchResult, SearchRun } from "./types.ts";

export async function randomSearch<G>(
  hooks: SearchHooks<G>,
  o: RandomSearchOptions,
  run: SearchRun<G> = {},
): Promise<SearchResult<G>> {
  requireInteger(o.samples, "--samples", 1);
  requireInteger(o.seed, "--seed");
  const streams = new SearchStreams(o.seed);
  const session = new SearchSession(hooks, o.samples, run);
  // Every candidate is independent: with run.concurrency > 1 several are scored at a time.
  await session.evaluateMany(o.samples, (index) => hooks.sample(streams.candidate(index)));
  return session.result();
}
