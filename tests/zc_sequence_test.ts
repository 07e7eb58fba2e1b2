/**
 * Zero-cost proxies of a sequence space (nbnlp): synflow of the recurrent network against a
 * float64 forward with central-difference gradients, and the other zero-cost proxies refused.
 */
import assert from "node:assert/strict";
import { logSequenceSynflow } from "../src/proxy/zc_synflow.ts";
import { checkZeroCostSupport } from "../src/proxy/zero_cost.ts";
import { getSpace } from "../src/spaces/index.ts";
import { InputError } from "../src/util/errors.ts";
import { Rng } from "../src/util/rng.ts";
import { acquireGpu, assertClose, randomArray } from "./support/gpu.ts";

const RECIPE = {
  f: { op: "linear", input: ["x", "h_prev_0"] },
  h_new_0: { op: "activation_tanh", input: ["f"] },
};
const ARGS = {
  emsize: 3,
  nhid: 4,
  nlayers: 2,
  dropout: 0.5,
  dropouth: 0.5,
  wdrop: 0.5,
  tied: false,
  wdecay: 1.2e-6,
};
const [LENGTH, DIM] = [3, 2];

/** R = Σ output of the |θ| network on an all-ones input, in float64 (dropout off). */
function reference(p: Map<string, Float64Array>): number {
  const lin = (w: Float64Array, x: Float64Array, rows: number) =>
    Float64Array.from(
      { length: rows },
      (_, r) => x.reduce((s, v, c) => s + w[r * x.length + c] * v, 0),
    );
  const add = (...vs: Float64Array[]) => vs[0].map((_, i) => vs.reduce((s, v) => s + v[i], 0));
  const h = [new Float64Array(ARGS.nhid), new Float64Array(ARGS.nhid)];
  let r = 0;
  for (let t = 0; t < LENGTH; t++) {
    let x = add(
      lin(p.get("encoder.weight")!, new Float64Array(DIM).fill(1), ARGS.emsize),
      p.get("encoder.bias")!,
    );
    for (let l = 0; l < ARGS.nlayers; l++) {
      const pre = `rnns.${l}.cell.components.f`;
      const f = add(
        lin(p.get(`${pre}.weights.0`)!, x, ARGS.nhid),
        lin(p.get(`${pre}.weights.1`)!, h[l], ARGS.nhid),
        p.get(`${pre}.bias`)!,
      );
      h[l] = f.map(Math.tanh);
      x = h[l];
    }
    r += add(lin(p.get("decoder.weight")!, x, DIM), p.get("decoder.bias")!).reduce(
      (s, v) => s + v,
      0,
    );
  }
  return r;
}

Deno.test("nbnlp synflow matches a float64 forward with central-difference gradients", async () => {
  const gpu = await acquireGpu();
  const space = getSpace("nbnlp");
  const arch = space.parse(JSON.stringify({ recipe: RECIPE, args: ARGS }));
  const rng = new Rng("sequence synflow");
  const shapes: Record<string, number> = {
    "encoder.weight": ARGS.emsize * DIM,
    "encoder.bias": ARGS.emsize,
    "decoder.weight": DIM * ARGS.nhid,
    "decoder.bias": DIM,
  };
  for (let l = 0; l < ARGS.nlayers; l++) {
    const pre = `rnns.${l}.cell.components.f`;
    shapes[`${pre}.weights.0`] = ARGS.nhid * (l === 0 ? ARGS.emsize : ARGS.nhid);
    shapes[`${pre}.weights.1`] = ARGS.nhid * ARGS.nhid;
    shapes[`${pre}.bias`] = ARGS.nhid;
  }
  // Signed weights: the proxy takes their absolute values itself.
  const params = new Map(Object.entries(shapes).map(([k, n]) => [k, randomArray(rng, n, 0.8)]));
  const got = await logSequenceSynflow(gpu, space, arch, {
    seed: 1,
    length: LENGTH,
    dimension: DIM,
    params,
  });
  const abs = new Map([...params].map(([k, v]) => [k, Float64Array.from(v, Math.abs)]));
  let sum = 0;
  const h = 1e-6;
  for (const [name, w] of abs) {
    if (name.endsWith(".bias")) continue;
    for (let i = 0; i < w.length; i++) {
      const keep = w[i];
      w[i] = keep + h;
      const up = reference(abs);
      w[i] = keep - h;
      const down = reference(abs);
      w[i] = keep;
      sum += Math.abs(keep * (up - down) / (2 * h));
    }
  }
  assertClose([got.value], [Math.log(sum)], { atol: 1e-5, rtol: 0 }, "log synflow");
});

Deno.test("a sequence space refuses the image and label proxies, naming the ones it has", () => {
  const space = getSpace("nbnlp");
  checkZeroCostSupport(space, ["gennas", "synflow", "params", "flops"]);
  assert.throws(
    () => checkZeroCostSupport(space, ["synflow", "snip", "naswot"]),
    (e: unknown) =>
      e instanceof InputError && /snip, naswot need labelled images/.test(e.message) &&
      /gennas, params, flops, synflow and ensemble/.test(e.message),
  );
  checkZeroCostSupport(getSpace("nb201"), ["snip", "naswot"]);
});
