/**
 * NAS-Bench-Macro from the command line: bad archs exit 2 naming the field and the allowed
 * values; rank joins the table by arch; search reports accuracy, regret and the true rank; the
 * space's default init channels (32) apply unless --init-channels is given.
 */
import assert from "node:assert/strict";
import { runCli, TINY } from "./support/cli.ts";
import { sharedFile } from "./support/data.ts";
import { loadTruth } from "../src/eval/truth.ts";
import { prepareBase } from "../src/proxy/run.ts";

const SMALL = "fixtures/tables/nbmacro_small.jsonl";

const BAD: [string, string, RegExp][] = [
  [
    "too short",
    "0120112",
    /NAS-Bench-Macro arch "0120112".*7 character.*expected 8 digits.*0, 1 or 2/,
  ],
  ["digit out of range", "01201132", /layer 6 \(digit 7\) is "3".*0=identity.*2=mbconv_k5_e6/],
];
for (const [what, arch, message] of BAD) {
  Deno.test(`nbmacro bad arch exits 2: ${what}`, async () => {
    const r = await runCli(["score", "--space", "nbmacro", "--arch", arch, ...TINY]);
    assert.deepEqual(r.code, 2, r.stderr);
    assert(message.test(r.stderr), `stderr does not match ${message}: ${r.stderr}`);
    assert(!/\n\s+at /.test(r.stderr), `a stack trace leaked: ${r.stderr}`);
  });
}

Deno.test("nbmacro uses 32 init channels by default, --init-channels otherwise", async () => {
  assert.deepEqual((await prepareBase({ space: "nbmacro" })).settings.initChannels, 32);
  assert.deepEqual((await prepareBase({ space: "nb201" })).settings.initChannels, 16);
  const given = await prepareBase({ space: "nbmacro", settings: { initChannels: 8 } });
  assert.deepEqual(given.settings.initChannels, 8);
});

Deno.test("gennas rank --space nbmacro joins the table by arch (mean_acc)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await runCli([
      "rank",
      "--space",
      "nbmacro",
      "--truth",
      SMALL,
      "--sample",
      "3",
      "--bootstrap",
      "0",
      "--out",
      `${dir}/rank.jsonl`,
      ...TINY,
    ]);
    assert.deepEqual(r.code, 0, r.stderr);
    assert(/ranked 3 architectures against mean_acc/.test(r.stdout), r.stdout);
    const keys = (await Deno.readTextFile(`${dir}/rank.jsonl`)).split("\n")
      .filter((l) => l.includes('"type":"score"')).map((l) => JSON.parse(l).key).sort();
    assert.deepEqual(keys, ["00000000", "01201122", "22222222"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const TABLE = sharedFile("nbmacro_cifar10.jsonl");
Deno.test({
  name: `gennas search --space nbmacro reports accuracy, regret and the true rank${TABLE.note}`,
  ignore: !TABLE.present,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const r = await runCli([
        "search",
        "--space",
        "nbmacro",
        "--truth",
        TABLE.path,
        "--population",
        "2",
        "--tournament",
        "1",
        "--iterations",
        "1",
        "--out",
        `${dir}/search.jsonl`,
        ...TINY,
      ]);
      assert.deepEqual(r.code, 0, r.stderr);
      assert(/accuracy +\d+\.\d\d \(mean_acc\)/.test(r.stdout), r.stdout);
      const m = /optimum +93\.13 in the table · regret (\d+\.\d\d) · rank (\d+) of 6561/
        .exec(r.stdout);
      assert(m, r.stdout);
      const best = /best arch +(\d{8})/.exec(r.stdout)![1];
      const table = await loadTruth("nbmacro", TABLE.path);
      const accuracy = table.accuracy.get(best)!;
      const better = [...table.accuracy.values()].filter((a) => a > accuracy).length;
      assert.deepEqual(
        Number(m[2]),
        better + 1,
        "rank 1 = best mean_acc, ties share the better rank",
      );
      assert.deepEqual(m[1], (93.12666320800781 - accuracy).toFixed(2));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
