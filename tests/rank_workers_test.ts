/**
 * `rank --workers N`: the same scores as one at a time, through the library's worker module and
 * through the CLI's own module (which serves as the worker of bundles and compiled binaries); a
 * journal written by workers resumes with none; --max-memory replaces workers without changing a
 * score; a failing worker rejects the rank; bad counts exit 2. `search --workers` and
 * `--max-memory`: the same search (history, losses, best) as one at a time.
 */
import assert from "node:assert/strict";
import { type ArchSearchReport, rank, type RankReport, searchArchitectures } from "../mod.ts";
import { type WorkerJob, WorkerPool } from "../src/proxy/workers.ts";
import { acquireGpu } from "../src/gpu/device.ts";
import type { CandidateOutcome, RankWorkerInit } from "../src/proxy/run.ts";
import { InputError } from "../src/util/errors.ts";
import { CLI, runCli, SMALL_NB201, TINY } from "./support/cli.ts";

const NB201 = SMALL_NB201;
const DIR = Deno.makeTempDirSync({ prefix: "gennas-workers-" });
globalThis.addEventListener("unload", () => Deno.removeSync(DIR, { recursive: true }));
Deno.writeTextFileSync(`${DIR}/archs.txt`, NB201.join("\n") + "\n");

const options = {
  space: "nb201",
  truth: "fixtures/tables/nb201_small.csv",
  archs: `${DIR}/archs.txt`,
  settings: { iterations: 2, batch: 2, initChannels: 4 },
  bootstrap: 0,
};

const RANK_TWO_WORKERS = [
  "rank",
  "--truth",
  options.truth,
  "--archs",
  options.archs,
  "--workers",
  "2",
];

/** index → loss of a report's scored archs. */
function scores(r: RankReport): Map<number, number> {
  return new Map(r.archs.map((a) => [a.index, a.loss]));
}

let sequential: Promise<RankReport> | undefined;
const oneAtATime = () => sequential ??= rank({ ...options, out: `${DIR}/one.jsonl` });

Deno.test("rank --workers 2 gives the scores of one at a time and resumes with none", async () => {
  const events: number[] = [];
  const two = await rank({
    ...options,
    workers: 2,
    out: `${DIR}/two.jsonl`,
    onEvent: (e) => {
      if (e.type === "scored") events.push(e.index);
    },
  });
  const one = await oneAtATime();
  assert.equal(two.archs.length, NB201.length);
  assert.deepEqual(scores(two), scores(one));
  assert.ok(two.archs.every((a) => Number.isFinite(a.loss)));
  assert.deepEqual([...events].sort(), [0, 1, 2], "one event per position");
  assert.equal(two.metrics.kendall, one.metrics.kendall);
  assert.equal(two.workers, 2);
  assert.ok(two.wallSecondsPerArch! > 0, "throughput reported");
  assert.equal(one.wallSecondsPerArch, undefined);
  const again = await rank({ ...options, workers: 2, out: `${DIR}/two.jsonl` });
  assert.ok(again.resumed);
  assert.ok(Number.isNaN(again.secondsPerArch), "nothing scored afresh");
  assert.deepEqual(scores(again), scores(one));
});

Deno.test("the CLI's module serves as the worker (bundles and binaries carry no second file)", async () => {
  const viaCli = await rank({
    ...options,
    workers: 3,
    workerUrl: new URL(`file://${CLI}`),
    out: `${DIR}/cli.jsonl`,
  });
  assert.deepEqual(scores(viaCli), scores(await oneAtATime()));
});

Deno.test("--max-memory replaces a worker after its result lands: the same scores", async () => {
  // 1 MiB: over the limit after every result, so each position but the last gets a new worker.
  const recycled = await rank({
    ...options,
    maxMemory: 1,
    out: `${DIR}/recycled.jsonl`,
  });
  assert.equal(recycled.recycledWorkers, NB201.length - 1);
  assert.equal(recycled.workers, 1);
  assert.deepEqual(scores(recycled), scores(await oneAtATime()));
  const roomy = await rank({ ...options, maxMemory: 1e6, workers: 2, out: `${DIR}/roomy.jsonl` });
  assert.equal(roomy.recycledWorkers, 0);
  await assert.rejects(rank({ ...options, maxMemory: 0 }), /--max-memory must be a positive/);
});

Deno.test("the pool names its workers' adapter (the main thread then needs no GPU)", async () => {
  const pool = new WorkerPool({
    workers: 1,
    init: { options: { space: "nb201", settings: options.settings }, names: ["gennas"] },
  });
  try {
    const [inWorker, here] = await Promise.all([pool.description(), acquireGpu()]);
    assert.equal(inWorker, here.adapterInfo.description);
    assert.ok(inWorker.length > 0);
  } finally {
    pool.close();
  }
  await assert.rejects(pool.submit({ index: 0, text: NB201[0], key: "" }), /closed/);
});

Deno.test("no adapter in the workers: exit 3 with the install hint, as without workers", async () => {
  const noDriver = { VK_ICD_FILENAMES: "/nonexistent/icd.json", DENO_WEBGPU_BACKEND: "vulkan" };
  const r = await runCli([
    ...RANK_TWO_WORKERS,
    "--out",
    `${DIR}/no-gpu.jsonl`,
    ...TINY,
  ], { env: noDriver });
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /No WebGPU adapter found/);
  assert.doesNotMatch(r.stderr, /rank worker/);
  assert.throws(() => Deno.statSync(`${DIR}/no-gpu.jsonl`), "nothing half-written");
  for (const command of [["search"], ["task-search", "--truth", options.truth, "--samples", "3"]]) {
    const out = `${DIR}/no-gpu-${command[0]}.jsonl`;
    const s = await runCli([...command, "--workers", "2", "--out", out, ...TINY], {
      env: noDriver,
    });
    assert.equal(s.code, 3, s.stderr);
    assert.match(s.stderr, /No WebGPU adapter found/);
    assert.throws(() => Deno.statSync(out), `${command[0]}: nothing half-written`);
  }
});

Deno.test("the pool starts a worker only for a job no starting worker will take", async () => {
  const init = { options: { space: "nb201", settings: options.settings }, names: ["gennas"] };
  const job = (index: number) => ({ index, text: NB201[0], key: NB201[0] });
  const oneAtATime = new WorkerPool<typeof init, { loss: number | null }>({ workers: 2, init });
  const together = new WorkerPool<typeof init, { loss: number | null }>({ workers: 2, init });
  try {
    const first = await oneAtATime.submit(job(0));
    const second = await oneAtATime.submit(job(1));
    assert.equal(oneAtATime.started, 1, "sequential jobs reuse the worker that compiled them");
    assert.equal(second.loss, first.loss);
    await Promise.all([0, 1, 2].map((i) => together.submit(job(i))));
    assert.equal(together.started, 2);
  } finally {
    oneAtATime.close();
    together.close();
  }
});

/** Scores `jobs` in a fresh pool of `workers`, then closes it. */
async function scoreInPool(init: RankWorkerInit, workers: number, jobs: WorkerJob[]) {
  const pool = new WorkerPool<RankWorkerInit, CandidateOutcome>({ workers, init });
  try {
    await pool.scoreAll(jobs, () => Promise.resolve());
  } finally {
    pool.close();
  }
}

Deno.test("a worker's failure rejects the pool, naming the position", async () => {
  await assert.rejects(
    scoreInPool({ options: { space: "nb201", settings: options.settings }, names: ["gennas"] }, 2, [
      { index: 0, text: NB201[0], key: "not its key" },
      { index: 1, text: NB201[2], key: "nor this" },
    ]),
    /rank worker \(position [01]\): .*parses to key/,
  );
  await assert.rejects(
    scoreInPool(
      {
        options: { space: "nb201", settings: { ...options.settings, batch: -3 } },
        names: ["gennas"],
      },
      1,
      [{ index: 0, text: NB201[0], key: "" }],
    ),
    InputError,
    "a bad setting is the user's error in a worker too",
  );
});

Deno.test("--workers: a positive integer (else exit 2); the CLI prints the throughput", async () => {
  await assert.rejects(rank({ ...options, workers: 0 }), /--workers must be an integer ≥ 1/);
  const r = await runCli(["rank", "--truth", options.truth, "--workers", "0", ...TINY]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--workers/);
  const ok = await runCli([
    ...RANK_TWO_WORKERS,
    "--bootstrap",
    "0",
    "--out",
    `${DIR}/cli-run.jsonl`,
    ...TINY,
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /s of wall time per arch with 2 workers/);
});

/** What a search found, without timings. */
function searchTrace(r: ArchSearchReport): [number, string, number][] {
  return r.history.map((h) => [h.index, h.arch, h.loss]);
}

Deno.test("search --workers 2 and --max-memory run the search of one at a time", async () => {
  const search = {
    space: "nb201",
    task: "search-N",
    settings: options.settings,
    population: 4,
    tournament: 2,
    iterations: 2,
  };
  const one = await searchArchitectures({ ...search, out: `${DIR}/search-one.jsonl` });
  const two = await searchArchitectures({
    ...search,
    workers: 2,
    workerUrl: new URL(`file://${CLI}`),
    out: `${DIR}/search-two.jsonl`,
  });
  assert.equal(one.history.length, 6);
  assert.deepEqual(searchTrace(two), searchTrace(one));
  assert.equal(two.best.arch, one.best.arch);
  assert.equal(two.asynchronous, false);
  const ahead = await searchArchitectures({
    ...search,
    workers: 2,
    asynchronous: true,
    out: `${DIR}/search-async.jsonl`,
  });
  assert.equal(ahead.asynchronous, true);
  assert.deepEqual(searchTrace(ahead).slice(0, 4), searchTrace(one).slice(0, 4));
  assert.equal(ahead.history.length, 6);
  const header = JSON.parse(Deno.readTextFileSync(`${DIR}/search-async.jsonl`).split("\n")[0]);
  assert.equal(header.settings.asynchronousWorkers, 2, "the journal names the worker count");
  const recycled = await searchArchitectures({
    ...search,
    strategy: "random",
    maxMemory: 1,
    out: `${DIR}/search-recycled.jsonl`,
  });
  const random = await searchArchitectures({
    ...search,
    strategy: "random",
    out: `${DIR}/search-random.jsonl`,
  });
  assert.deepEqual(searchTrace(recycled), searchTrace(random));
  assert.equal(recycled.recycledWorkers, 5, "a fresh worker for each evaluation but the first");
  assert.equal(two.workers, 2);
  assert.equal(one.workers, undefined);
  await assert.rejects(searchArchitectures({ ...search, workers: 0 }), /--workers must be/);
  await assert.rejects(
    searchArchitectures({ ...search, asynchronous: true }),
    /--asynchronous .* needs --strategy evolution and --workers N with N ≥ 2/,
  );
  await assert.rejects(
    searchArchitectures({ ...search, asynchronous: true, workers: 2, strategy: "random" }),
    /got --strategy random/,
  );
  const bad = await runCli(["search", "--max-memory", "0", ...TINY]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--max-memory/);
});
