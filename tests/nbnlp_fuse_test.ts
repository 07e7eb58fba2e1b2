/**
 * Fusion of NAS-Bench-NLP cell steps (src/spaces/nbnlp_fuse.ts): the stage plan (depths, segments,
 * the 8-binding split, the unfused fallback), and the fused network against the unfused one from
 * identical weights at vec4-friendly sizes (so the summed blocked linear kernels run), with frozen
 * recurrent weights: gradients of the first step, losses of 6 Adam steps, fewer dispatches.
 */
import assert from "node:assert/strict";
import golden from "../fixtures/golden/nbnlp.json" with { type: "json" };
import { cellBindings } from "../src/kernels/cell.ts";
import { acquireGpu } from "../src/gpu/device.ts";
import { GraphBuilder } from "../src/graph/builder.ts";
import { compileGraph } from "../src/graph/compile.ts";
import { buildNbNlpNetwork, type NlpArgs } from "../src/spaces/nbnlp_build.ts";
import { cellStages, linearDepths, MAX_SEGMENT_BINDINGS } from "../src/spaces/nbnlp_fuse.ts";
import { validateRecipe } from "../src/spaces/nbnlp_recipe.ts";
import { Rng } from "../src/util/rng.ts";

const recipes = golden.recipes as Record<string, unknown>;

/** A wide cell whose one elementwise depth needs more than 8 bindings unsplit. */
const WIDE = {
  a: { op: "linear", input: ["x", "h_prev_0"] },
  b: { op: "linear", input: ["x"] },
  p: { op: "elementwise_prod", input: ["a", "h_prev_1"] },
  q: { op: "elementwise_prod", input: ["b", "h_prev_2"] },
  r: { op: "blend", input: ["h_prev_3", "p", "q"] },
  s: { op: "elementwise_sum", input: ["r", "h_prev_4"] },
  h_new_0: { op: "activation_tanh", input: ["s"] },
  h_new_1: { op: "blend", input: ["p", "q", "h_prev_5"] },
  h_new_2: { op: "activation_sigm", input: ["r"] },
  h_new_3: { op: "activation_leaky_relu", input: ["q"] },
  h_new_4: { op: "elementwise_sum", input: ["s", "b"] },
  h_new_5: { op: "elementwise_prod", input: ["h_new_0", "a"] },
};

Deno.test("lstm step: linears of depth 1 as one stage, then one fused segment (split under 8)", () => {
  const cell = validateRecipe(recipes.lstm);
  const stages = cellStages(cell, true, 32); // lavapipe's limit
  assert.deepEqual(stages.map((s) => s.kind), ["linears", "segment"]);
  const [linears, segment] = stages;
  assert(linears.kind === "linears" && segment.kind === "segment");
  assert.deepEqual(linears.nodes.sort(), ["f", "i", "j", "o"]);
  assert.deepEqual(segment.inputs.sort(), ["f", "h_prev_1", "i", "j", "o"]);
  assert.deepEqual(segment.outputs.sort(), ["h_new_0", "h_new_1"]);
  const narrow = cellStages(cell, true).filter((s) => s.kind === "segment");
  assert(narrow.length > 1, "12 bindings unsplit: split under WebGPU's least limit, 8");
  assert.deepEqual(
    cellStages(cell, false).map((s) => s.kind === "node" && s.node),
    cell.order,
    "unfused: one stage per node, in order",
  );
});

Deno.test("stages cover every node once, in dependency order, within 8 bindings", () => {
  for (const recipe of [...Object.values(recipes), WIDE]) {
    const cell = validateRecipe(recipe);
    const stages = cellStages(cell, true);
    const depth = linearDepths(cell);
    const seen = new Set<string>([
      "x",
      ...Array.from({ length: cell.hiddenSize }, (_, k) => `h_prev_${k}`),
    ]);
    let segments = 0;
    for (const s of stages) {
      assert(s.kind !== "node");
      for (const n of s.nodes) {
        for (const i of cell.recipe[n].input) {
          assert(
            seen.has(i) || (s.kind === "segment" && s.nodes.includes(i)),
            `${n} reads ${i} early`,
          );
        }
      }
      s.nodes.forEach((n) => seen.add(n));
      if (s.kind === "segment") {
        segments++;
        assert(cellBindings(s.program).backward <= MAX_SEGMENT_BINDINGS, JSON.stringify(s.nodes));
        assert.equal(new Set(s.nodes.map((n) => depth.get(n))).size, 1, "one depth per segment");
      }
    }
    assert.deepEqual([...seen].filter((n) => cell.recipe[n]).sort(), [...cell.order].sort());
    if (recipe === WIDE) assert(segments > 1, "the wide depth is split");
  }
});

Deno.test("an elementwise node reading x keeps the cell unfused", () => {
  const cell = validateRecipe({
    a: { op: "linear", input: ["x", "h_prev_0"] },
    h_new_0: { op: "elementwise_sum", input: ["a", "x"] },
  });
  assert(cellStages(cell, true).every((s) => s.kind === "node"));
});

const SIZE = { d: 8, emsize: 8, nhid: 12, length: 4, batch: 4 };

async function run(recipe: unknown, fuse: boolean) {
  const gpu = await acquireGpu();
  const cell = validateRecipe(recipe);
  const args: NlpArgs = {
    emsize: SIZE.emsize,
    nhid: SIZE.nhid,
    nlayers: 2,
    dropout: 0,
    dropouth: 0,
    wdrop: 1e-9,
    tied: true,
    wdecay: 1e-4,
  };
  const g = new GraphBuilder();
  const rows = SIZE.length * SIZE.batch;
  const x = g.input("input", [rows, SIZE.d]);
  const out = buildNbNlpNetwork(g, x, cell, args, {
    length: SIZE.length,
    batch: SIZE.batch,
    trainRecurrent: false,
    seed: 1,
    fuse,
  });
  const target = g.input("target", [rows, SIZE.d]);
  g.mseLoss([{ output: out, target, trainWeight: 1, evalWeight: 1 }]);
  const graph = await compileGraph(gpu, g, {
    optimizer: { kind: "adam", lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-4 },
    seed: 1,
    maxIterations: 6,
    deviceClass: "cpu",
  });
  try {
    const rng = new Rng("nbnlp fuse");
    const random = (n: number) => Float32Array.from({ length: n }, () => 2 * rng.uniform() - 1);
    graph.importParams(new Map(graph.params.map((p) => [p.name, random(p.size)])));
    graph.write(x, random(rows * SIZE.d));
    graph.write(target, random(rows * SIZE.d));
    graph.train(1);
    const grads = await graph.exportGradients();
    graph.train(5);
    const { trainLosses } = await graph.evaluate();
    return { grads, losses: [...trainLosses], dispatches: graph.dispatches.train.length };
  } finally {
    graph.destroy();
  }
}

/** PTB cell 2001045: a linear of depth 2 reads x beside an internal node. */
const DEEP = {
  node_0: { op: "linear", input: ["x", "h_prev_0"] },
  node_1: { op: "activation_tanh", input: ["node_0"] },
  node_4: { op: "linear", input: ["x", "node_1"] },
  h_new_0: { op: "activation_leaky_relu", input: ["node_4"] },
};

for (
  const [name, recipe] of [...Object.entries(recipes), ["wide", WIDE], ["deep", DEEP]] as const
) {
  Deno.test(`nbnlp fused step (${name}) matches the unfused one, in fewer dispatches`, async () => {
    const fused = await run(recipe, true);
    const plain = await run(recipe, false);
    assert(fused.dispatches < plain.dispatches, `${fused.dispatches} vs ${plain.dispatches}`);
    for (const [param, g] of plain.grads) {
      const f = fused.grads.get(param)!;
      let num = 0;
      let den = 0;
      g.forEach((v, i) => {
        num += (f[i] - v) ** 2;
        den += v * v;
      });
      assert(Math.sqrt(num / Math.max(den, 1e-30)) < 1e-5, `${param}: gradient differs`);
    }
    fused.losses.forEach((l, i) => {
      assert(
        Math.abs(l - plain.losses[i]) <= 1e-5 * plain.losses[i],
        `step ${i}: ${l} vs ${plain.losses[i]}`,
      );
    });
  });
}
