/**
 * AnyNet from the command line: invalid records exit 2 naming the field; rank joins an NDS table
 * by the built network (test_acc); search with --truth draws the table's rows and reports the
 * found record's accuracy and rank. Tiny records (fixtures/tables/nds_anynet_small.jsonl) and
 * settings keep it fast.
 */
import assert from "node:assert/strict";
import { runCli, TINY } from "./support/cli.ts";

const SMALL = "fixtures/tables/nds_anynet_small.jsonl";

const BAD: [string, string, RegExp][] = [
  [
    "ds of 3 stages",
    '{"block_type":"res_basic_block","ds":[1,1,1],"ss":[8,1,2,2],"ws":[8,8,16,16]}',
    /ds: has 3 entries, expected 4 \(one per stage\)/,
  ],
  [
    "a group width that does not divide the bottleneck width",
    '{"block_type":"res_bottleneck_block","bot_muls":[1,0.5,1,1],"ds":[1,1,1,1],' +
    '"num_gs":[1,3,1,1],"ss":[8,1,2,2],"ws":[8,8,16,16]}',
    /num_gs\[1\]: group width 3 does not divide the bottleneck width 4/,
  ],
  [
    "stage 4 at 16×16",
    '{"block_type":"vanilla_block","ds":[1,1,1,1],"ss":[1,1,2,1],"ws":[8,8,16,16]}',
    /ss: stage 4 would be 16×16.*must be 8×8/,
  ],
  ["a missing row", `${SMALL}#9`, /has no row with idx 9/],
];
for (const [what, arch, message] of BAD) {
  Deno.test(`anynet bad arch exits 2: ${what}`, async () => {
    const r = await runCli(["score", "--space", "resnext-a_in", "--arch", arch, ...TINY]);
    assert.deepEqual(r.code, 2, r.stderr);
    assert(message.test(r.stderr), `stderr does not match ${message}: ${r.stderr}`);
    assert(!/\n\s+at /.test(r.stderr), `a stack trace leaked: ${r.stderr}`);
  });
}

Deno.test("gennas rank --space resnext-a_in joins an NDS table by network (test_acc)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await runCli([
      "rank",
      ...["--space", "resnext-a_in", "--truth", SMALL, "--sample", "2", "--bootstrap", "0"],
      ...["--out", `${dir}/rank.jsonl`, ...TINY],
    ]);
    assert.deepEqual(r.code, 0, r.stderr);
    assert(/ranked 2 architectures against test_acc/.test(r.stdout), r.stdout);
    const records = (await Deno.readTextFile(`${dir}/rank.jsonl`)).split("\n")
      .filter((l) => l.includes('"type":"score"')).map((l) => JSON.parse(l));
    assert.deepEqual(records.length, 2);
    for (const rec of records) {
      assert(rec.key.startsWith("res_bottleneck_block|ds=1,"), rec.key);
      assert(Number.isFinite(rec.loss), `loss ${rec.loss}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gennas search --space resnext-a_in --truth searches the table's rows", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await runCli([
      "search",
      ...["--space", "resnext-a_in", "--truth", SMALL, "--task", "search-R"],
      ...["--population", "2", "--tournament", "1", "--iterations", "1"],
      ...["--out", `${dir}/search.jsonl`, ...TINY],
    ]);
    assert.deepEqual(r.code, 0, r.stderr);
    assert(/accuracy +\d+\.\d\d \(test_acc\)/.test(r.stdout), r.stdout);
    assert(/optimum +44\.00 in the table · regret \d+\.\d\d · rank [123] of 3/.test(r.stdout));
    assert(/best arch +\{"block_type":"res_bottleneck_block"/.test(r.stdout), r.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
