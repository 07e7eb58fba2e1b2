/**
 * The NAS-Bench-NLP network against its PyTorch counterpart (scripts/golden_nbnlp.py) from the
 * same initial weights, inputs and targets (one shared integer hash, assigned by state_dict name):
 * the first-iteration gradient of every parameter, the losses of 20 Adam steps, the eval loss and
 * the final parameters, on a small network (d 6, emsize 5, nhid 7, 3 layers, L 8, batch 4) for
 * three cells. The WeightDrop quirk: with wdrop > 0 the raw hidden-to-hidden weights stay at their
 * initial values (as PyTorch's fresh-Parameter wrapper leaves them), and `trainRecurrent` trains
 * them. Dropout masks cannot be shared with PyTorch, so wdrop is 1e-9 there (a drop has
 * probability 2^-24 per element) and the other dropouts are 0.
 */
import assert from "node:assert/strict";
import golden from "../fixtures/golden/nbnlp.json" with { type: "json" };
import { acquireGpu } from "../src/gpu/device.ts";
import type { DeviceClass } from "../src/gpu/kernel.ts";
import { GraphBuilder } from "../src/graph/builder.ts";
import { compileGraph, type ParamInfo } from "../src/graph/compile.ts";
import { buildNbNlpNetwork, type NlpArgs } from "../src/spaces/nbnlp_build.ts";
import { validateRecipe } from "../src/spaces/nbnlp_recipe.ts";

// The shared generator of scripts/golden_nbnlp.py (as in tests/nbmacro_network_test.ts).
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return h;
}
function fmix(h: number): number {
  h = (h ^ (h >>> 16)) >>> 0;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h = (h ^ (h >>> 13)) >>> 0;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}
function hashedInts(key: string, n: number, m: number): number[] {
  const base = fmix(fnv1a(key));
  return Array.from({ length: n }, (_, i) => {
    const h = fmix((base + Math.imul(i, 0x9e3779b9 | 0)) >>> 0);
    return (h % (2 * m + 1)) - m;
  });
}
function hashed(key: string, n: number, m: number): Float32Array {
  return Float32Array.from(hashedInts(key, n, m), (q) => q / 4096);
}
function initialValue(seed: number, p: ParamInfo): Float32Array {
  const outer = p.name.startsWith("encoder.weight") || p.name.startsWith("decoder.weight");
  const bound = outer ? 0.1 : 1 / Math.sqrt(p.shape[0]);
  return hashed(`${seed}/${p.name}`, p.size, Math.floor(4096 * bound));
}

Deno.test("nbnlp golden generator reproduces the Python hash bit for bit", () => {
  const c = golden.hash_check;
  assert.deepEqual(hashedInts(c.key, c.ints.length, c.m), c.ints);
});

const s = golden.small;
interface Case {
  recipe: string;
  lr: number;
  frozen: boolean;
  seed: number;
  losses: number[];
  eval_loss: number;
  first_grads: Record<string, number[] | null>;
  final_params: Record<string, number[]>;
  param_shapes: Record<string, number[]>;
}
const cases = golden.cases as unknown as Case[];

function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

async function runCase(
  c: Case,
  o: { wdrop: number; trainRecurrent: boolean; deviceClass?: DeviceClass },
) {
  const gpu = await acquireGpu();
  const recipe = (golden.recipes as Record<string, unknown>)[c.recipe];
  const cell = validateRecipe(recipe);
  const args: NlpArgs = {
    emsize: s.emsize,
    nhid: s.nhid,
    nlayers: s.nlayers,
    dropout: 0,
    dropouth: 0,
    wdrop: o.wdrop,
    tied: true,
    wdecay: s.wdecay,
  };
  const g = new GraphBuilder();
  const rows = s.length * s.batch;
  const x = g.input("input", [rows, s.d]);
  const out = buildNbNlpNetwork(g, x, cell, args, {
    length: s.length,
    batch: s.batch,
    trainRecurrent: o.trainRecurrent,
    seed: 1,
  });
  const target = g.input("target", [rows, s.d]);
  g.mseLoss([{ output: out, target, trainWeight: 1, evalWeight: 1 }]);
  const graph = await compileGraph(gpu, g, {
    optimizer: {
      kind: "adam",
      lr: c.lr,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: s.wdecay,
    },
    seed: 1,
    maxIterations: s.iterations,
    deviceClass: o.deviceClass,
  });
  try {
    const initial = new Map(graph.params.map((p) => [p.name, initialValue(c.seed, p)]));
    graph.importParams(initial);
    graph.write(x, hashed("nlp-input", rows * s.d, 4096));
    graph.write(target, hashed("nlp-target", rows * s.d, 4096));
    graph.train(1);
    const grads = await graph.exportGradients();
    graph.train(s.iterations - 1);
    const { loss, trainLosses } = await graph.evaluate();
    const params = await graph.exportParams();
    return { grads, losses: trainLosses, evalLoss: loss, params, initial, info: graph.params };
  } finally {
    graph.destroy();
  }
}

function assertMatches(c: Case, r: Awaited<ReturnType<typeof runCase>>, frozen: boolean) {
  const names = Object.keys(c.param_shapes).sort();
  assert.deepEqual(r.info.map((p) => p.name).sort(), names, "parameter names");
  for (const p of r.info) {
    assert.deepEqual([...p.shape], c.param_shapes[p.name], p.name);
    const expected = c.first_grads[p.name];
    if (expected === null) {
      assert(frozen && !p.trained, `${p.name}: PyTorch gives it no gradient, gennas trains it`);
    } else {
      const got = r.grads.get(p.name)!;
      assert(
        relError(got, expected) < 1e-3,
        `${p.name}: gradient rel. error ${relError(got, expected)}`,
      );
    }
    const final = c.final_params[p.name];
    const err = relError(r.params.get(p.name)!, final);
    assert(err < 1e-3, `${p.name}: parameters after ${s.iterations} steps, rel. error ${err}`);
  }
  c.losses.forEach((expected, i) => {
    const rel = Math.abs(r.losses[i] - expected) / expected;
    assert(rel < 1e-3, `iteration ${i}: ${r.losses[i]} vs PyTorch ${expected}`);
  });
  const rel = Math.abs(r.evalLoss - c.eval_loss) / c.eval_loss;
  assert(rel < 1e-3, `eval loss ${r.evalLoss} vs PyTorch ${c.eval_loss}`);
}

for (const c of cases) {
  const label = `${c.recipe}${c.frozen ? ", frozen recurrent weights (WeightDrop quirk)" : ""}`;
  Deno.test(`nbnlp network (${label}) matches PyTorch: gradients, 20 Adam steps, eval loss`, async () => {
    const r = await runCase(c, { wdrop: c.frozen ? 1e-9 : 0, trainRecurrent: false });
    assertMatches(c, r, c.frozen);
    if (c.frozen) {
      let frozen = 0;
      for (const p of r.info) {
        if (!/\.weights\.\d+$/.test(p.name)) continue;
        const same = r.params.get(p.name)!.every((v, i) => v === r.initial.get(p.name)![i]);
        if (!p.trained) frozen++;
        assert.equal(same, !p.trained, `${p.name}: unchanged iff frozen`);
      }
      assert(frozen > 0, "some recurrent weights are frozen");
    }
    const again = await runCase(c, { wdrop: c.frozen ? 1e-9 : 0, trainRecurrent: false });
    assert.deepEqual([...again.losses], [...r.losses], "deterministic");
    assert.equal(again.evalLoss, r.evalLoss);
  });
}

Deno.test("nbnlp --nlp-train-recurrent trains the recurrent weights despite WeightDrop", async () => {
  const frozen = cases.find((c) => c.frozen)!;
  const trained = cases.find((c) => c.recipe === frozen.recipe && !c.frozen)!;
  const r = await runCase(trained, { wdrop: 1e-9, trainRecurrent: true });
  assert(r.info.every((p) => p.trained), "every parameter is trained");
  assertMatches(trained, r, false);
});

Deno.test("nbnlp network (mixed) matches PyTorch under the gpu kernel tilings too", async () => {
  const c = cases.find((k) => k.recipe === "mixed")!;
  assertMatches(
    c,
    await runCase(c, { wdrop: 0, trainRecurrent: false, deviceClass: "gpu" }),
    false,
  );
});
