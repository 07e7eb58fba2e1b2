/**
 * The fused cell-segment kernels (src/kernels/cell.ts) against a float64 evaluator of the same
 * program: forward values of every output, and the backward's input gradients with some output
 * gradients absent, some input gradients not wanted, and some accumulating; outputs poisoned.
 */
import assert from "node:assert/strict";
import { CELL_ARITY, cellBackward, cellForward, type CellProgram } from "../src/kernels/cell.ts";
import { Rng } from "../src/util/rng.ts";
import { assertClose, randomArray, withBench } from "./support/gpu.ts";

/** Forward values and reverse-mode input gradients in float64, one element at a time. */
function reference(p: CellProgram, inputs: Float32Array[], gradOut: (Float32Array | undefined)[]) {
  const n = inputs[0].length;
  const outputs = p.outputs.map(() => new Float64Array(n));
  const grads = inputs.map(() => new Float64Array(n));
  for (let i = 0; i < n; i++) {
    const v = inputs.map((x) => x[i]);
    for (const node of p.nodes) {
      const [a, b, c] = node.args.map((k) => v[k]);
      v.push(
        node.fn === "tanh"
          ? Math.tanh(a)
          : node.fn === "sigm"
          ? 1 / (1 + Math.exp(-a))
          : node.fn === "leaky_relu"
          ? (a > 0 ? a : 0.01 * a)
          : node.fn === "prod"
          ? a * b
          : node.fn === "sum"
          ? a + b
          : a * b + (1 - a) * c,
      );
    }
    p.outputs.forEach((k, o) => (outputs[o][i] = v[k]));
    const g = v.map(() => 0);
    p.outputs.forEach((k, o) => (g[k] += gradOut[o]?.[i] ?? 0));
    for (let k = p.nodes.length - 1; k >= 0; k--) {
      const { fn, args } = p.nodes[k];
      const y = p.inputs + k;
      const [a, b, c] = args;
      if (fn === "tanh") g[a] += g[y] * (1 - v[y] ** 2);
      else if (fn === "sigm") g[a] += g[y] * v[y] * (1 - v[y]);
      else if (fn === "leaky_relu") g[a] += g[y] * (v[a] > 0 ? 1 : 0.01);
      else if (fn === "prod") {
        g[a] += g[y] * v[b];
        g[b] += g[y] * v[a];
      } else if (fn === "sum") {
        g[a] += g[y];
        g[b] += g[y];
      } else {
        g[a] += g[y] * (v[b] - v[c]);
        g[b] += g[y] * v[a];
        g[c] += g[y] * (1 - v[a]);
      }
    }
    grads.forEach((gr, j) => (gr[i] = g[j]));
  }
  return { outputs, grads };
}

// Every function, an input read twice by one node, a value read by several nodes, an output
// that is also read inside the segment.
const PROGRAM: CellProgram = {
  inputs: 3,
  nodes: [
    { fn: "sigm", args: [0] }, // 3
    { fn: "tanh", args: [1] }, // 4
    { fn: "prod", args: [3, 3] }, // 5
    { fn: "blend", args: [3, 4, 2] }, // 6
    { fn: "leaky_relu", args: [6] }, // 7
    { fn: "sum", args: [7, 5] }, // 8
  ],
  outputs: [6, 8],
};

Deno.test("program arities cover every cell function", () => {
  const used = new Set(PROGRAM.nodes.map((n) => n.fn));
  assert.deepEqual([...used].sort(), Object.keys(CELL_ARITY).sort());
});

Deno.test("fused cell segment: forward and backward match float64", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("cell kernels");
    const n = 1000; // not a multiple of the workgroup
    const inputs = [0, 1, 2].map(() => randomArray(rng, n, 3));
    const inSlices = inputs.map((x) => bench.input(x));
    const outs = PROGRAM.outputs.map(() => bench.output(n));
    await bench.run([cellForward(PROGRAM, n, { inputs: inSlices, outputs: outs })]);
    const tol = { atol: 1e-6, rtol: 1e-5 };
    const all = reference(PROGRAM, inputs, [randomArray(rng, n), randomArray(rng, n)]);
    for (const [o, slice] of outs.entries()) {
      assertClose(await bench.read(slice), all.outputs[o], tol, `forward output ${o}`);
    }
    const gradOuts = [randomArray(rng, n), randomArray(rng, n)];
    for (
      const [label, present] of [
        ["both output gradients", [true, true]],
        ["first output's gradient only", [true, false]],
        ["second output's gradient only", [false, true]],
      ] as const
    ) {
      const given = gradOuts.map((g, o) => (present[o] ? g : undefined));
      const expected = reference(PROGRAM, inputs, given).grads;
      const prior = randomArray(rng, n);
      // Input 0 written fresh, input 1 not wanted, input 2 accumulated onto `prior`.
      const gin0 = bench.output(n);
      const gin2 = bench.input(prior);
      const launch = cellBackward(PROGRAM, n, {
        inputs: inSlices,
        gradOut: given.map((g) => (g ? bench.input(g) : undefined)),
        gradIn: [{ slot: gin0, accumulate: false }, undefined, { slot: gin2, accumulate: true }],
      });
      assert(launch);
      await bench.run([launch]);
      assertClose(await bench.read(gin0), expected[0], tol, `${label}: input 0`);
      const plus = Array.from(expected[2], (v, i) => v + prior[i]);
      assertClose(await bench.read(gin2), plus, tol, `${label}: input 2 accumulated`);
    }
    assert.equal(
      cellBackward(PROGRAM, n, {
        inputs: inSlices,
        gradOut: [undefined, undefined],
        gradIn: [undefined, undefined, undefined],
      }),
      undefined,
      "nothing to do: no launch",
    );
  });
});

Deno.test("cell programs that read a value before it exists are refused", () => {
  const bad: CellProgram = { inputs: 1, nodes: [{ fn: "tanh", args: [1] }], outputs: [1] };
  assert.throws(() => cellForward(bad, 4, { inputs: [0], outputs: [0] }), /not computed before/);
  const arity: CellProgram = { inputs: 1, nodes: [{ fn: "prod", args: [0] }], outputs: [1] };
  assert.throws(() => cellForward(arity, 4, { inputs: [0], outputs: [0] }), /takes 2 args/);
});
