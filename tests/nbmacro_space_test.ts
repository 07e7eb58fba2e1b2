import assert from "node:assert/strict";
import { loadNbMacroTruth, loadTruth } from "../src/eval/truth.ts";
import { getSpace } from "../src/spaces/index.ts";
import {
  formatNbMacro,
  NBMACRO_LAYERS,
  nbMacroLayout,
  nbMacroSpace,
  parseNbMacro,
  sampleNbMacro,
} from "../src/spaces/nbmacro.ts";
import { InputError } from "../src/util/errors.ts";
import { Rng } from "../src/util/rng.ts";
import { sharedFile } from "./support/data.ts";

const TABLE = sharedFile("nbmacro_cifar10.jsonl");
const FIXTURES = new URL("../fixtures/tables/", import.meta.url).pathname;

function assertInputError(run: () => unknown, ...fragments: string[]): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof InputError, `expected InputError, got ${error}`);
    for (const fragment of fragments) {
      assert.ok(error.message.includes(fragment), `"${error.message}" lacks "${fragment}"`);
    }
    return true;
  });
}

async function assertRejectsInput(promise: Promise<unknown>, ...fragments: string[]) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof InputError, `expected InputError, got ${error}`);
    for (const fragment of fragments) {
      assert.ok(error.message.includes(fragment), `"${error.message}" lacks "${fragment}"`);
    }
    return true;
  });
}

Deno.test("nbmacro parses the 8-digit string and the list form; key and format are the string", () => {
  const arch = parseNbMacro("01201122");
  assert.deepEqual(arch.choices, [0, 1, 2, 0, 1, 1, 2, 2]);
  assert.equal(formatNbMacro(arch), "01201122");
  assert.equal(nbMacroSpace.key(arch), "01201122");
  assert.deepEqual(parseNbMacro("  01201122\n"), arch);
  assert.deepEqual(parseNbMacro("[0, 1, 2, 0, 1, 1, 2, 2]"), arch);
  const registered = getSpace("nbmacro");
  assert.equal(registered.name, "nbmacro");
  assert.equal(registered.defaultInitChannels, 32);
  assert.equal(registered.format(registered.parse(registered.example)), registered.example);
});

Deno.test("nbmacro malformed archs are rejected naming the field and the allowed values", () => {
  const cases: [string, string[]][] = [
    ["", ["has 0 character(s), expected 8 digits", "0, 1 or 2"]],
    ["0120112", ["has 7 character(s), expected 8 digits", "0=identity"]],
    ["012011220", ["has 9 character(s)"]],
    ["01231122", ['layer 3 (digit 4) is "3"', "0=identity, 1=mbconv_k3_e3, 2=mbconv_k5_e6"]],
    ["0120112x", ['layer 7 (digit 8) is "x"']],
    ["0120 122", ['layer 4 (digit 5) is " "']],
    ["[0,1,2]", ["expected a list of 8 choices", "0=identity"]],
    ["[0,1,2,0,1,1,2,3]", ["layer 7 is 3", "2=mbconv_k5_e6"]],
    ['[0,1,2,0,1,1,2,"2"]', ['layer 7 is "2"']],
    ["[0,1,2,0,1,1,2,2", ["is not valid JSON"]],
  ];
  for (const [text, fragments] of cases) {
    assertInputError(() => parseNbMacro(text), "NAS-Bench-Macro arch", ...fragments);
  }
  assertInputError(() => formatNbMacro({ choices: [0, 1] }), "must have 8 choices");
});

Deno.test("nbmacro layout: stages [2, 3, 3], stride 2 and doubled channels at layers 2 and 5", () => {
  assert.deepEqual(nbMacroLayout(32), [
    { stride: 1, channels: 32 },
    { stride: 1, channels: 32 },
    { stride: 2, channels: 64 },
    { stride: 1, channels: 64 },
    { stride: 1, channels: 64 },
    { stride: 2, channels: 128 },
    { stride: 1, channels: 128 },
    { stride: 1, channels: 128 },
  ]);
});

Deno.test("nbmacro sample and mutate are deterministic for a seed", () => {
  const go = (seed: number) => {
    const rng = new Rng(seed);
    const start = nbMacroSpace.sample(rng);
    return [start, ...Array.from({ length: 5 }, () => nbMacroSpace.mutate(start, rng))]
      .map(formatNbMacro);
  };
  assert.deepEqual(go(3), go(3));
  assert.notDeepEqual(go(3), go(4));
});

/** Pearson chi-square of counts against a uniform expectation. */
function chiSquareUniform(counts: number[]): number {
  const expected = counts.reduce((a, b) => a + b, 0) / counts.length;
  return counts.reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0);
}

Deno.test("nbmacro sample is uniform over the three choices of every layer", () => {
  const rng = new Rng("nbmacro-sample");
  const counts = Array.from({ length: NBMACRO_LAYERS }, () => [0, 0, 0]);
  const seen = new Set<string>();
  for (let i = 0; i < 30_000; i++) {
    const arch = sampleNbMacro(rng);
    arch.choices.forEach((c, layer) => counts[layer][c]++);
    seen.add(formatNbMacro(arch));
  }
  // Chi-square with 2 degrees of freedom exceeds 20 with probability 4.5e-5.
  for (const c of counts) assert.ok(chiSquareUniform(c) < 20, `${c}`);
  // 30,000 uniform draws from 6,561 miss a given arch with probability e^-4.6 ≈ 1 %.
  assert.ok(seen.size > 6400, `${seen.size} distinct archs`);
});

Deno.test("nbmacro property: 10,000 mutations stay valid and change exactly one layer", () => {
  const rng = new Rng("nbmacro-mutate");
  const trials = 10_000;
  const layerChanges = new Array<number>(NBMACRO_LAYERS).fill(0);
  // transitions[from][to]
  const transitions = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
  let arch = sampleNbMacro(rng);
  for (let i = 0; i < trials; i++) {
    if (i % 50 === 0) arch = sampleNbMacro(rng);
    const parentText = formatNbMacro(arch);
    const child = nbMacroSpace.mutate(arch, rng);
    const text = formatNbMacro(child);
    assert.equal(text.length, NBMACRO_LAYERS);
    assert.deepEqual(parseNbMacro(text), child);
    assert.equal(formatNbMacro(arch), parentText, "mutation must not modify its parent");
    const changed = child.choices.flatMap((c, layer) => c !== arch.choices[layer] ? [layer] : []);
    assert.equal(changed.length, 1, `${parentText} → ${text}`);
    layerChanges[changed[0]]++;
    transitions[arch.choices[changed[0]]][child.choices[changed[0]]]++;
    arch = child;
  }
  // Each layer 1/8 of the time; sd ≈ 0.0033 over 10,000 trials.
  for (const n of layerChanges) assert.ok(Math.abs(n / trials - 1 / 8) < 0.015, `${layerChanges}`);
  // From each choice, the two others equally often.
  transitions.forEach((row, from) => {
    assert.equal(row[from], 0);
    const others = row.filter((_, to) => to !== from);
    assert.ok(chiSquareUniform(others) < 17, `${from} → ${others}`);
  });
});

Deno.test("nbmacro truth fixture: keyed by arch, mean_acc by default, another metric by name", async () => {
  const path = `${FIXTURES}nbmacro_small.jsonl`;
  const table = await loadTruth("nbmacro", path);
  assert.equal(table.metric, "mean_acc");
  assert.deepEqual([...table.accuracy.keys()], ["00000000", "01201122", "22222222"]);
  assert.equal(table.accuracy.get("01201122"), 88.5);
  const other = await loadNbMacroTruth(path, { metric: "best_acc" });
  assert.equal(other.metric, "best_acc");
  assert.equal(other.accuracy.get("22222222"), 93.5);
});

Deno.test("nbmacro truth: bad tables and options → InputError naming the line and field", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const write = async (name: string, text: string) => {
      await Deno.writeTextFile(`${dir}/${name}`, text);
      return `${dir}/${name}`;
    };
    const good = '{"arch": "00000000", "mean_acc": 45.3}\n';
    await assertRejectsInput(
      loadNbMacroTruth(await write("a.jsonl", `${good}{"arch": "0000000", "mean_acc": 50}\n`)),
      "line 2",
      "expected 8 digits",
    );
    await assertRejectsInput(
      loadNbMacroTruth(await write("b.jsonl", `${good}${good}`)),
      "line 2",
      'arch "00000000" appears twice',
    );
    await assertRejectsInput(
      loadNbMacroTruth(await write("c.jsonl", '{"arch": "00000000", "acc": 0.4}\n')),
      "line 1",
      '"mean_acc" must be an accuracy in %',
      'fields found: "arch", "acc"',
    );
    await assertRejectsInput(
      loadNbMacroTruth(await write("d.jsonl", '{"arch": "00000000", "mean_acc": 145}\n')),
      "0–100",
    );
    await assertRejectsInput(
      loadNbMacroTruth(await write("e.jsonl", `${good}{"arch": 12}\n`)),
      "line 2",
      'missing "arch"',
    );
    await assertRejectsInput(loadNbMacroTruth(await write("f.jsonl", "\n")), "no rows");
    await assertRejectsInput(loadNbMacroTruth(await write("g.jsonl", "{oops\n")), "invalid JSON");
    await assertRejectsInput(loadNbMacroTruth(`${dir}/absent.jsonl`), "absent.jsonl");
    await assertRejectsInput(
      loadTruth("nbmacro", `${FIXTURES}nbmacro_small.jsonl`, { dataset: "cifar100" }),
      '"cifar10"',
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: `real nbmacro_cifar10.jsonl: all 6,561 archs, round trip, best mean_acc 93.13${TABLE.note}`,
  ignore: !TABLE.present,
  fn: async () => {
    const table = await loadTruth("nbmacro", TABLE.path);
    assert.equal(table.accuracy.size, 3 ** 8);
    for (const key of table.accuracy.keys()) {
      assert.equal(nbMacroSpace.format(nbMacroSpace.parse(key)), key);
    }
    const best = Math.max(...table.accuracy.values());
    assert.ok(Math.abs(best - 93.1267) < 1e-3, `${best}`);
    assert.equal(table.accuracy.get(getSpace("nbmacro").example), best);
    assert.ok(Math.abs(table.accuracy.get("00000000")! - 45.3633) < 1e-3);
    // The table's own columns, for the fidelity baselines.
    assert.equal(table.params?.size, 3 ** 8);
    assert.equal(table.params?.get("00000000"), 387882);
    assert.equal(table.flops?.get("00000001"), 14115328);
  },
});
