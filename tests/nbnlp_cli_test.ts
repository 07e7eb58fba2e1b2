/**
 * NAS-Bench-NLP from the command line: a bad recipe exits 2 naming the node; rank and search use
 * the space's sequence proxy (nlp-search, Adam lr 1e-3) without NLP flags, print the loss truth's
 * sign convention and the skipped non-OK rows, and resume from the journal. The fixture table
 * holds five PTB logs (four OK) with small args (emsize 6, nhid 6, 2 layers) for speed.
 */
import assert from "node:assert/strict";
import { runCli } from "./support/cli.ts";

const SMALL = "fixtures/tables/nbnlp_small.jsonl";
const QUICK = ["--iters", "2", "--batch", "2"];

Deno.test("nbnlp bad recipe exits 2 naming the node", async () => {
  const arch =
    '{"f":{"op":"linear","input":["x","h_prev_0"]},"h_new_0":{"op":"gelu","input":["f"]}}';
  const r = await runCli(["score", "--space", "nbnlp", "--arch", arch, ...QUICK]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /node "h_new_0": unknown op "gelu"; allowed: "linear", "blend"/);
  assert(!/\n\s+at /.test(r.stderr), `a stack trace leaked: ${r.stderr}`);
});

Deno.test("gennas rank --space nbnlp: loss truth, sign convention, skipped rows, Adam, resume", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const args = [
      "rank",
      "--space",
      "nbnlp",
      "--truth",
      SMALL,
      "--sample",
      "3",
      "--bootstrap",
      "0",
      "--out",
      `${dir}/rank.jsonl`,
      ...QUICK,
    ];
    const r = await runCli(args);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ranked 3 architectures against -final_test_loss/);
    assert.match(r.stdout, /lower is better; ranked as -final_test_loss/);
    assert.match(r.stdout, /skipped 1 rows whose status is not OK/);
    const lines = (await Deno.readTextFile(`${dir}/rank.jsonl`)).split("\n").filter(Boolean)
      .map((l) => JSON.parse(l));
    const header = lines.find((l) => l.settings)?.settings;
    assert.equal(header.task, "nlp-search");
    assert.equal(header.proxy.lr, 1e-3);
    assert.equal(header.proxy.weightDecay, 1.2e-6);
    const scores = lines.filter((l) => l.type === "score");
    assert.equal(scores.length, 3);
    assert(scores.every((s) => Number.isFinite(s.loss)));
    const again = await runCli(args);
    assert.equal(again.code, 0, again.stderr);
    const rho = (out: string) => /Spearman ρ +(\S+)/.exec(out)![1];
    assert.equal(rho(again.stdout), rho(r.stdout), "resumed from the journal: same result");
    const after = (await Deno.readTextFile(`${dir}/rank.jsonl`)).split("\n")
      .filter((l) => l.includes('"type":"score"'));
    assert.equal(after.length, 3, "nothing rescored");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gennas search --space nbnlp: RE over the table's cells, test loss and regret", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await runCli([
      "search",
      "--space",
      "nbnlp",
      "--truth",
      SMALL,
      "--population",
      "2",
      "--tournament",
      "1",
      "--iterations",
      "1",
      "--out",
      `${dir}/search.jsonl`,
      ...QUICK,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const m = /accuracy +(-\d\.\d\d) \(-final_test_loss\)/.exec(r.stdout);
    assert(m, r.stdout);
    const opt = /optimum +(-\d\.\d\d) in the table · regret (\d\.\d\d)/.exec(r.stdout);
    assert(opt, r.stdout);
    assert.equal(opt[1], "-4.37", "the best OK cell of the fixture (1000001, test loss 4.368)");
    assert(Number(opt[2]) >= 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gennas task-search --space nbnlp: NLP configs, journal, a best task score accepts", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const args = [
      "task-search",
      "--space",
      "nbnlp",
      "--truth",
      SMALL,
      "--samples",
      "3",
      "--population",
      "2",
      "--tournament",
      "1",
      "--iterations",
      "1",
      "--out",
      `${dir}/tasks.jsonl`,
      ...QUICK,
    ];
    const r = await runCli(args);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /3 task configs \(completed\) on 3 labelled architectures/);
    const best = JSON.parse(await Deno.readTextFile(`${dir}/tasks.task.json`));
    assert.deepEqual(Object.keys(best).sort(), ["batchsize", "dimension", "feature", "noise"]);
    assert.deepEqual(Object.keys(best.feature).sort(), ["0", "1"]);
    const journal = await Deno.readTextFile(`${dir}/tasks.jsonl`);
    const again = await runCli(args);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(await Deno.readTextFile(`${dir}/tasks.jsonl`), journal, "resumed: nothing rerun");
    assert.equal(again.stdout.match(/best ρ.*/)?.[0], r.stdout.match(/best ρ.*/)?.[0]);
    const score = await runCli([
      "score",
      "--space",
      "nbnlp",
      "--arch",
      `${SMALL}#1000001`,
      "--task",
      `${dir}/tasks.task.json`,
      ...QUICK,
    ]);
    assert.equal(score.code, 0, score.stderr);
    assert.match(score.stdout, /loss +\d/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
