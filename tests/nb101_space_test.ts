import assert from "node:assert/strict";
import {
  computeVertexChannels,
  countEdges,
  formatNb101,
  isValidNb101,
  mutateNb101,
  nb101FromJson,
  nb101Hash,
  nb101Space,
  type Nb101Spec,
  parseNb101,
  prunedNb101Cell,
  pruneNb101,
  sampleNb101,
  validateNb101,
} from "../src/spaces/nb101.ts";
import { InputError } from "../src/util/errors.ts";
import { Rng } from "../src/util/rng.ts";
import { sharedFile } from "./support/data.ts";

const DATA_FILES = [
  "nb101_naslib_zc_sample.jsonl",
  "nb101_gennas_search20.jsonl",
  "nb101_gennas_500_specs.jsonl",
];

const C3 = "conv3x3-bn-relu";
const C1 = "conv1x1-bn-relu";
const MP = "maxpool3x3";

/** The example cell of the NAS-Bench-101 documentation (spec §4.1.1). */
const EXAMPLE: Nb101Spec = {
  matrix: [
    [0, 1, 0, 0, 1, 1, 0],
    [0, 0, 1, 0, 0, 0, 0],
    [0, 0, 0, 1, 0, 0, 1],
    [0, 0, 0, 0, 0, 1, 0],
    [0, 0, 0, 0, 0, 1, 0],
    [0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 0, 0],
  ],
  ops: ["input", C3, MP, C3, C3, C1, "output"],
};

function assertInputError(run: () => unknown, fragment: string, label = fragment): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof InputError, `${label}: expected InputError, got ${error}`);
    assert.ok(
      error.message.includes(fragment),
      `${label}: message "${error.message}" lacks "${fragment}"`,
    );
    return true;
  });
}

function withEntry(spec: Nb101Spec, r: number, c: number, value: number): Nb101Spec {
  const matrix = spec.matrix.map((row) => [...row]);
  matrix[r][c] = value;
  return { matrix, ops: [...spec.ops] };
}

function readRows(path: string): { hash: string; matrix: number[][]; ops: string[] }[] {
  return Deno.readTextFileSync(path).split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line));
}

Deno.test("nb101 hash of the benchmark's documented example cell", () => {
  assert.equal(nb101Hash(EXAMPLE), "00005c142e6f48ac74fdcf73e3439874");
});

for (const name of DATA_FILES) {
  const file = sharedFile(name);
  Deno.test({
    name: `nb101 hash of every row of ${name} equals its stored hash${file.note}`,
    ignore: !file.present,
    fn() {
      const rows = readRows(file.path);
      assert.ok(rows.length > 0);
      for (const row of rows) {
        const spec = nb101FromJson({ matrix: row.matrix, ops: row.ops });
        assert.equal(nb101Hash(spec), row.hash, formatNb101(spec));
        assert.deepEqual(parseNb101(formatNb101(spec)), spec);
      }
    },
  });
}

Deno.test("nb101 isomorphic cells (swapped parallel branches) share the key", () => {
  const a: Nb101Spec = {
    matrix: [[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]],
    ops: ["input", C3, MP, "output"],
  };
  const b: Nb101Spec = { matrix: a.matrix, ops: ["input", MP, C3, "output"] };
  const c: Nb101Spec = { matrix: a.matrix, ops: ["input", C3, C3, "output"] };
  assert.equal(nb101Space.key(a), nb101Space.key(b));
  assert.notEqual(nb101Space.key(a), nb101Space.key(c));
});

Deno.test("nb101 pruning removes vertices off every input→output path", () => {
  // Vertex 2 is a dead end (no path to output); vertex 3 is unreachable from the input.
  const spec: Nb101Spec = {
    matrix: [
      [0, 1, 1, 0, 0],
      [0, 0, 0, 0, 1],
      [0, 0, 0, 0, 0],
      [0, 0, 0, 0, 1],
      [0, 0, 0, 0, 0],
    ],
    ops: ["input", C3, MP, C1, "output"],
  };
  assert.deepEqual(pruneNb101(spec), {
    matrix: [[0, 1, 0], [0, 0, 1], [0, 0, 0]],
    ops: ["input", C3, "output"],
  });
  assert.deepEqual(pruneNb101(EXAMPLE), EXAMPLE);
  const direct: Nb101Spec = {
    matrix: [[0, 0, 1], [0, 0, 0], [0, 0, 0]],
    ops: ["input", MP, "output"],
  };
  assert.deepEqual(pruneNb101(direct), { matrix: [[0, 1], [0, 0]], ops: ["input", "output"] });
  const cut: Nb101Spec = {
    matrix: [[0, 1, 0], [0, 0, 0], [0, 0, 0]],
    ops: ["input", MP, "output"],
  };
  assert.equal(pruneNb101(cut), null);
  // The hash is computed on the pruned cell, so a dangling vertex does not change it.
  assert.equal(nb101Hash(spec), nb101Hash(pruneNb101(spec)!));
  assert.deepEqual(prunedNb101Cell(spec), pruneNb101(spec));
});

Deno.test("nb101 edge limit counts edges after pruning", () => {
  // 10 edges in the original, but the 2 into dead-end vertex 4 are pruned away.
  const spec: Nb101Spec = {
    matrix: [
      [0, 1, 1, 1, 1, 0],
      [0, 0, 1, 0, 1, 1],
      [0, 0, 0, 1, 0, 1],
      [0, 0, 0, 0, 0, 1],
      [0, 0, 0, 0, 0, 0],
      [0, 0, 0, 0, 0, 0],
    ],
    ops: ["input", C3, C1, MP, C3, "output"],
  };
  assert.equal(countEdges(spec.matrix), 10);
  assert.ok(isValidNb101(spec));
  const overfull = withEntry(spec, 4, 5, 1);
  assertInputError(
    () => validateNb101(overfull),
    "has 11 edges after pruning; NB-101 cells have at most 9",
  );
});

Deno.test("nb101 invalid cells are rejected with a precise message", () => {
  const cases: [string, unknown, string][] = [
    ["not square", { matrix: [[0, 1], [0]], ops: ["input", "output"] }, "matrix is not square"],
    [
      "ops length",
      { matrix: [[0, 1], [0, 0]], ops: ["input", C3, "output"] },
      "ops has 3 entries but the matrix is 2×2",
    ],
    [
      "8 vertices",
      {
        matrix: Array.from(
          { length: 8 },
          (_, r) => Array.from({ length: 8 }, (_, c) => +(c === r + 1)),
        ),
        ops: ["input", C3, C3, C3, C3, C3, C3, "output"],
      },
      "has 8 vertices; NB-101 cells have at most 7",
    ],
    ["entry 2", withEntry(EXAMPLE, 0, 1, 2), "matrix[0][1] is 2; entries must be 0 or 1"],
    [
      "below diagonal",
      withEntry(EXAMPLE, 3, 1, 1),
      "matrix[3][1] is 1: NB-101 cells are upper-triangular DAGs: matrix[r][c] with r ≥ c would create a cycle",
    ],
    [
      "diagonal",
      withEntry(EXAMPLE, 2, 2, 1),
      "matrix[2][2] is 1: NB-101 cells are upper-triangular",
    ],
    [
      "first op",
      { matrix: EXAMPLE.matrix, ops: [C3, ...EXAMPLE.ops.slice(1)] },
      `ops[0] is "${C3}"; the first op must be "input"`,
    ],
    [
      "last op",
      { matrix: EXAMPLE.matrix, ops: [...EXAMPLE.ops.slice(0, 6), MP] },
      `ops[6] is "${MP}"; the last op must be "output"`,
    ],
    [
      "unknown op",
      { matrix: EXAMPLE.matrix, ops: ["input", "conv5x5", ...EXAMPLE.ops.slice(2)] },
      `ops[1] is "conv5x5"; interior ops must be "${C3}", "${C1}" or "${MP}"`,
    ],
    [
      "disconnected",
      { matrix: [[0, 1, 0], [0, 0, 0], [0, 0, 0]], ops: ["input", C3, "output"] },
      "input is not connected to output",
    ],
    [
      "ops not strings",
      { matrix: [[0, 1], [0, 0]], ops: [-1, -2] },
      `"ops" must be a list of op names`,
    ],
    ["missing ops", { matrix: [[0, 1], [0, 0]] }, `needs both "matrix" and "ops"`],
    ["wrong kind", 42, `must be an object {"matrix": ..., "ops": ...} or a [matrix, ops] pair`],
  ];
  for (const [label, value, fragment] of cases) {
    assertInputError(() => nb101FromJson(value), fragment, label);
    assertInputError(() => parseNb101(JSON.stringify(value)), fragment, label);
  }
  assertInputError(() => parseNb101("{matrix:"), "NB-101 cell is not valid JSON");
});

Deno.test("nb101 parse accepts the object and the [matrix, ops] pair; format round-trips", () => {
  const fromObject = parseNb101(JSON.stringify(EXAMPLE));
  const fromPair = parseNb101(JSON.stringify([EXAMPLE.matrix, EXAMPLE.ops]));
  assert.deepEqual(fromObject, EXAMPLE);
  assert.deepEqual(fromPair, EXAMPLE);
  const text = formatNb101(EXAMPLE);
  assert.ok(text.startsWith('{"matrix":[[0,1,0,0,1,1,0],'), text);
  assert.deepEqual(nb101Space.parse(nb101Space.format(EXAMPLE)), EXAMPLE);
  // The original form is kept: a prunable vertex survives the round trip.
  const dangling: Nb101Spec = {
    matrix: [[0, 1, 1], [0, 0, 0], [0, 0, 0]],
    ops: ["input", MP, "output"],
  };
  assert.deepEqual(parseNb101(formatNb101(dangling)), dangling);
});

Deno.test("nb101 computeVertexChannels matches hand-worked cells", () => {
  // Three vertices feed the output: 32 = 11 + 11 + 10.
  const fan = [
    [0, 1, 1, 1, 0],
    [0, 0, 0, 0, 1],
    [0, 0, 0, 0, 1],
    [0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0],
  ];
  assert.deepEqual(computeVertexChannels(16, 32, fan), [16, 11, 11, 10, 32]);
  // A chain: only vertex 3 feeds the output; earlier vertices take their successor's width.
  const chain = [
    [0, 1, 0, 0, 0],
    [0, 0, 1, 0, 0],
    [0, 0, 0, 1, 0],
    [0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0],
  ];
  assert.deepEqual(computeVertexChannels(16, 32, chain), [16, 32, 32, 32, 32]);
  // The input→output edge is not counted among the output's feeders.
  const skip = [[0, 1, 1], [0, 0, 1], [0, 0, 0]];
  assert.deepEqual(computeVertexChannels(16, 32, skip), [16, 32, 32]);
  assert.deepEqual(computeVertexChannels(16, 32, [[0, 1], [0, 0]]), [16, 32]);
  // Vertex 1 feeds vertices 2 (17 ch) and 3 (16 ch) only: it takes the max, 17.
  const diamond = [
    [0, 1, 0, 0, 1],
    [0, 0, 1, 1, 0],
    [0, 0, 0, 0, 1],
    [0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0],
  ];
  assert.deepEqual(computeVertexChannels(16, 33, diamond), [16, 17, 17, 16, 33]);
  // Vertex order decides who gets the remainder: vertex 1 (feeds output) gets the +1.
  const mixed = [[0, 1, 0, 0], [0, 0, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0]];
  assert.deepEqual(computeVertexChannels(8, 5, mixed), [8, 3, 2, 5]);
  // The documented example cell, at 64 output channels: 5 and 2 feed the output.
  assert.deepEqual(computeVertexChannels(32, 64, EXAMPLE.matrix), [32, 32, 32, 32, 32, 32, 64]);
});

Deno.test("nb101 sample and mutate are deterministic for a seed", () => {
  const run = (seed: number) => {
    const rng = new Rng(seed);
    const start = sampleNb101(rng);
    return [start, mutateNb101(start, rng), nb101Space.mutate(start, rng)].map(formatNb101);
  };
  assert.deepEqual(run(7), run(7));
  assert.notDeepEqual(run(7), run(8));
});

Deno.test("nb101 samples are valid 7-vertex cells in original form", () => {
  const rng = new Rng("nb101-sample");
  const opCounts = new Map<string, number>();
  for (let i = 0; i < 2000; i++) {
    const spec = nb101Space.sample(rng);
    assert.equal(spec.matrix.length, 7);
    assert.ok(isValidNb101(spec), formatNb101(spec));
    for (const op of spec.ops.slice(1, -1)) opCounts.set(op, (opCounts.get(op) ?? 0) + 1);
  }
  assert.deepEqual([...opCounts.keys()].sort(), [C1, C3, MP]);
});

Deno.test("nb101 property: 10,000 mutations from random starts stay valid and mostly change", () => {
  const rng = new Rng("nb101-mutate");
  let spec = sampleNb101(rng);
  let changedOriginal = 0;
  let changedKey = 0;
  const opChanges = [0, 0, 0, 0, 0];
  const trials = 10_000;
  for (let i = 0; i < trials; i++) {
    if (i % 20 === 0) spec = sampleNb101(rng);
    const child = nb101Space.mutate(spec, rng);
    assert.ok(isValidNb101(child), formatNb101(child));
    assert.equal(child.matrix.length, spec.matrix.length);
    assert.equal(child.ops[0], "input");
    assert.equal(child.ops[6], "output");
    if (formatNb101(child) !== formatNb101(spec)) changedOriginal++;
    if (nb101Space.key(child) !== nb101Space.key(spec)) changedKey++;
    for (let v = 1; v <= 5; v++) {
      if (child.ops[v] !== spec.ops[v]) opChanges[v - 1]++;
    }
    spec = child;
  }
  assert.ok(changedOriginal > 0.95 * trials, `original changed ${changedOriginal}/${trials}`);
  assert.ok(changedKey > 0.6 * trials, `pruned cell changed ${changedKey}/${trials}`);
  // Validity depends on the matrix alone, so each interior op still changes with probability 1/5
  // (standard deviation 0.004 over 10,000 trials).
  for (const count of opChanges) assert.ok(Math.abs(count / trials - 0.2) < 0.02, `${opChanges}`);
});

Deno.test("nb101 mutation keeps the vertex count of smaller (pruned-form) cells", () => {
  const rng = new Rng(3);
  const small: Nb101Spec = {
    matrix: [[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]],
    ops: ["input", C3, MP, "output"],
  };
  const bare: Nb101Spec = { matrix: [[0, 1], [0, 0]], ops: ["input", "output"] };
  for (let i = 0; i < 500; i++) {
    const child = mutateNb101(small, rng);
    assert.equal(child.matrix.length, 4);
    assert.ok(isValidNb101(child));
    // Vertex 1 of a 3-vertex cell is resampled with probability 1/(V−2) = 1, always to another op.
    const three = mutateNb101({
      matrix: [[0, 1, 0], [0, 0, 1], [0, 0, 0]],
      ops: ["input", C1, "output"],
    }, rng);
    assert.notEqual(three.ops[1], C1);
    assert.deepEqual(mutateNb101(bare, rng), bare);
  }
});
