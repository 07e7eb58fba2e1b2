/**
 * Shards and merge without a GPU: `--shard` parsing and the partition, shard journal names, and
 * `gennas merge` on hand-written shard journals (settings checks, missing, unfinished and
 * overlapping shards, --partial, duplicates, what --out may replace). Bad values exit with 2.
 */
import { resolve } from "node:path";
import { loadTruth } from "../src/eval/truth.ts";
import { rankCandidates } from "../src/proxy/run.ts";
import type { RankRecord } from "../src/proxy/ranking.ts";
import { mergeJournals } from "../src/shard/merge.ts";
import {
  checkShardOutputs,
  parseShard,
  type Shard,
  shardJournalPath,
  shardPositions,
  shardRunRecord,
} from "../src/shard/shard.ts";
import { getSpace } from "../src/spaces/index.ts";
import { InputError } from "../src/util/errors.ts";
import { openJournal, readJournal } from "../src/util/journal.ts";
import assert from "node:assert/strict";
import { REPO, runCli } from "./support/cli.ts";

async function throwsInput(f: () => unknown, pattern: RegExp): Promise<string> {
  try {
    await f();
  } catch (error) {
    assert(error instanceof InputError, `not an InputError: ${error}`);
    assert(pattern.test(error.message), `"${error.message}" does not match ${pattern}`);
    return error.message;
  }
  throw new Error(`no error; expected one matching ${pattern}`);
}

const env = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("--shard i/n, and auto/n from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX", () => {
  assert.deepEqual(parseShard("0/4", env({})), { index: 0, count: 4 });
  assert.deepEqual(parseShard("3/4", env({})), { index: 3, count: 4 });
  assert.deepEqual(parseShard("0/1", env({})), { index: 0, count: 1 });
  assert.deepEqual(parseShard("auto/4", env({ SLURM_ARRAY_TASK_ID: "2" })), { index: 2, count: 4 });
  assert.deepEqual(parseShard("auto/4", env({ JOB_COMPLETION_INDEX: "1" })), {
    index: 1,
    count: 4,
  });
  assert.deepEqual(
    parseShard("auto/4", env({ SLURM_ARRAY_TASK_ID: "3", JOB_COMPLETION_INDEX: "1" })),
    { index: 3, count: 4 },
    "Slurm's variable first",
  );
});

const BAD_SHARDS: [string, Record<string, string>, RegExp][] = [
  ["4/4", {}, /--shard "4\/4".*index i must be an integer in 0\.\.3.*got "4"/],
  ["0/0", {}, /--shard "0\/0".*count n must be an integer ≥ 1, got "0"/],
  ["-1/3", {}, /--shard "-1\/3".*index i must be an integer in 0\.\.2/],
  ["1.5/4", {}, /--shard "1\.5\/4".*index i must be an integer/],
  ["1/2.5", {}, /--shard "1\/2\.5".*count n must be an integer ≥ 1/],
  ["2", {}, /--shard "2": expected i\/n .* auto\/n/],
  ["a/b", {}, /--shard "a\/b".*count n/],
  ["auto/4", {}, /--shard "auto\/4": auto needs SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX/],
  ["auto/2", { SLURM_ARRAY_TASK_ID: "5" }, /SLURM_ARRAY_TASK_ID is "5".*0\.\.1.*--array=0-1/],
  ["auto/3", { JOB_COMPLETION_INDEX: "x" }, /JOB_COMPLETION_INDEX is "x"/],
];

Deno.test("bad --shard values are InputErrors naming the flag and what is allowed", async () => {
  for (const [text, vars, pattern] of BAD_SHARDS) {
    await throwsInput(() => parseShard(text, env(vars)), pattern);
  }
});

Deno.test("the shards partition the positions: each position is in exactly one shard", () => {
  for (const total of [0, 1, 5, 12]) {
    for (const count of [1, 2, 3, 7]) {
      const all = Array.from(
        { length: count },
        (_, index) => shardPositions(total, { index, count }),
      )
        .flat().sort((a, b) => a - b);
      assert.deepEqual(all, Array.from({ length: total }, (_, p) => p), `${total} over ${count}`);
    }
  }
  assert.deepEqual(shardPositions(10, { index: 1, count: 3 }), [1, 4, 7]);
});

Deno.test("a shard journals to its own file: {shard} expands, auto carries the shard", async () => {
  const shard = { index: 1, count: 3 };
  assert.deepEqual(
    await shardJournalPath("runs/r-{shard}.jsonl", "rank", "nb201", {}, shard),
    "runs/r-1-of-3.jsonl",
  );
  const auto = await shardJournalPath("auto", "rank", "nb201", { a: 1 }, shard);
  assert(/^gennas-runs\/rank-nb201-[0-9a-f]{8}\.shard-1-of-3\.jsonl$/.test(auto), auto);
  await throwsInput(
    () => checkShardOutputs(shard, { out: "runs/r.jsonl" }),
    /--out runs\/r\.jsonl: .*\{shard\}.*runs\/r-\{shard\}\.jsonl.*runs\/r-1-of-3\.jsonl/,
  );
  await throwsInput(() => checkShardOutputs(shard, {}), /needs a journal/);
  await throwsInput(
    () => checkShardOutputs(shard, { out: "auto", report: "r.html" }),
    /--report r\.html: a shard writes no report.*gennas merge --report/,
  );
  checkShardOutputs(shard, { out: "auto" });
  checkShardOutputs(undefined, { out: "runs/r.jsonl", report: "r.html" });
});

// ---------------------------------------------------------------------------------------------
// merge, on shard journals written here (as rank writes them, with made-up losses)

const TABLE = resolve(REPO, "fixtures/tables/nb201_small.csv");
const SETTINGS = {
  space: "nb201",
  truth: TABLE,
  truthMetric: "cifar10_test",
  archs: null,
  limit: null,
  sample: 3,
  task: "combo",
  taskConfig: { note: "carried, not read" },
  images: "procedural (built-in)",
  proxy: { iterations: 2, seed: 0 },
};

async function candidates(): Promise<string[]> {
  const table = await loadTruth("nb201", TABLE, { dataset: "cifar10" });
  return (await rankCandidates(getSpace("nb201"), table, { sample: 3 }, 0)).map((c) => c.text);
}

function scoreRecord(archs: string[], index: number): RankRecord {
  return {
    type: "score",
    index,
    arch: archs[index],
    key: archs[index],
    loss: [4.5, 2.5, 3][index],
    seconds: 1,
    trainLossFinal: 5,
  };
}

/** Writes shard `shard` with the records of `positions` (default: all of its own). */
async function writeShard(
  path: string,
  shard: Shard,
  o: { settings?: Record<string, unknown>; positions?: number[] } = {},
): Promise<string> {
  const archs = await candidates();
  const settings = { ...(o.settings ?? SETTINGS), shard };
  const { journal } = await openJournal<unknown>(path, "rank", settings);
  await journal.append(shardRunRecord(shard, "test adapter"));
  for (const p of o.positions ?? shardPositions(archs.length, shard)) {
    await journal.append(scoreRecord(archs, p));
  }
  journal.close();
  return path;
}

async function withShards(
  count: number,
  body: (dir: string, paths: string[]) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    const paths = [];
    for (let index = 0; index < count; index++) {
      paths.push(await writeShard(`${dir}/s-${index}-of-${count}.jsonl`, { index, count }));
    }
    await body(dir, paths);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("merge: shards in any order → the unsharded journal, in position order", async () => {
  await withShards(2, async (dir, paths) => {
    const r = await mergeJournals({ journals: [...paths].reverse(), out: `${dir}/m.jsonl` });
    const merged = await readJournal<RankRecord>(`${dir}/m.jsonl`);
    assert.deepEqual(merged.header.settings, SETTINGS, "the unsharded settings: no shard");
    const archs = await candidates();
    assert.deepEqual(merged.records, [0, 1, 2].map((p) => scoreRecord(archs, p)));
    assert.deepEqual(r.rank.archs.map((a) => a.loss), [4.5, 2.5, 3]);
    assert.deepEqual(r.rank.metrics.n, 3);
    assert.deepEqual(r.adapters, ["test adapter"]);
    assert.deepEqual(r.partial, false);
    const html = await Deno.readTextFile(`${dir}/m.html`);
    assert(html.includes("test adapter") && html.includes("<svg"), "report with the adapter");

    const again = await mergeJournals({ journals: paths, out: `${dir}/m.jsonl` });
    assert.deepEqual(again.replaced, true, "an earlier merge of the same run is replaced");
  });
});

Deno.test("merge refuses shards of different settings, naming the field", async () => {
  await withShards(2, async (dir, paths) => {
    const other = await writeShard(`${dir}/other.jsonl`, { index: 1, count: 2 }, {
      settings: { ...SETTINGS, proxy: { iterations: 3, seed: 0 } },
    });
    await throwsInput(
      () => mergeJournals({ journals: [paths[0], other] }),
      /different settings: proxy\.iterations is 2 in .*s-0-of-2\.jsonl, 3 in .*other\.jsonl/,
    );
    const four = await writeShard(`${dir}/four.jsonl`, { index: 1, count: 4 });
    await throwsInput(
      () => mergeJournals({ journals: [paths[0], four] }),
      /shard count \(n of --shard i\/n\) is 2 in .*, 4 in .*four\.jsonl/,
    );
  });
});

Deno.test("merge names missing and unfinished shards; --partial merges what there is", async () => {
  await withShards(3, async (dir, paths) => {
    await throwsInput(
      () => mergeJournals({ journals: [paths[0], paths[2]], out: `${dir}/m.jsonl` }),
      /shard 1\/3 is missing \(no journal given\).*--partial/,
    );
    const unfinished = await writeShard(`${dir}/u.jsonl`, { index: 1, count: 3 }, {
      positions: [],
    });
    await throwsInput(
      () => mergeJournals({ journals: [paths[0], unfinished, paths[2]] }),
      /shard 1\/3 \(.*u\.jsonl\) has 0 of 1 architectures/,
    );
    const r = await mergeJournals({
      journals: [paths[0], paths[2]],
      out: `${dir}/m.jsonl`,
      partial: true,
    });
    assert.deepEqual(r.partial, true);
    assert.deepEqual(r.rank.archs.map((a) => a.index), [0, 2]);
    const merged = await readJournal<RankRecord>(`${dir}/m.jsonl`);
    assert.deepEqual(merged.records.map((x) => x.index), [0, 2]);
  });
});

Deno.test("merge refuses overlapping shards, foreign records and an --out it would clobber", async () => {
  await withShards(2, async (dir, paths) => {
    await Deno.copyFile(paths[1], `${dir}/copy.jsonl`);
    await throwsInput(
      () => mergeJournals({ journals: [...paths, `${dir}/copy.jsonl`] }),
      /shard 1\/2 is given twice.*overlapping/,
    );
    const r = await mergeJournals({ journals: [...paths, paths[1]], out: `${dir}/m.jsonl` });
    assert.deepEqual(r.rank.archs.length, 3, "the same file twice counts once");

    const stray = await writeShard(`${dir}/stray.jsonl`, { index: 1, count: 2 }, {
      positions: [1, 2],
    });
    await throwsInput(
      () => mergeJournals({ journals: [paths[0], stray] }),
      /holds position 2, which belongs to shard 0\/2/,
    );
    await throwsInput(
      () => mergeJournals({ journals: paths, out: paths[0] }),
      /--out .*s-0-of-2\.jsonl is one of the journals being merged/,
    );
    const foreign = `${dir}/foreign.jsonl`;
    (await openJournal(foreign, "rank", { ...SETTINGS, sample: 2 })).journal.close();
    await throwsInput(
      () => mergeJournals({ journals: paths, out: foreign }),
      /holds a journal of other settings \(sample: .*never overwritten/,
    );
    await throwsInput(
      () => mergeJournals({ journals: paths, out: `${dir}/r-{shard}.jsonl` }),
      /drop \{shard\}/,
    );
    await Deno.writeTextFile(`${dir}/headless.jsonl`, '{"type":"header","kind":"ra');
    await throwsInput(
      () => mergeJournals({ journals: [...paths, `${dir}/headless.jsonl`] }),
      /headless\.jsonl is not a gennas journal.*killed before its header landed/,
    );
    await throwsInput(
      () => mergeJournals({ journals: [...paths, `${dir}/absent.jsonl`] }),
      /cannot read journal .*absent\.jsonl: no such file/,
    );
  });
});

Deno.test("merge drops repeated records of a position (the first is kept)", async () => {
  await withShards(1, async (dir) => {
    const path = await writeShard(`${dir}/twice.jsonl`, { index: 0, count: 1 }, {
      positions: [0, 1, 1, 2, 0],
    });
    const r = await mergeJournals({ journals: [path], out: `${dir}/m.jsonl` });
    assert.deepEqual(r.duplicates, 2);
    assert.deepEqual(r.rank.archs.map((a) => a.index), [0, 1, 2]);
  });
});

// ---------------------------------------------------------------------------------------------
// The command line: exit code 2, before the table is read or the GPU acquired

const NO_INDEX = { SLURM_ARRAY_TASK_ID: "", JOB_COMPLETION_INDEX: "" };
const RANK_BAD: [string, string[], Record<string, string>, RegExp][] = [
  ["index ≥ n", ["--shard", "3/3"], {}, /--shard "3\/3".*0\.\.2/],
  ["n < 1", ["--shard", "0/0"], {}, /--shard "0\/0".*n must be an integer ≥ 1/],
  ["non-integer", ["--shard", "0.5/2"], {}, /--shard "0\.5\/2".*integer/],
  ["auto without an index variable", ["--shard", "auto/2"], NO_INDEX, /auto needs SLURM_ARR/],
  ["auto index ≥ n", ["--shard", "auto/2"], { ...NO_INDEX, JOB_COMPLETION_INDEX: "2" }, /0\.\.1/],
  ["--out without {shard}", ["--shard", "0/2", "--out", "r.jsonl"], {}, /\{shard\}/],
];

for (const [what, flags, vars, pattern] of RANK_BAD) {
  Deno.test(`gennas rank --shard: ${what} → exit 2 before anything is loaded`, async () => {
    // The table does not exist: the shard is checked before it is read (and the GPU acquired).
    const r = await runCli(["rank", "--truth", "no/such/table.csv", ...flags], { env: vars });
    assert.deepEqual(r.code, 2, r.stderr);
    assert(pattern.test(r.stderr), `stderr does not match ${pattern}: ${r.stderr}`);
    assert(!/table\.csv/.test(r.stderr) && !/\n\s+at /.test(r.stderr), r.stderr);
  });
}

Deno.test("gennas merge exits 2 on mixed settings and missing shards, and --partial merges", async () => {
  await withShards(3, async (dir, paths) => {
    const other = await writeShard(`${dir}/other.jsonl`, { index: 1, count: 3 }, {
      settings: { ...SETTINGS, task: "single" },
    });
    const mixed = await runCli(["merge", paths[0], other, paths[2], "--out", `${dir}/m.jsonl`]);
    assert.deepEqual(mixed.code, 2, mixed.stderr);
    assert(
      /different settings: task is "combo" in .*, "single" in/.test(mixed.stderr),
      mixed.stderr,
    );

    const missing = await runCli(["merge", paths[0], paths[2], "--out", `${dir}/m.jsonl`]);
    assert.deepEqual(missing.code, 2, missing.stderr);
    assert(/shard 1\/3 is missing/.test(missing.stderr), missing.stderr);
    assert(!(await Deno.stat(`${dir}/m.jsonl`).then(() => true, () => false)), "nothing written");

    const partial = await runCli([
      "merge",
      paths[0],
      paths[2],
      "--out",
      `${dir}/m.jsonl`,
      "--partial",
    ]);
    assert.deepEqual(partial.code, 0, partial.stderr);
    assert(/partial: shard 1\/3 is missing/.test(partial.stderr), partial.stderr);
    assert(/merged 2 of 3 shards: 2 of 3 architectures \(partial\)/.test(partial.stdout));
    assert(/Spearman ρ/.test(partial.stdout) && /report .*m\.html/.test(partial.stdout));
  });
});
