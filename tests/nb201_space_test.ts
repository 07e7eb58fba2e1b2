import assert from "node:assert/strict";
import {
  formatNb201,
  mutateNb201,
  NB201_EDGES,
  NB201_OPS,
  type Nb201Arch,
  nb201Space,
  nb201ToIndices,
  parseNb201,
  sampleNb201,
} from "../src/spaces/nb201.ts";
import { SPACE_NAMES } from "../src/spaces/space.ts";
import { InputError } from "../src/util/errors.ts";
import { Rng } from "../src/util/rng.ts";
import { sharedFile } from "./support/data.ts";

const SAMPLE = sharedFile("nb201_gennas_sample_0.txt");
const TABLE = sharedFile("nb201.csv");

const EXAMPLE =
  "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|nor_conv_3x3~0|avg_pool_3x3~1|nor_conv_1x1~2|";
const EXAMPLE_OPS = [
  "nor_conv_3x3",
  "skip_connect",
  "none",
  "nor_conv_3x3",
  "avg_pool_3x3",
  "nor_conv_1x1",
];

function assertInputError(run: () => unknown, fragment: string): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof InputError, `expected InputError, got ${error}`);
    assert.ok(error.message.includes(fragment), `message "${error.message}" lacks "${fragment}"`);
    return true;
  });
}

function lines(path: string): string[] {
  return Deno.readTextFileSync(path).split("\n").map((l) => l.trim()).filter((l) => l !== "");
}

Deno.test("nb201 space names and edge order", () => {
  assert.deepEqual([...SPACE_NAMES].slice(0, 3), ["nb201", "nb101", "nbmacro"]);
  assert.equal(nb201Space.name, "nb201");
  assert.deepEqual(
    NB201_EDGES.map((e) => `${e.target}<-${e.source}`),
    ["1<-0", "2<-0", "2<-1", "3<-0", "3<-1", "3<-2"],
  );
});

Deno.test("nb201 parses the benchmark string into edge-ordered ops and formats it back", () => {
  const arch = parseNb201(EXAMPLE);
  assert.deepEqual(arch.ops, EXAMPLE_OPS);
  assert.equal(formatNb201(arch), EXAMPLE);
  assert.equal(nb201Space.key(arch), EXAMPLE);
  assert.deepEqual(parseNb201(`  ${EXAMPLE}\n`), arch);
});

Deno.test({
  name: `nb201 parse/format round trip of every arch in nb201_gennas_sample_0.txt${SAMPLE.note}`,
  ignore: !SAMPLE.present,
  fn() {
    const archs = lines(SAMPLE.path);
    assert.equal(archs.length, 1000);
    for (const text of archs) assert.equal(nb201Space.format(nb201Space.parse(text)), text);
  },
});

Deno.test({
  name: `nb201 parse/format round trip of all 15,625 archs of nb201.csv, all distinct${TABLE.note}`,
  ignore: !TABLE.present,
  fn() {
    const rows = lines(TABLE.path).slice(1).map((line) => line.split(",")[1]);
    assert.equal(rows.length, 15625);
    const keys = new Set(rows.map((text) => nb201Space.key(nb201Space.parse(text))));
    assert.equal(keys.size, 15625);
    for (const text of rows) assert.ok(keys.has(text));
  },
});

Deno.test("nb201 parses the GenNAS op-index form", () => {
  const arch = parseNb201("[[3],[1,0],[2,4,3]]");
  assert.deepEqual(arch.ops, [
    "nor_conv_3x3",
    "skip_connect",
    "none",
    "nor_conv_1x1",
    "avg_pool_3x3",
    "nor_conv_3x3",
  ]);
  assert.deepEqual(parseNb201(" [[3], [1, 0], [2, 4, 3]] "), arch);
  assert.deepEqual(nb201ToIndices(arch), [[3], [1, 0], [2, 4, 3]]);
  assert.deepEqual(parseNb201(formatNb201(arch)), arch);
  assert.deepEqual(
    parseNb201(JSON.stringify(nb201ToIndices(parseNb201(EXAMPLE)))).ops,
    EXAMPLE_OPS,
  );
});

Deno.test("nb201 malformed strings are rejected with clear messages", () => {
  const cases: [string, string][] = [
    ["", "empty"],
    ["|+|+|", `node 1 group "|" must start and end with "|"`],
    ["||+||+||", `node 1 group "||" has an empty edge`],
    ["|none~0|+|none~0|none~1|", `has 2 node group(s) separated by "+", expected 3`],
    [`${EXAMPLE}+|none~0|`, `has 4 node group(s)`],
    [
      "|none~0|+|none~0|+|none~0|none~1|none~2|",
      `node 2 group "|none~0|" has 1 edge(s), expected 2`,
    ],
    [
      "|none~0|none~1|+|none~0|none~1|+|none~0|none~1|none~2|",
      `node 1 group "|none~0|none~1|" has 2 edge(s), expected 1`,
    ],
    [
      "|none~0|+|none~0|none~2|+|none~0|none~1|none~2|",
      `edge "none~2" into node 2 has source "~2", expected "~1"`,
    ],
    [
      "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|",
      `edge "none~1" into node 1 has source "~1", expected "~0"`,
    ],
    [
      "|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|",
      `unknown op "conv_5x5"; allowed: "none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3" or "avg_pool_3x3"`,
    ],
    [
      "none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
      `node 1 group "none~0|" must start and end with "|"`,
    ],
    [
      "|none~0|+|none~0|none~1|+|none~0|none~1|none~2",
      `node 3 group "|none~0|none~1|none~2" must start and end with "|"`,
    ],
    [
      "|none~0|+|none~0none~1|+|none~0|none~1|none~2|",
      `node 2 group "|none~0none~1|" has 1 edge(s), expected 2`,
    ],
    [
      "|none~0|+|none~0||none~1|+|none~0|none~1|none~2|",
      `node 2 group "|none~0||none~1|" has an empty edge ("||")`,
    ],
    [
      "|none|+|none~0|none~1|+|none~0|none~1|none~2|",
      `edge "none" into node 1 is not of the form op~k`,
    ],
    ["[[3],[1,0],[2,4]]", "expected 3 lists with 1, 2 and 3 op indices"],
    ["[[3],[1,0]]", "expected 3 lists with 1, 2 and 3 op indices"],
    ["[[5],[1,0],[2,4,3]]", "op index 5 is not one of 0..4 (0=none, 1=skip_connect"],
    ['[["none"],[1,0],[2,4,3]]', `op index "none" is not one of 0..4`],
    ["[[3],[1,0],[2,4,3]", "is not valid JSON"],
  ];
  for (const [text, fragment] of cases) assertInputError(() => parseNb201(text), fragment);
});

Deno.test("nb201 format rejects an arch with the wrong number of ops", () => {
  assertInputError(
    () => formatNb201({ ops: ["none"] } as Nb201Arch),
    "NB-201 arch must have 6 ops",
  );
});

Deno.test("nb201 sample and mutate are deterministic for a seed", () => {
  const run = (seed: number) => {
    const rng = new Rng(seed);
    const start = nb201Space.sample(rng);
    const children = Array.from({ length: 5 }, () => nb201Space.mutate(start, rng));
    return [start, ...children].map(formatNb201);
  };
  assert.deepEqual(run(11), run(11));
  assert.notDeepEqual(run(11), run(12));
});

/** Pearson chi-square of counts against a uniform expectation. */
function chiSquareUniform(counts: number[]): number {
  const expected = counts.reduce((a, b) => a + b, 0) / counts.length;
  return counts.reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0);
}

// Chi-square with 4 degrees of freedom exceeds 25 with probability below 5e-5.
const CHI_SQUARE_BOUND = 25;

Deno.test("nb201 sample is uniform over ops on every edge", () => {
  const rng = new Rng("nb201-sample");
  const counts = NB201_EDGES.map(() => NB201_OPS.map(() => 0));
  for (let i = 0; i < 10_000; i++) {
    sampleNb201(rng).ops.forEach((op, edge) => counts[edge][NB201_OPS.indexOf(op)]++);
  }
  for (const edgeCounts of counts) {
    assert.ok(chiSquareUniform(edgeCounts) < CHI_SQUARE_BOUND, `${edgeCounts}`);
  }
});

Deno.test("nb201 mutation changes each edge with frequency 0.2 × 4/5 and resamples uniformly", () => {
  const rng = new Rng("nb201-mutate");
  const trials = 10_000;
  const changes = NB201_EDGES.map(() => 0);
  const newOps = NB201_OPS.map(() => 0);
  let arch = sampleNb201(rng);
  for (let i = 0; i < trials; i++) {
    const child = nb201Space.mutate(arch, rng);
    assert.equal(child.ops.length, 6);
    assert.deepEqual(parseNb201(formatNb201(child)), child);
    child.ops.forEach((op, edge) => {
      if (op !== arch.ops[edge]) {
        changes[edge]++;
        newOps[NB201_OPS.indexOf(op)]++;
      }
    });
    arch = i % 10 === 0 ? sampleNb201(rng) : child;
  }
  // Expected 0.16 per edge; standard deviation ≈ 0.0037 over 10,000 trials.
  for (const count of changes) assert.ok(Math.abs(count / trials - 0.16) < 0.015, `${changes}`);
  assert.ok(chiSquareUniform(newOps) < CHI_SQUARE_BOUND, `${newOps}`);
});

Deno.test("nb201 mutateNb201 probability bounds: p = 0 keeps, p = 1 resamples every edge", () => {
  const rng = new Rng(5);
  const arch = parseNb201(EXAMPLE);
  assert.deepEqual(mutateNb201(arch, rng, 0), arch);
  let unchanged = 0;
  const trials = 5000;
  for (let i = 0; i < trials; i++) {
    const child = mutateNb201(arch, rng, 1);
    unchanged += child.ops.filter((op, edge) => op === arch.ops[edge]).length;
  }
  // With p = 1 an edge keeps its op only by redrawing it: probability 1/5.
  assert.ok(Math.abs(unchanged / (6 * trials) - 0.2) < 0.015, `${unchanged}`);
  assert.deepEqual(arch.ops, EXAMPLE_OPS, "mutation must not modify its parent");
});
