/**
 * --max-flops: score refuses an arch over the budget (exit 2, nothing scored), rank drops such
 * archs before scoring and says how many, search only evaluates archs within it; the draws and
 * filters themselves against counted MACs.
 */
import assert from "node:assert/strict";
import { runCli, TINY } from "./support/cli.ts";
import { getSpace } from "../src/spaces/index.ts";
import { checkBudget, drawWithinBudget, megaMacs, withinBudget } from "../src/proxy/budget.ts";
import { InputError } from "../src/util/errors.ts";
import { Rng } from "../src/util/rng.ts";

const nb201 = getSpace("nb201");
const OPTS = { initChannels: 4 };
const HEAVY = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|" +
  "nor_conv_3x3~2|";
const LIGHT = "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|skip_connect~2|";
const MID = "|nor_conv_1x1~0|+|skip_connect~0|none~1|+|none~0|nor_conv_1x1~1|skip_connect~2|";

// deno-lint-ignore no-explicit-any
async function records(path: string): Promise<any[]> {
  return (await Deno.readTextFile(path)).trim().split("\n").map((l) => JSON.parse(l));
}

function macs(text: string): number {
  return megaMacs(nb201, nb201.parse(text), OPTS);
}

Deno.test("budget: counted MACs order the archs, and filters keep exactly those within", () => {
  const [light, mid, heavy] = [LIGHT, MID, HEAVY].map(macs);
  assert(light < mid && mid < heavy, `${light} ${mid} ${heavy}`);
  const budget = (mid + heavy) / 2;
  const { kept, dropped } = withinBudget(
    nb201,
    [LIGHT, HEAVY, MID],
    (t) => nb201.parse(t),
    OPTS,
    budget,
  );
  assert.deepEqual(kept, [LIGHT, MID]);
  assert.deepEqual(dropped, 1);
  assert.deepEqual(withinBudget(nb201, [HEAVY], (t) => nb201.parse(t), OPTS, undefined).kept, [
    HEAVY,
  ]);
  assert.doesNotThrow(() => checkBudget(nb201, nb201.parse(MID), OPTS, budget));
  assert.throws(
    () => checkBudget(nb201, nb201.parse(HEAVY), OPTS, budget),
    (e) => e instanceof InputError && /--max-flops/.test(e.message) && /M MACs/.test(e.message),
  );
});

Deno.test("budget: search draws stay within it, and an impossible budget is a clear error", () => {
  const rng = new Rng(7);
  const all = Array.from({ length: 200 }, () => macs(nb201.format(nb201.sample(rng))));
  const budget = all.sort((a, b) => a - b)[50]; // about a quarter of samples fit
  const draw = new Rng(3);
  for (let i = 0; i < 40; i++) {
    const a = drawWithinBudget(nb201, (r) => nb201.sample(r), draw, OPTS, budget);
    assert(megaMacs(nb201, a, OPTS) <= budget);
    const child = drawWithinBudget(nb201, (r) => nb201.mutate(a, r), draw, OPTS, budget);
    assert(megaMacs(nb201, child, OPTS) <= budget);
  }
  assert.throws(
    () => drawWithinBudget(nb201, (r) => nb201.sample(r), new Rng(1), OPTS, 1e-9),
    (e) => e instanceof InputError && /no architecture of nb201 within the budget/.test(e.message),
  );
});

Deno.test("gennas score --max-flops: over the budget exits 2 naming it; bad values exit 2", async () => {
  const over = await runCli(["score", "--arch", HEAVY, "--max-flops", "0.01", ...TINY]);
  assert.deepEqual(over.code, 2, over.stderr);
  assert(
    /--max-flops 0\.01: .* M MACs per sample \(flops\), over the budget/.test(over.stderr),
    over.stderr,
  );
  for (const bad of ["0", "-3", "lots"]) {
    const r = await runCli(["score", "--max-flops", bad, ...TINY]);
    assert.deepEqual(r.code, 2, `${bad}: ${r.stderr}`);
    assert(/--max-flops/.test(r.stderr), r.stderr);
  }
});

Deno.test("gennas rank --max-flops drops the archs over it and journals the budget", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const archs = `${dir}/archs.txt`;
    await Deno.writeTextFile(archs, [LIGHT, HEAVY, MID].join("\n") + "\n");
    const budget = ((macs(MID) + macs(HEAVY)) / 2).toFixed(4);
    const journal = `${dir}/rank.jsonl`;
    const truth = `${dir}/truth.csv`;
    await Deno.writeTextFile(
      truth,
      "index,arch,cifar10_test,cifar100_test,imagenet16_120_test\n" +
        `0,${LIGHT},80,50,20\n1,${HEAVY},93,70,44\n2,${MID},88,60,30\n`,
    );
    const rankWith = (maxFlops: string, out: string) =>
      runCli([
        "rank",
        "--truth",
        truth,
        "--archs",
        archs,
        "--max-flops",
        maxFlops,
        "--out",
        out,
        ...TINY,
      ]);
    const r = await rankWith(budget, journal);
    assert.deepEqual(r.code, 0, r.stderr);
    assert(/ranked 2 architectures/.test(r.stdout), r.stdout);
    assert(/budget .*1 archs over it not scored/.test(r.stdout), r.stdout);
    const lines = await records(journal);
    const scored = lines.filter((l) => l.type === "score").map((l) => l.arch);
    assert.deepEqual(scored.sort(), [LIGHT, MID].sort());
    assert(JSON.stringify(lines[0]).includes('"maxFlops"'), JSON.stringify(lines[0]));
    const none = await rankWith("1e-6", `${dir}/none.jsonl`);
    assert.deepEqual(none.code, 2, none.stderr);
    assert(/only 0 of the architectures fit the budget/.test(none.stderr), none.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gennas search --max-flops evaluates only archs within the budget", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const budget = macs(MID).toFixed(4);
    const journal = `${dir}/search.jsonl`;
    const r = await runCli([
      "search",
      "--population",
      "3",
      "--tournament",
      "2",
      "--iterations",
      "2",
      "--max-flops",
      budget,
      "--out",
      journal,
      ...TINY,
    ]);
    assert.deepEqual(r.code, 0, r.stderr);
    const evals = (await records(journal)).filter((l) => l.type === "eval");
    assert.deepEqual(evals.length, 5);
    for (const e of evals) assert(macs(e.arch) <= Number(budget), e.arch);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
