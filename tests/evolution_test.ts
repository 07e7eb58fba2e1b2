import assert from "node:assert/strict";
import { regularizedEvolution } from "../src/search/evolution.ts";
import { randomSearch } from "../src/search/random.ts";
import type {
  Evaluation,
  EvolutionOptions,
  ReplayRecord,
  SearchHooks,
  SearchResult,
} from "../src/search/types.ts";
import { InputError } from "../src/util/errors.ts";
import { openJournal } from "../src/util/journal.ts";
import { Rng } from "../src/util/rng.ts";

const BITS = 12;
const OPTIMUM = 0b101101001110;

function popcount(x: number): number {
  let count = 0;
  for (; x !== 0; x &= x - 1) count++;
  return count;
}

/** Bit-strings of length 12; fitness = Hamming distance to OPTIMUM; mutation flips one bit. */
function hammingHooks(direction: "min" | "max" = "min"): SearchHooks<number> & { calls: number[] } {
  const calls: number[] = [];
  return {
    calls,
    direction,
    sample: (rng) => rng.int(2 ** BITS),
    mutate: (parent, rng) => parent ^ (1 << rng.int(BITS)),
    key: (g) => g.toString(2).padStart(BITS, "0"),
    evaluate: (g, index) => {
      calls.push(index);
      const distance = popcount(g ^ OPTIMUM);
      return Promise.resolve({
        fitness: direction === "min" ? distance : BITS - distance,
        info: { distance },
      });
    },
  };
}

/**
 * Candidates are their own evaluation index (fresh ids in creation order), fitness comes from
 * `fitnessOf(index)`, and mutate records which member was chosen as parent of each child.
 */
function instrumentedHooks(
  fitnessOf: (index: number) => number,
  direction: "min" | "max" = "min",
): SearchHooks<number> & { parentOf: Map<number, number> } {
  let next = 0;
  const parentOf = new Map<number, number>();
  return {
    parentOf,
    direction,
    sample: () => next++,
    mutate: (parent) => {
      parentOf.set(next, parent);
      return next++;
    },
    key: (g) => String(g),
    evaluate: (g) => Promise.resolve({ fitness: fitnessOf(g) }),
  };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

const OPTIONS: EvolutionOptions = { population: 10, tournament: 3, iterations: 20, seed: 7 };

Deno.test("RE finds the optimum of the Hamming toy space for several seeds", async () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const result = await regularizedEvolution(hammingHooks(), {
      population: 20,
      tournament: 5,
      iterations: 300,
      seed,
    });
    assert.equal(result.best.fitness, 0, `seed ${seed}`);
    assert.equal(result.best.candidate, OPTIMUM);
    assert.equal(result.history.length, 320);
    assert.equal(result.stoppedBy, "completed");
  }
});

Deno.test("RE maximises with direction max", async () => {
  const result = await regularizedEvolution(hammingHooks("max"), {
    population: 20,
    tournament: 5,
    iterations: 300,
    seed: 3,
  });
  assert.equal(result.best.fitness, BITS);
  assert.equal(result.best.candidate, OPTIMUM);
});

Deno.test("RE is deterministic for a seed and differs between seeds", async () => {
  const a = await regularizedEvolution(hammingHooks(), OPTIONS);
  const b = await regularizedEvolution(hammingHooks(), OPTIONS);
  const c = await regularizedEvolution(hammingHooks(), { ...OPTIONS, seed: 8 });
  assert.deepEqual(a.history, b.history);
  assert.deepEqual(a.best, b.best);
  assert.notDeepEqual(
    a.history.map((e) => e.key),
    c.history.map((e) => e.key),
  );
  assert.deepEqual(a.history.map((e) => e.index), range(0, 30));
});

Deno.test("RE best is the first best in the whole history", async () => {
  const result = await regularizedEvolution(hammingHooks(), OPTIONS);
  const bestFitness = Math.min(...result.history.map((e) => e.fitness));
  const first = result.history.find((e) => e.fitness === bestFitness);
  assert.equal(result.best, first);
});

Deno.test("RE aging: with P=3 the population is always the 3 newest, the oldest leaves", async () => {
  // Older is fitter, so a "remove the worst" rule would keep the oldest members instead.
  const hooks = instrumentedHooks((index) => index);
  await regularizedEvolution(hooks, { population: 3, tournament: 1, iterations: 60, seed: 1 });
  const offsets = new Set<number>();
  for (const [child, parent] of hooks.parentOf) {
    assert.ok(child - parent >= 1 && child - parent <= 3, `child ${child} had parent ${parent}`);
    offsets.add(child - parent);
  }
  assert.equal(hooks.parentOf.size, 60);
  assert.deepEqual([...offsets].sort(), [1, 2, 3]); // each of the three members gets picked
});

Deno.test("RE tournament samples without replacement: S = P always picks the population best", async () => {
  const fitness = (index: number) => new Rng(`fitness:${index}`).uniform();
  const hooks = instrumentedHooks(fitness);
  const P = 5;
  await regularizedEvolution(hooks, { population: P, tournament: P, iterations: 80, seed: 2 });
  for (const [child, parent] of hooks.parentOf) {
    const population = range(child - P, child);
    const best = population.reduce((a, b) => fitness(b) < fitness(a) ? b : a);
    assert.equal(parent, best, `child ${child}`);
  }
});

Deno.test("RE ties go to the oldest member of the tournament", async () => {
  const hooks = instrumentedHooks(() => 1);
  await regularizedEvolution(hooks, { population: 4, tournament: 4, iterations: 20, seed: 3 });
  for (const [child, parent] of hooks.parentOf) assert.equal(parent, child - 4);
});

Deno.test("RE never picks a non-finite parent when a finite one is in the tournament", async () => {
  for (const direction of ["min", "max"] as const) {
    // Mostly non-finite values that a naive comparison would prefer (-Inf for min, +Inf for max).
    const lure = direction === "min" ? -Infinity : Infinity;
    const fitness = (i: number) => i % 7 === 3 ? 5 + (i % 5) : (i % 2 === 0 ? NaN : lure);
    const hooks = instrumentedHooks(fitness, direction);
    const P = 6;
    const result = await regularizedEvolution(hooks, {
      population: P,
      tournament: P,
      iterations: 60,
      seed: 4,
    });
    for (const [child, parent] of hooks.parentOf) {
      const anyFinite = range(child - P, child).some((i) => Number.isFinite(fitness(i)));
      if (anyFinite) assert.ok(Number.isFinite(fitness(parent)), `${direction}: child ${child}`);
    }
    assert.ok(Number.isFinite(result.best.fitness));
  }
});

Deno.test("RE stops on an evaluation budget and on a wall-time budget", async () => {
  const byCount = await regularizedEvolution(hammingHooks(), OPTIONS, {
    budget: { evaluations: 13 },
  });
  assert.equal(byCount.stoppedBy, "budget");
  assert.equal(byCount.history.length, 13);

  const slow = hammingHooks();
  const evaluate = slow.evaluate;
  slow.evaluate = async (g, i) => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    return evaluate(g, i);
  };
  const byTime = await regularizedEvolution(slow, { ...OPTIONS, iterations: 1000 }, {
    budget: { seconds: 0.1 },
  });
  assert.equal(byTime.stoppedBy, "budget");
  assert.ok(byTime.history.length >= 2 && byTime.history.length < 100, `${byTime.history.length}`);
});

Deno.test("RE validates its options with the flag name", async () => {
  const cases: [Partial<EvolutionOptions>, RegExp][] = [
    [{ population: 0 }, /--population/],
    [{ tournament: 11 }, /--tournament/],
    [{ tournament: 0 }, /--tournament/],
    [{ iterations: -1 }, /--iterations/],
    [{ iterations: 1.5 }, /--iterations/],
  ];
  for (const [change, message] of cases) {
    await assert.rejects(
      regularizedEvolution(hammingHooks(), { ...OPTIONS, ...change }),
      (e: Error) => e instanceof InputError && message.test(e.message),
    );
  }
});

interface Journaled {
  key: string;
  fitness: number;
  info?: Record<string, unknown>;
}

/** One (possibly interrupted) RE run journaled to `path`, resuming whatever the file holds. */
async function journaledRun(
  path: string,
  hooks: SearchHooks<number>,
  stopAfter?: number,
): Promise<{ result?: SearchResult<number>; resumed: boolean; replayedEvents: number }> {
  const opened = await openJournal<Journaled>(path, "test-re", { ...OPTIONS });
  const controller = new AbortController();
  let replayedEvents = 0;
  try {
    const result = await regularizedEvolution(hooks, OPTIONS, {
      replay: opened.records,
      signal: controller.signal,
      onEvaluation: async ({ evaluation, replayed, done }) => {
        if (replayed) replayedEvents++;
        else await opened.journal.append(journalRecord(evaluation));
        if (done === stopAfter) controller.abort();
      },
    });
    return { result, resumed: opened.resumed, replayedEvents };
  } finally {
    opened.journal.close();
  }
}

function journalRecord(e: Evaluation<number>): Journaled {
  return { key: e.key, fitness: e.fitness, info: e.info };
}

Deno.test("RE resumed from a journal after an abort equals an uninterrupted run", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const full = await journaledRun(`${dir}/full.jsonl`, hammingHooks());

    const first = hammingHooks();
    const killed = await journaledRun(`${dir}/resumed.jsonl`, first, 17);
    assert.equal(killed.result?.stoppedBy, "aborted");
    assert.equal(killed.result?.history.length, 17);
    assert.deepEqual(first.calls, range(0, 17));

    const second = hammingHooks();
    const resumed = await journaledRun(`${dir}/resumed.jsonl`, second);
    assert.equal(resumed.resumed, true);
    assert.equal(resumed.replayedEvents, 17);
    assert.deepEqual(second.calls, range(17, 30)); // only the missing ones were evaluated
    assert.deepEqual(resumed.result?.history, full.result?.history);
    assert.deepEqual(resumed.result?.best, full.result?.best);
    assert.equal(resumed.result?.stoppedBy, "completed");

    const journalBody = async (name: string) =>
      (await Deno.readTextFile(`${dir}/${name}`)).split("\n").slice(1).join("\n");
    assert.equal(await journalBody("resumed.jsonl"), await journalBody("full.jsonl"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RE resumed after a throwing evaluate equals an uninterrupted run", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const full = await journaledRun(`${dir}/full.jsonl`, hammingHooks());
    const crashing = hammingHooks();
    const evaluate = crashing.evaluate;
    crashing.evaluate = (g, i) => i === 17 ? Promise.reject(new Error("GPU lost")) : evaluate(g, i);
    await assert.rejects(journaledRun(`${dir}/crash.jsonl`, crashing), /GPU lost/);

    const second = hammingHooks();
    const resumed = await journaledRun(`${dir}/crash.jsonl`, second);
    assert.deepEqual(second.calls, range(17, 30));
    assert.deepEqual(resumed.result?.history, full.result?.history);
    assert.deepEqual(resumed.result?.best, full.result?.best);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RE replay detects a journal from other settings", async () => {
  const source = await regularizedEvolution(hammingHooks(), OPTIONS);
  const replay: ReplayRecord[] = source.history.slice(0, 12).map(journalRecord);
  await assert.rejects(
    regularizedEvolution(hammingHooks(), { ...OPTIONS, seed: 99 }, { replay }),
    (e: Error) => /does not belong to these settings/.test(e.message),
  );
  await assert.rejects(
    regularizedEvolution(hammingHooks(), { ...OPTIONS, iterations: 1 }, { replay }),
    /does not belong to these settings/,
  );
});

Deno.test("RE replay of a null (non-finite) fitness treats it as the worst", async () => {
  const source = await regularizedEvolution(hammingHooks(), OPTIONS);
  const replay: ReplayRecord[] = source.history.map((e, i) => ({
    key: e.key,
    fitness: i === 0 ? null : e.fitness,
  }));
  const hooks = hammingHooks();
  const replayed = await regularizedEvolution(hooks, OPTIONS, { replay });
  assert.deepEqual(hooks.calls, []);
  assert.ok(Number.isNaN(replayed.history[0].fitness));
});

Deno.test("random search is deterministic, seeded, and shares RE's initial population", async () => {
  const a = await randomSearch(hammingHooks(), { samples: 25, seed: 5 });
  const b = await randomSearch(hammingHooks(), { samples: 25, seed: 5 });
  const c = await randomSearch(hammingHooks(), { samples: 25, seed: 6 });
  assert.deepEqual(a.history, b.history);
  assert.notDeepEqual(a.history.map((e) => e.key), c.history.map((e) => e.key));
  assert.equal(a.history.length, 25);
  const bestFitness = Math.min(...a.history.map((e) => e.fitness));
  assert.equal(a.best, a.history.find((e) => e.fitness === bestFitness));

  const evolution = await regularizedEvolution(hammingHooks(), { ...OPTIONS, seed: 5 });
  assert.deepEqual(evolution.history.slice(0, 10), a.history.slice(0, 10));
});

Deno.test("random search validates --samples and honours budget and abort", async () => {
  await assert.rejects(randomSearch(hammingHooks(), { samples: 0, seed: 1 }), /--samples/);
  const budgeted = await randomSearch(hammingHooks(), { samples: 40, seed: 1 }, {
    budget: { evaluations: 4 },
  });
  assert.equal(budgeted.stoppedBy, "budget");
  assert.equal(budgeted.history.length, 4);

  const controller = new AbortController();
  controller.abort();
  await assert.rejects(
    randomSearch(hammingHooks(), { samples: 40, seed: 1 }, { signal: controller.signal }),
    (e: Error) => e.name === "AbortError",
  );
});

/** hammingHooks whose evaluations take seeded random times and count how many run at once. */
function concurrentHooks(seed: number): SearchHooks<number> & { peak: () => number } {
  const hooks = hammingHooks();
  const evaluate = hooks.evaluate;
  const delays = new Rng(seed);
  let inFlight = 0;
  let peak = 0;
  return {
    ...hooks,
    peak: () => peak,
    evaluate: async (g, i) => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, delays.int(6)));
      inFlight--;
      return evaluate(g, i);
    },
  };
}

function trace(r: SearchResult<number>): [number, number, number][] {
  return r.history.map((e) => [e.index, e.candidate, e.fitness]);
}

Deno.test("concurrency: RE and random search record the same run as one at a time", async () => {
  const options = { ...OPTIONS, population: 12, iterations: 8 };
  const sequential = await regularizedEvolution(hammingHooks(), options);
  for (const concurrency of [2, 5, 40]) {
    const hooks = concurrentHooks(concurrency);
    const order: number[] = [];
    const parallel = await regularizedEvolution(hooks, options, {
      concurrency,
      onEvaluation: (e) => {
        order.push(e.evaluation.index);
      },
    });
    assert.deepEqual(trace(parallel), trace(sequential), `concurrency ${concurrency}`);
    assert.deepEqual(parallel.best.index, sequential.best.index);
    assert.deepEqual(order, range(0, 20), "recorded in history order");
    // Only the initial population overlaps; the children wait for the population before them.
    assert.equal(hooks.peak(), Math.min(concurrency, options.population));
  }
  const random = await randomSearch(hammingHooks(), { samples: 15, seed: 2 });
  const hooks = concurrentHooks(9);
  const randomParallel = await randomSearch(hooks, { samples: 15, seed: 2 }, { concurrency: 4 });
  assert.deepEqual(trace(randomParallel), trace(random));
  assert.equal(hooks.peak(), 4);
});

Deno.test("concurrency: budgets, abort and replay hold with evaluations in flight", async () => {
  const budgeted = await randomSearch(concurrentHooks(1), { samples: 40, seed: 1 }, {
    concurrency: 3,
    budget: { evaluations: 7 },
  });
  assert.equal(budgeted.stoppedBy, "budget");
  assert.equal(budgeted.history.length, 7, "no evaluation beyond the budget is started");

  // Abort after the third record: the ones already started finish and are recorded, no more start.
  const controller = new AbortController();
  const aborted = await randomSearch(concurrentHooks(2), { samples: 40, seed: 1 }, {
    concurrency: 4,
    signal: controller.signal,
    onEvaluation: (e) => {
      if (e.done === 3) controller.abort();
    },
  });
  assert.equal(aborted.stoppedBy, "aborted");
  assert.ok(
    aborted.history.length >= 3 && aborted.history.length <= 6,
    `${aborted.history.length}`,
  );

  const full = await randomSearch(hammingHooks(), { samples: 12, seed: 4 });
  const replay: ReplayRecord[] = full.history.slice(0, 5).map((e) => ({
    key: e.key,
    fitness: e.fitness,
    info: e.info,
  }));
  const hooks = concurrentHooks(3);
  const calls: number[] = [];
  const evaluate = hooks.evaluate;
  hooks.evaluate = (g, i) => {
    calls.push(i);
    return evaluate(g, i);
  };
  const resumed = await randomSearch(hooks, { samples: 12, seed: 4 }, { replay, concurrency: 3 });
  assert.deepEqual(trace(resumed), trace(full));
  assert.deepEqual(calls.sort((a, b) => a - b), range(5, 12), "replayed ones are not evaluated");

  let failing = 0;
  const throwing = concurrentHooks(4);
  const ok = throwing.evaluate;
  // The failure lands last (after the other evaluations in flight), so no timer outlives the test.
  throwing.evaluate = async (g, i) => {
    if (i !== 2) return await ok(g, i);
    await new Promise((resolve) => setTimeout(resolve, 30));
    throw new Error(`boom ${++failing}`);
  };
  await assert.rejects(
    randomSearch(throwing, { samples: 10, seed: 1 }, { concurrency: 3 }),
    /boom 1/,
  );
});

Deno.test("asynchronous RE: bred from the population after evaluation i − concurrency", async () => {
  const options = { ...OPTIONS, population: 6, tournament: 2, iterations: 30, asynchronous: true };
  const sync = await regularizedEvolution(hammingHooks(), { ...options, asynchronous: false });
  const one = await regularizedEvolution(concurrentHooks(1), options, { concurrency: 1 });
  assert.deepEqual(trace(one), trace(sync), "concurrency 1 is the synchronous run");

  const runs = [];
  for (const delaySeed of [2, 3]) {
    const hooks = concurrentHooks(delaySeed);
    runs.push(await regularizedEvolution(hooks, options, { concurrency: 3 }));
    assert.equal(hooks.peak(), 3, "children are in flight three at a time");
  }
  assert.deepEqual(trace(runs[0]), trace(runs[1]), "timing does not change the run");
  assert.notDeepEqual(trace(runs[0]), trace(sync));
  assert.deepEqual(trace(runs[0]).slice(0, 6), trace(sync).slice(0, 6), "same initial population");

  // Which evaluations a child's parent can be: recorded by then, and still alive (aged P).
  const fitness = (i: number) => (i * 7919) % 13;
  const hooks = instrumentedHooks(fitness);
  const evaluate = hooks.evaluate;
  hooks.evaluate = async (g, i) => {
    await new Promise((resolve) => setTimeout(resolve, (i * 5) % 4));
    return evaluate(g, i);
  };
  await regularizedEvolution(hooks, options, { concurrency: 3 });
  assert.equal(hooks.parentOf.size, 30);
  let atLimit = 0;
  for (const [child, parent] of hooks.parentOf) {
    const newest = Math.max(child - 3, 5);
    assert.ok(parent <= newest, `child ${child} bred from ${parent}, not yet recorded`);
    assert.ok(parent > newest - 6, `child ${child} bred from ${parent}, aged out`);
    if (parent === newest) atLimit++;
  }
  assert.ok(atLimit > 0, "some parent is the newest recorded member");
});

Deno.test("asynchronous RE resumed from its first records equals the uninterrupted run", async () => {
  const options = { ...OPTIONS, population: 5, tournament: 2, iterations: 15, asynchronous: true };
  const full = await regularizedEvolution(concurrentHooks(5), options, { concurrency: 3 });
  for (const cut of [3, 9]) {
    const replay: ReplayRecord[] = full.history.slice(0, cut).map((e) => ({
      key: e.key,
      fitness: e.fitness,
      info: e.info,
    }));
    const resumed = await regularizedEvolution(concurrentHooks(6), options, {
      concurrency: 3,
      replay,
    });
    assert.deepEqual(trace(resumed), trace(full), `resumed after ${cut}`);
  }
});
