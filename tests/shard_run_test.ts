/**
 * Sharded `gennas rank` end to end, as subprocesses: shards run in parallel and merged give the
 * journal, metrics and report of one unsharded run with the same settings; a shard killed with
 * SIGKILL after its first score landed resumes and merges to the same result.
 */
import assert from "node:assert/strict";
import { CLI, REPO, runCli, SMALL_NB201, TINY } from "./support/cli.ts";

const NB201 = SMALL_NB201;

// The archs file sits at one path for the whole file: its absolute path is a setting.
const DIR = Deno.makeTempDirSync({ prefix: "gennas-shard-run-" });
globalThis.addEventListener("unload", () => Deno.removeSync(DIR, { recursive: true }));
// With 2 shards, shard 0 scores the quick all-`none` cell, then a cell with convolutions: a kill
// right after its first score lands catches it in flight.
Deno.writeTextFileSync(`${DIR}/archs.txt`, NB201.join("\n") + "\n");
const RANK = [
  "rank",
  "--truth",
  "fixtures/tables/nb201_small.csv",
  "--archs",
  `${DIR}/archs.txt`,
  ...TINY,
];

interface Scored {
  index: number;
  arch: string;
  key: string;
  loss: number | null;
  trainLossFinal: number | null;
}

async function journal(path: string): Promise<{ settings: unknown; scores: Scored[] }> {
  const lines = (await Deno.readTextFile(path)).split("\n").filter((l) => l.startsWith("{"));
  const parsed = lines.map((l) => JSON.parse(l));
  return {
    settings: parsed[0].settings,
    // Everything but the timings, which differ from run to run.
    scores: parsed.filter((r) => r.type === "score").map((r) => ({
      index: r.index,
      arch: r.arch,
      key: r.key,
      loss: r.loss,
      trainLossFinal: r.trainLossFinal,
    })),
  };
}

const metricLines = (stdout: string) =>
  stdout.split("\n").filter((l) => /^(ranked|sign|Spearman|Kendall|retrieval)/.test(l));

let single: Promise<{ stdout: string }> | undefined;
/** One unsharded run with the same settings, shared by the tests. */
function unsharded(): Promise<{ stdout: string }> {
  single ??= runCli([...RANK, "--out", `${DIR}/single.jsonl`]).then((r) => {
    assert.deepEqual(r.code, 0, r.stderr);
    return r;
  });
  return single;
}

async function assertSameAsUnsharded(merged: string, mergeStdout: string): Promise<void> {
  const { stdout } = await unsharded();
  const [expected, actual] = [await journal(`${DIR}/single.jsonl`), await journal(merged)];
  assert.deepEqual(actual.settings, expected.settings, "the same header settings");
  assert.deepEqual(actual.scores, expected.scores, "the same scores in the same order");
  assert.deepEqual(metricLines(mergeStdout), metricLines(stdout), "the same metrics");
  assert.deepEqual(metricLines(stdout).length, 5);
  // Seconds per arch differ run to run; everything else must not.
  const untimed = (html: string) => html.replace(/<td class="num secs">[^<]*<\/td>/g, "");
  assert.deepEqual(
    untimed(await Deno.readTextFile(merged.replace(/\.jsonl$/, ".html"))),
    untimed(await Deno.readTextFile(`${DIR}/single.html`)),
    "the same report",
  );
}

Deno.test("3 shards run in parallel and merged equal one unsharded run", async () => {
  const out = `${DIR}/par-{shard}.jsonl`;
  const [shards] = await Promise.all([
    Promise.all([0, 1, 2].map((i) => runCli([...RANK, "--shard", `${i}/3`, "--out", out]))),
    unsharded(),
  ]);
  for (const [i, r] of shards.entries()) {
    assert.deepEqual(r.code, 0, r.stderr);
    assert(new RegExp(`shard ${i}/3: 1 architectures scored`).test(r.stdout), r.stdout);
    assert(!/Spearman/.test(r.stdout), "a shard prints no metrics of its part");
  }
  const journals = [2, 0, 1].map((i) => `${DIR}/par-${i}-of-3.jsonl`);
  const merged = await runCli(["merge", ...journals, "--out", `${DIR}/par.jsonl`]);
  assert.deepEqual(merged.code, 0, merged.stderr);
  assert(/merged 3 of 3 shards: 3 of 3 architectures/.test(merged.stdout), merged.stdout);
  await assertSameAsUnsharded(`${DIR}/par.jsonl`, merged.stdout);
});

Deno.test("a shard killed after its first score resumes and merges to the same result", async () => {
  const args = [...RANK, "--shard", "0/2", "--out", `${DIR}/kill-{shard}.jsonl`];
  const path = `${DIR}/kill-0-of-2.jsonl`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    cwd: REPO,
    stdout: "null",
    stderr: "null",
  }).spawn();
  const scored = async () => (await journal(path).catch(() => ({ scores: [] }))).scores.length;
  for (let waited = 0; waited < 6000 && (await scored()) < 1; waited++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill("SIGKILL");
  await child.status;
  assert.deepEqual(await scored(), 1, "killed with one of its two architectures scored");

  const [resumed, other] = await Promise.all([
    runCli(args),
    runCli([...RANK, "--shard", "1/2", "--out", `${DIR}/kill-{shard}.jsonl`]),
  ]);
  assert.deepEqual(resumed.code, 0, resumed.stderr);
  assert(/resuming .*kill-0-of-2\.jsonl: 1\/2 already scored/.test(resumed.stderr), resumed.stderr);
  assert.deepEqual(other.code, 0, other.stderr);
  assert.deepEqual(
    (await journal(path)).scores.map((s) => s.index),
    [0, 2],
    "no loss, no duplicate",
  );

  const merged = await runCli([
    "merge",
    path,
    `${DIR}/kill-1-of-2.jsonl`,
    "--out",
    `${DIR}/kill.jsonl`,
  ]);
  assert.deepEqual(merged.code, 0, merged.stderr);
  await assertSameAsUnsharded(`${DIR}/kill.jsonl`, merged.stdout);
});
