/**
 * The command line as a user meets it: bad input of every kind gives one clear message naming the
 * field and exit code 2 with nothing written; real commands run on tiny settings.
 */
import assert from "node:assert/strict";
import { runCli, TINY } from "./support/cli.ts";
import { sharedFile } from "./support/data.ts";

function matrix(n: number, fill: (r: number, c: number) => number): number[][] {
  return Array.from({ length: n }, (_, r) => Array.from({ length: n }, (_, c) => fill(r, c)));
}

const nb101 = (m: number[][], ops: string[]) => JSON.stringify({ matrix: m, ops });
const interior = (k: number) => Array.from({ length: k }, () => "conv3x3-bn-relu");

const BAD_INPUT: [string, string[], RegExp][] = [
  [
    "malformed NB-201 arch",
    ["score", "--space", "nb201", "--arch", "|nor_conv_3x3~0|+|bad|"],
    /NB-201 arch/,
  ],
  ["unknown NB-201 op", [
    "score",
    "--space",
    "nb201",
    "--arch",
    "|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|",
  ], /conv_5x5.*nor_conv_3x3/s],
  ["NB-101 cycle", [
    "score",
    "--space",
    "nb101",
    "--arch",
    nb101([[0, 1, 0], [0, 0, 1], [1, 0, 0]], ["input", "conv3x3-bn-relu", "output"]),
  ], /cycle/],
  ["NB-101 with more than 9 edges", [
    "score",
    "--space",
    "nb101",
    "--arch",
    nb101(matrix(7, (r, c) => (c > r ? 1 : 0)), ["input", ...interior(5), "output"]),
  ], /21 edges.*at most 9/],
  ["NB-101 with more than 7 vertices", [
    "score",
    "--space",
    "nb101",
    "--arch",
    nb101(matrix(8, (r, c) => (c === r + 1 ? 1 : 0)), ["input", ...interior(6), "output"]),
  ], /8 vertices.*7/],
  ["unknown preset", ["score", "--task", "combo2"], /combo.*search-N.*single/],
  [
    "task JSON violating the schema",
    ["score", "--task", "fixtures/tasks/bad_partial.json"],
    /partial/,
  ],
  ["unknown space", ["score", "--space", "nb999"], /--space.*nb201.*nb101/],
  ["non-integer flag", ["score", "--seed", "1.5"], /--seed/],
  ["unknown flag", ["score", "--sead", "1"], /unknown option '--sead'/],
  ["table with missing columns", [
    "rank",
    "--truth",
    "fixtures/tables/nb201_missing_column.csv",
    "--sample",
    "2",
  ], /missing column.*cifar10_test.*columns found/],
  ["unknown NB-201 dataset", [
    "rank",
    "--truth",
    "fixtures/tables/nb201_small.csv",
    "--dataset",
    "svhn",
  ], /svhn.*cifar10/],
  [
    "tournament larger than population",
    ["search", "--population", "3", "--tournament", "4"],
    /--tournament/,
  ],
  ["bad budget", ["search", "--budget", "soon"], /--budget/],
];

for (const [what, args, message] of BAD_INPUT) {
  Deno.test(`bad input is reported with exit code 2: ${what}`, async () => {
    const r = await runCli(args);
    assert.deepEqual(r.code, 2, `exit code; stderr: ${r.stderr}`);
    assert(message.test(r.stderr), `stderr does not match ${message}: ${r.stderr}`);
    assert(!/\n\s+at /.test(r.stderr), `a stack trace leaked: ${r.stderr}`);
  });
}

Deno.test("bad input: a truncated CIFAR-10 file is rejected and no journal is written", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const images = `${dir}/truncated.bin`;
    await Deno.writeFile(images, new Uint8Array(3073 * 2 + 100).fill(3));
    const journal = `${dir}/run.jsonl`;
    const r = await runCli(["score", "--images", images, ...TINY]);
    assert.deepEqual(r.code, 2, r.stderr);
    assert(/truncated\.bin/.test(r.stderr) && /3073/.test(r.stderr), r.stderr);
    const rank = await runCli([
      "rank",
      "--truth",
      "fixtures/tables/nb201_small.csv",
      "--images",
      images,
      "--out",
      journal,
      ...TINY,
    ]);
    assert.deepEqual(rank.code, 2, rank.stderr);
    assert(!(await exists(journal)), "a journal was written for a run that never started");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("gennas info names the adapter", async () => {
  const r = await runCli(["info"]);
  assert.deepEqual(r.code, 0, r.stderr);
  assert(/adapter\s+\S+/.test(r.stdout) && /maxStorageBufferBindingSize/.test(r.stdout), r.stdout);
});

Deno.test("gennas score prints a finite loss (and JSON with --json)", async () => {
  const r = await runCli(["score", "--space", "nb201", "--json", ...TINY]);
  assert.deepEqual(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  assert(Number.isFinite(result.loss) && result.loss > 0, r.stdout);
  assert.deepEqual(result.trainLosses.length, 2);
  assert.deepEqual(result.images, "procedural (built-in)");
  const again = JSON.parse((await runCli(["score", "--space", "nb201", "--json", ...TINY])).stdout);
  assert.deepEqual(again.loss, result.loss, "same seed, same backend: same score");
});

const nb201Table = sharedFile("nb201.csv");
Deno.test({
  name: `gennas rank journals, reports and resumes${nb201Table.note}`,
  ignore: !nb201Table.present,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const out = `${dir}/run.jsonl`;
      const args = [
        "rank",
        "--space",
        "nb201",
        "--truth",
        nb201Table.path,
        "--sample",
        "3",
        "--out",
        out,
        ...TINY,
      ];
      const first = await runCli(args);
      assert.deepEqual(first.code, 0, first.stderr);
      assert(
        /Spearman ρ/.test(first.stdout) && /ρ\(−loss, accuracy\)/.test(first.stdout),
        first.stdout,
      );
      assert(
        /^ +params +-?\d/m.test(first.stdout) && /^ +flops +/m.test(first.stdout),
        first.stdout,
      );
      const lines = (await Deno.readTextFile(out)).trim().split("\n");
      assert.deepEqual(lines.length, 4, "header + 3 scores");
      assert(
        (await Deno.readTextFile(`${dir}/run.html`)).includes("<svg"),
        "HTML report with a plot",
      );
      const second = await runCli(args);
      assert.deepEqual(second.code, 0, second.stderr);
      assert(/resuming .*3\/3 already scored/.test(second.stderr), second.stderr);
      assert.deepEqual(
        (await Deno.readTextFile(out)).trim().split("\n").length,
        4,
        "nothing rescored",
      );
      const metric = (s: string) => s.split("\n").find((l) => l.startsWith("Kendall"));
      assert.deepEqual(metric(second.stdout), metric(first.stdout));
      const changed = await runCli([
        ...args.slice(0, -6),
        "--iters",
        "3",
        "--batch",
        "2",
        "--init-channels",
        "4",
      ]);
      assert.deepEqual(changed.code, 2, "different settings must not resume the journal");
      assert(/proxy/.test(changed.stderr) && /--out/.test(changed.stderr), changed.stderr);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
