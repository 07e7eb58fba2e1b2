/**
 * NDS cell spaces from the command line: bad genotypes exit 2 naming cell and node; score takes
 * the DARTS text with --width/--depth; rank joins an NDS table (width 4, depth 3) by key (test_acc);
 * search prints the best genotype in DARTS text form. Tiny widths and depths throughout.
 */
import assert from "node:assert/strict";
import { FAST, GENOTYPE } from "./support/nds.ts";
import { runCli } from "./support/cli.ts";
import { loadTruth } from "../src/eval/truth.ts";

const SMALL = "fixtures/tables/nds_darts_in_small.jsonl";

Deno.test("gennas score --space darts: a bad op exits 2 naming cell and node", async () => {
  const bad = GENOTYPE.replace("('dil_conv_5x5', 2)", "('conv_7x1_1x7', 2)");
  const r = await runCli(["score", "--space", "darts", "--arch", bad, ...FAST]);
  assert.deepEqual(r.code, 2, r.stderr);
  assert(
    /cell "reduce" node 1 \(state 3\), entry 2: op "conv_7x1_1x7" is not in the DARTS op set/
      .test(r.stderr),
    r.stderr,
  );
  assert(!/\n\s+at /.test(r.stderr), `a stack trace leaked: ${r.stderr}`);
});

Deno.test("gennas score --space darts takes DARTS text with --width/--depth", async () => {
  const r = await runCli([
    "score",
    "--space",
    "darts",
    "--arch",
    GENOTYPE,
    "--width",
    "4",
    "--depth",
    "3",
    "--json",
    ...FAST,
  ]);
  assert.deepEqual(r.code, 0, r.stderr);
  assert(r.stdout.includes("# width=4 depth=3"), r.stdout);
  assert(/"loss":\s*\d/.test(r.stdout), r.stdout);
});

Deno.test("gennas rank --space darts_in joins an NDS table by genotype (test_acc)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await runCli([
      "rank",
      "--space",
      "darts_in",
      "--truth",
      SMALL,
      "--sample",
      "3",
      "--bootstrap",
      "0",
      "--out",
      `${dir}/rank.jsonl`,
      ...FAST,
    ]);
    assert.deepEqual(r.code, 0, r.stderr);
    assert(/ranked 3 architectures against test_acc/.test(r.stdout), r.stdout);
    const keys = (await Deno.readTextFile(`${dir}/rank.jsonl`)).split("\n")
      .filter((l) => l.includes('"type":"score"')).map((l) => JSON.parse(l).key).sort();
    const table = await loadTruth("darts_in", SMALL);
    assert.deepEqual(keys, [...table.accuracy.keys()].sort());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gennas search --space darts --width/--depth prints a DARTS genotype and the scale", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await runCli([
      "search",
      "--space",
      "darts",
      "--width",
      "8",
      "--width-scale",
      "0.5",
      "--depth",
      "3",
      "--population",
      "2",
      "--tournament",
      "1",
      "--iterations",
      "1",
      "--out",
      `${dir}/search.jsonl`,
      ...FAST,
    ]);
    assert.deepEqual(r.code, 0, r.stderr);
    const m = /best arch +(Genotype\(normal=\[.*\], reduce_concat=\[[\d, ]+\]\)) # width=8 depth=3/
      .exec(r.stdout);
    assert(m, r.stdout);
    assert(/\nwidth scale 0\.5 \(/.test(r.stdout), r.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
