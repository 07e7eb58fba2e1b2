/**
 * The NAS-Bench-NLP space: recipe validation (every error names the node), the canonical key,
 * parse forms and round trip, structural features, a hand-computed cell step, pool sampling and
 * k-nearest mutation, NLP tasks, and the loss truth table's sign convention.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { acquireGpu } from "../src/gpu/device.ts";
import { GraphBuilder } from "../src/graph/builder.ts";
import { compileGraph } from "../src/graph/compile.ts";
import { loadTruth } from "../src/eval/truth.ts";
import { getSpace } from "../src/spaces/index.ts";
import { buildNbNlpNetwork, PTB_ARGS } from "../src/spaces/nbnlp_build.ts";
import { type NbNlpArch } from "../src/spaces/nbnlp.ts";
import {
  canonicalKey,
  cellFeatures,
  FEATURE_NAMES,
  validateRecipe,
} from "../src/spaces/nbnlp_recipe.ts";
import { buildNlpTask, GRID_H, GRID_M, NLP_PRESETS, parseNlpTaskConfig } from "../src/tasks/nlp.ts";
import { InputError } from "../src/util/errors.ts";
import { Rng } from "../src/util/rng.ts";

const RNN = {
  f: { op: "linear", input: ["x", "h_prev_0"] },
  h_new_0: { op: "activation_tanh", input: ["f"] },
};

function rejects(recipe: unknown, pattern: RegExp) {
  assert.throws(() => validateRecipe(recipe), (e: Error) => {
    assert(e instanceof InputError, `InputError, got ${e}`);
    assert.match(e.message, pattern);
    return true;
  });
}

Deno.test("nbnlp recipe validation: each error names the node", () => {
  rejects(
    { ...RNN, g: { op: "conv", input: ["x"] } },
    /node "g": unknown op "conv"; allowed: "linear"/,
  );
  rejects(
    { ...RNN, g: { op: "activation_tanh", input: ["nope"] } },
    /node "g": unknown input "nope"/,
  );
  rejects(
    { ...RNN, g: { op: "blend", input: ["x", "f"] } },
    /node "g": op blend takes 3 input\(s\), got 2/,
  );
  rejects(
    { ...RNN, g: { op: "activation_sigm", input: ["x", "f"] } },
    /node "g": op activation_sigm takes 1/,
  );
  rejects({ ...RNN, g: { op: "linear", input: [] } }, /node "g": op linear takes at least 1/);
  rejects({
    a: { op: "linear", input: ["x", "b"] },
    b: { op: "activation_tanh", input: ["a"] },
    h_new_0: { op: "activation_tanh", input: ["b"] },
  }, /node "[ab]" is on a cycle: (a → b → a|b → a → b)/);
  rejects({ f: RNN.f }, /no node "h_new_0"/);
  rejects({
    f: { op: "linear", input: ["h_prev_0"] },
    h_new_0: { op: "activation_tanh", input: ["f"] },
  }, /node "h_new_0" does not depend on "x"/);
  rejects(
    { ...RNN, g: { op: "linear", input: ["x", "h_prev_1"] } },
    /node "g": input "h_prev_1" has no matching output/,
  );
  rejects({ ...RNN, h_new_2: { op: "activation_tanh", input: ["f"] } }, /"h_new_1" is missing/);
  rejects({ ...RNN, x: { op: "activation_tanh", input: ["f"] } }, /node "x" redefines an input/);
  rejects({ ...RNN, g: { op: "linear", input: ["x"], extra: 1 } }, /node "g": unknown key "extra"/);
  rejects([1, 2], /expected an object/);
  // x reached only through the recurrence is accepted (h_new_1 carries it into h_prev_1).
  const cell = validateRecipe({
    a: { op: "linear", input: ["x"] },
    h_new_1: { op: "activation_tanh", input: ["a"] },
    h_new_0: { op: "activation_sigm", input: ["h_prev_1"] },
  });
  assert.equal(cell.hiddenSize, 2);
});

Deno.test("nbnlp canonical key: names, commutative order and unused nodes do not matter", () => {
  const a = validateRecipe({
    i: { op: "linear", input: ["x", "h_prev_0"] },
    j: { op: "linear", input: ["h_prev_0", "x"] },
    p: { op: "elementwise_prod", input: ["i_a", "j"] },
    i_a: { op: "activation_sigm", input: ["i"] },
    dead: { op: "activation_tanh", input: ["x"] },
    h_new_0: { op: "activation_tanh", input: ["p"] },
  });
  const b = validateRecipe({
    h_new_0: { op: "activation_tanh", input: ["q"] },
    q: { op: "elementwise_prod", input: ["u", "s"] },
    s: { op: "activation_sigm", input: ["t"] },
    t: { op: "linear", input: ["h_prev_0", "x"] },
    u: { op: "linear", input: ["x", "h_prev_0"] },
  });
  assert.equal(canonicalKey(a), canonicalKey(b));
  // Sharing one node twice is a different cell from two equal-looking nodes.
  const shared = validateRecipe({
    f: { op: "linear", input: ["x", "h_prev_0"] },
    h_new_0: { op: "elementwise_prod", input: ["f", "f"] },
  });
  const twin = validateRecipe({
    f: { op: "linear", input: ["x", "h_prev_0"] },
    g: { op: "linear", input: ["x", "h_prev_0"] },
    h_new_0: { op: "elementwise_prod", input: ["f", "g"] },
  });
  assert.notEqual(canonicalKey(shared), canonicalKey(twin));
  // blend is not commutative.
  const blend = (inputs: string[]) =>
    canonicalKey(validateRecipe({
      s: { op: "activation_sigm", input: ["x"] },
      t: { op: "activation_tanh", input: ["h_prev_0"] },
      h_new_0: { op: "blend", input: inputs },
    }));
  assert.notEqual(blend(["s", "t", "x"]), blend(["s", "x", "t"]));
});

Deno.test("nbnlp features: documented names, hand-counted values", () => {
  const cell = validateRecipe({
    f: { op: "linear", input: ["x", "h_prev_0"] },
    g: { op: "activation_sigm", input: ["f"] },
    h_new_0: { op: "elementwise_prod", input: ["g", "f"] },
  });
  const f = Object.fromEntries(FEATURE_NAMES.map((n, i) => [n, cellFeatures(cell)[i]]));
  assert.deepEqual(f, {
    count_linear: 1,
    count_blend: 0,
    count_elementwise_prod: 1,
    count_elementwise_sum: 0,
    count_activation_tanh: 0,
    count_activation_sigm: 1,
    count_activation_leaky_relu: 0,
    nodes: 3,
    depth_h_new_0: 3,
    hidden_size: 1,
    uses_x: 1,
    uses_h_prev: 1,
    linear_inputs: 2,
    fan_in_1: 1,
    fan_in_2: 2,
    fan_in_3: 0,
    max_fan_out: 2,
  });
});

Deno.test("nbnlp parse forms: inline recipe, row object, file, round trip", async () => {
  const space = getSpace("nbnlp");
  const inline = space.parse(JSON.stringify(RNN)) as NbNlpArch;
  assert.deepEqual(inline.args, PTB_ARGS);
  assert.equal(
    space.parse(space.format(inline)) && space.format(space.parse(space.format(inline))),
    space.format(inline),
  );
  const small = { ...PTB_ARGS, emsize: 8, nhid: 9 };
  const row = space.parse(
    JSON.stringify({ recipe: JSON.stringify(RNN), args: small }),
  ) as NbNlpArch;
  assert.equal(row.args.nhid, 9);
  assert.deepEqual((space.parse(space.format(row)) as NbNlpArch).args, row.args);
  const dir = await Deno.makeTempDir();
  const file = join(dir, "cell.json");
  await Deno.writeTextFile(file, JSON.stringify(RNN));
  assert.equal(space.key(space.parse(file)), space.key(inline));
  const table = join(dir, "t.jsonl");
  await Deno.writeTextFile(
    table,
    `{"recepie_id": 7, "log_file": "log_7.json", "recipe": ${
      JSON.stringify(RNN)
    }, "status": "OK", "final_test_loss": NaN}\n`,
  );
  assert.equal(space.key(space.parse(`${table}#7`)), space.key(inline));
  assert.equal(space.key(space.parse(`${table}#log_7.json`)), space.key(inline));
  assert.throws(() => space.parse(`${table}#8`), /no row with recepie_id or log_file "8"/);
  assert.throws(() => space.parse("not-a-file"), /expected recipe JSON, TABLE#recepie_id/);
  assert.throws(() => space.parse("{oops"), /not valid JSON/);
});

Deno.test("nbnlp hand-computed cell step: blend of sigmoid and tanh, 1 layer, identity-free", async () => {
  // Cell: s = σ(W_s x + b_s), h_new_0 = blend(s, tanh(x'), h_prev_0) with x' = linear(x) too.
  // One layer (nlayers 1, tied: hidden = emsize = 1), d = 1, L = 2, B = 1, all weights set by hand.
  const cell = validateRecipe({
    s: { op: "linear", input: ["x"] },
    sa: { op: "activation_sigm", input: ["s"] },
    t: { op: "linear", input: ["x", "h_prev_0"] },
    ta: { op: "activation_tanh", input: ["t"] },
    h_new_0: { op: "blend", input: ["sa", "ta", "h_prev_0"] },
  });
  const args = { ...PTB_ARGS, emsize: 1, nhid: 1, nlayers: 1, dropout: 0, dropouth: 0, wdrop: 0 };
  const g = new GraphBuilder();
  const x = g.input("x", [2, 1]);
  const out = buildNbNlpNetwork(g, x, cell, args, {
    length: 2,
    batch: 1,
    trainRecurrent: false,
    seed: 0,
  });
  const target = g.input("target", [2, 1]);
  g.mseLoss([{ output: out, target, trainWeight: 1, evalWeight: 1 }]);
  const graph = await compileGraph(await acquireGpu(), g, {
    optimizer: { kind: "adam", lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 },
    seed: 0,
    maxIterations: 1,
  });
  const w = {
    enc: 0.5,
    encB: 0.1,
    s: 0.8,
    sB: -0.2,
    tx: 1.5,
    th: -0.7,
    tB: 0.05,
    dec: 2,
    decB: 0.3,
  };
  const c = "rnns.0.cell.components";
  graph.importParams(
    new Map([
      ["encoder.weight", [w.enc]],
      ["encoder.bias", [w.encB]],
      [`${c}.s.weights.0`, [w.s]],
      [`${c}.s.bias`, [w.sB]],
      [`${c}.t.weights.0`, [w.tx]],
      [`${c}.t.weights.1`, [w.th]],
      [`${c}.t.bias`, [w.tB]],
      ["decoder.weight", [w.dec]],
      ["decoder.bias", [w.decB]],
    ].map(([k, v]) => [k as string, Float32Array.from(v as number[])])),
  );
  const xs = [0.4, -1.2];
  const ys = [0.25, -0.5];
  graph.write(x, Float32Array.from(xs));
  graph.write(target, Float32Array.from(ys));
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  let h = 0;
  let loss = 0;
  for (let t = 0; t < 2; t++) {
    const e = w.enc * xs[t] + w.encB;
    const s = sig(w.s * e + w.sB);
    const ta = Math.tanh(w.tx * e + w.th * h + w.tB);
    h = s * ta + (1 - s) * h;
    loss += (w.dec * h + w.decB - ys[t]) ** 2 / 2;
  }
  const { loss: evalLoss } = await graph.evaluate();
  graph.destroy();
  assert(Math.abs(evalLoss - loss) < 1e-6, `eval loss ${evalLoss}, by hand ${loss}`);
});

Deno.test("nbnlp pool: seeded sampling of OK cells, mutation among the 10 nearest unseen", () => {
  const recipes = Array.from({ length: 30 }, (_, n) => {
    const r: Record<string, unknown> = { a0: { op: "linear", input: ["x", "h_prev_0"] } };
    for (let i = 1; i <= n % 6; i++) r[`a${i}`] = { op: "activation_tanh", input: [`a${i - 1}`] };
    r.h_new_0 = { op: n >= 15 ? "activation_sigm" : "activation_leaky_relu", input: [`a${n % 6}`] };
    return { cell: validateRecipe(r), args: { ...PTB_ARGS } };
  });
  const distinct = recipes.filter((a, i) =>
    recipes.findIndex((b) => canonicalKey(b.cell) === canonicalKey(a.cell)) === i
  );
  const overPool = () => getSpace("nbnlp").overTable!(distinct);
  const space = overPool();
  const first = space.sample(new Rng(1));
  assert.equal(space.key(overPool().sample(new Rng(1))), space.key(first), "seeded");
  const seen = new Set([space.key(first)]);
  let parent = first;
  for (let i = 0; i < 5; i++) {
    const child = space.mutate(parent, new Rng(i));
    assert(!seen.has(space.key(child)), "mutation hands out unseen cells");
    seen.add(space.key(child));
    parent = child;
  }
});

Deno.test("nbnlp tasks: presets valid, grids, validation errors, shapes", () => {
  assert.deepEqual(Object.keys(NLP_PRESETS), [
    "nlp-search",
    "nlp-combo",
    "nlp-single",
    "nlp-sin1d-m",
    "nlp-sin2d-m",
    "nlp-sin1d-h",
    "nlp-sin2d-h",
  ]);
  assert.equal(GRID_M.length, 10);
  assert.equal(GRID_M[9], 0.35);
  assert.equal(GRID_H[9], 0.4875);
  assert.equal(NLP_PRESETS["nlp-search"].dimension, 48);
  assert.throws(
    () => parseNlpTaskConfig({ ...NLP_PRESETS["nlp-search"], dimension: 0 }, "t.json"),
    /t.json: dimension: must be an integer >= 1/,
  );
  assert.throws(
    () => parseNlpTaskConfig({ ...NLP_PRESETS["nlp-search"], last_channel_l0: 1 }, "t.json"),
    /unknown key "last_channel_l0"/,
  );
  const withResize = structuredClone(NLP_PRESETS["nlp-combo"]);
  withResize.feature["1"].resize = { level: 1 };
  assert.throws(
    () => parseNlpTaskConfig(withResize, "t.json"),
    /feature.1.resize: NLP tasks have no resize/,
  );
  const { input, target } = buildNlpTask(NLP_PRESETS["nlp-search"], 16, new Rng(0));
  assert.equal(input.length, 8 * 16 * 48);
  assert.equal(target.length, 8 * 16 * 48);
  assert(input.some((v) => v !== 0) && target.every(Number.isFinite));
  const again = buildNlpTask(NLP_PRESETS["nlp-search"], 16, new Rng(0));
  assert.deepEqual(again.input, input, "seeded");
});

Deno.test("nbnlp truth: loss table, explicit sign convention, non-OK rows skipped and counted", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "t.jsonl");
  const row = (id: number, recipe: unknown, status: string, loss: number | string) =>
    `{"recepie_id": ${id}, "recipe": ${
      JSON.stringify(recipe)
    }, "status": "${status}", "final_test_loss": ${loss}, "test_losses": [6, 5.5, ${loss}]}`;
  const lstmish = {
    f: { op: "linear", input: ["x", "h_prev_0"] },
    g: { op: "activation_sigm", input: ["f"] },
    h_new_0: { op: "elementwise_prod", input: ["g", "f"] },
  };
  const renamed = {
    q: { op: "linear", input: ["h_prev_0", "x"] },
    r: { op: "activation_sigm", input: ["q"] },
    h_new_0: { op: "elementwise_prod", input: ["q", "r"] },
  };
  await Deno.writeTextFile(
    path,
    [
      row(1, RNN, "OK", 4.9),
      row(2, lstmish, "OK", 4.6),
      row(3, renamed, "OK", 4.8),
      row(4, RNN, "loss is nan!", "NaN"),
    ].join("\n"),
  );
  const table = await loadTruth("nbnlp", path);
  assert.equal(table.metric, "-final_test_loss");
  assert.equal(table.lowerIsBetter, true);
  assert.equal(table.accuracy.size, 2, "rows 2 and 3 are one cell");
  const space = getSpace("nbnlp");
  assert.equal(table.accuracy.get(space.key(space.parse(JSON.stringify(RNN)))), -4.9);
  assert(
    Math.abs(table.accuracy.get(space.key(space.parse(JSON.stringify(lstmish))))! + 4.7) < 1e-12,
  );
  assert.match(table.notes!.join("\n"), /skipped 1 rows whose status is not OK/);
  assert.match(table.notes!.join("\n"), /lower is better/);
  const ep3 = await loadTruth("nbnlp", path, { metric: "test_loss_ep3" });
  assert.equal(ep3.metric, "-test_loss_ep3");
  await assert.rejects(loadTruth("nbnlp", path, { metric: "acc" }), /allowed: "final_test_loss"/);
});
