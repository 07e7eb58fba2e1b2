import assert from "node:assert/strict";
import {
  accuraciesFor,
  loadNb101Truth,
  loadNb201Truth,
  loadTruth,
  type Nb101Spec,
  type Nb201Dataset,
  type TruthTable,
} from "../src/eval/truth.ts";
import { rankCandidates } from "../src/proxy/run.ts";
import { NB101, NB201, type NetworkSpace } from "../src/spaces/index.ts";
import { InputError } from "../src/util/errors.ts";
import { sharedFile } from "./support/data.ts";

const FIXTURES = new URL("../fixtures/tables/", import.meta.url).pathname;

async function assertInputError(promise: Promise<unknown>, ...fragments: string[]): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof InputError, `expected InputError, got ${error}`);
    for (const fragment of fragments) {
      assert.ok(error.message.includes(fragment), `"${error.message}" lacks "${fragment}"`);
    }
    return true;
  });
}

const nb201 = sharedFile("nb201.csv");
Deno.test({
  name: `real nb201.csv: 15 625 rows, best CIFAR-10 = 94.3733${nb201.note}`,
  ignore: !nb201.present,
  fn: async () => {
    const table = await loadNb201Truth(nb201.path, "cifar10");
    assert.equal(table.accuracy.size, 15_625);
    assert.equal(table.indexToArch.size, 15_625);
    assert.equal(table.metric, "cifar10_test");
    assert.equal(Math.max(...table.accuracy.values()), 94.3733);
    const first = table.indexToArch.get(0)!;
    assert.equal(
      first,
      "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
    );
    assert.equal(table.accuracy.get(first), 85.8633);
    assert.equal(table.extra?.get(first), 0);
  },
});

const sample0 = sharedFile("nb201_gennas_sample_0.txt");
Deno.test({
  name: `real nb201 GenNAS sample archs are all in the table${nb201.note || sample0.note}`,
  ignore: !nb201.present || !sample0.present,
  fn: async () => {
    const table = await loadTruth("nb201", nb201.path, { dataset: "cifar100" });
    const archs = (await Deno.readTextFile(sample0.path)).split("\n").filter((l) => l !== "");
    assert.equal(archs.length, 1000);
    assert.equal(accuraciesFor(table, archs).length, 1000);
  },
});

const naslib = sharedFile("nb101_naslib_zc_sample.jsonl");
Deno.test({
  name: `real nb101 NASLib sample: 292 rows, val_acc_mean_of_samples in %${naslib.note}`,
  ignore: !naslib.present,
  fn: async () => {
    const table = await loadNb101Truth(naslib.path);
    assert.equal(table.accuracy.size, 292);
    assert.equal(table.metric, "val_acc_mean_of_samples");
    assert.equal(table.accuracy.get("0011a6a4e759f16e635a3bb83566c2d1"), 87.1995210647583);
    const spec = table.extra?.get("0011a6a4e759f16e635a3bb83566c2d1") as Nb101Spec;
    assert.equal(spec.ops[0], "input");
    assert.equal(spec.matrix.length, spec.ops.length);
  },
});

const search20 = sharedFile("nb101_gennas_search20.jsonl");
Deno.test({
  name: `real nb101 GenNAS search set: 20 rows, acc converted to %${search20.note}`,
  ignore: !search20.present,
  fn: async () => {
    const table = await loadTruth("nb101", search20.path);
    assert.equal(table.accuracy.size, 20);
    assert.equal(table.metric, "acc");
    for (const acc of table.accuracy.values()) assert.ok(acc > 80 && acc < 95, `${acc}`);
  },
});

Deno.test("nb201 fixture: keys, index map and the chosen dataset column", async () => {
  const table = await loadNb201Truth(`${FIXTURES}nb201_small.csv`, "imagenet16_120");
  assert.equal(table.accuracy.size, 3);
  assert.equal(table.metric, "imagenet16_120_test");
  const none = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|";
  assert.equal(table.indexToArch.get(7), none);
  assert.equal(table.accuracy.get(none), 0.8333);
  assert.deepEqual(accuraciesFor(table, [none, table.indexToArch.get(1)!]), [0.8333, 44.0333]);
  assert.throws(() => accuraciesFor(table, ["|x~0|", none]), InputError);
});

Deno.test("nb201 table missing a column → InputError naming it and the columns found", async () => {
  await assertInputError(
    loadNb201Truth(`${FIXTURES}nb201_missing_column.csv`, "cifar10"),
    "nb201_missing_column.csv",
    '"cifar10_test"',
    'columns found: "index", "arch", "cifar100_test"',
  );
});

Deno.test("nb201 unparsable number → InputError with the row number", async () => {
  await assertInputError(
    loadNb201Truth(`${FIXTURES}nb201_bad_number.csv`, "cifar10"),
    "row 2",
    '"n/a"',
  );
});

Deno.test("bad dataset / space / file → InputError listing the allowed values", async () => {
  const path = `${FIXTURES}nb201_small.csv`;
  await assertInputError(
    loadNb201Truth(path, "cifar11" as Nb201Dataset),
    '"cifar11"',
    '"cifar10", "cifar100" or "imagenet16_120"',
  );
  await assertInputError(loadTruth("nb201", path, { dataset: "svhn" }), '"svhn"', '"cifar100"');
  await assertInputError(
    loadTruth("nb999" as "nb201", path),
    '"nb201", "nb101", "nbmacro", "darts"',
  );
  await assertInputError(loadTruth("nb101", path, { dataset: "cifar100" }), "cifar10");
  await assertInputError(loadNb201Truth(`${FIXTURES}absent.csv`, "cifar10"), "absent.csv");
});

Deno.test("nb101 fixture: metric detection, % conversion, explicit metric, extra spec", async () => {
  const path = `${FIXTURES}nb101_small.jsonl`;
  const byAcc = await loadNb101Truth(path);
  assert.equal(byAcc.metric, "acc");
  assert.equal(byAcc.accuracy.get("aaaa0000"), 92.72);
  assert.deepEqual(byAcc.extra?.get("bbbb1111"), {
    matrix: [[0, 1], [0, 0]],
    ops: ["input", "output"],
  });
  await assertInputError(
    loadNb101Truth(path, { metric: "val_acc_mean_of_samples" }),
    "line 1",
    '"val_acc_mean_of_samples"',
  );
});

Deno.test("nb101 bad rows → InputError with the line number", async () => {
  await assertInputError(
    loadNb101Truth(`${FIXTURES}nb101_bad_json.jsonl`),
    "line 2",
    "invalid JSON",
  );
  await assertInputError(loadNb101Truth(`${FIXTURES}nb101_missing_hash.jsonl`), "line 2", '"hash"');
  await assertInputError(
    loadNb101Truth(`${FIXTURES}nb101_missing_metric.jsonl`),
    "line 2",
    '"acc"',
  );
});

Deno.test("rank candidates from a table are parsed once and carry their canonical text", async () => {
  const tables = [
    { space: NB201, table: await loadNb201Truth(`${FIXTURES}nb201_small.csv`, "cifar10") },
    { space: NB101, table: await loadNb101Truth(`${FIXTURES}nb101_small.jsonl`) },
  ] as { space: NetworkSpace<unknown>; table: TruthTable }[];
  for (const { space, table } of tables) {
    const candidates = await rankCandidates(space, table, { sample: 2 }, 0);
    assert.equal(candidates.length, 2);
    for (const { arch, text } of candidates) {
      assert.equal(text, space.format(arch));
      assert.deepEqual(space.parse(text), arch, "the value is what its text parses to");
    }
  }
});
