import assert from "node:assert/strict";
import { GraphBuilder } from "../src/graph/builder.ts";
import { compileGraph } from "../src/graph/compile.ts";
import { loadImageSet } from "../src/data/images.ts";
import { buildClassifier } from "../src/proxy/cost.ts";
import { DEFAULT_PROXY_SETTINGS } from "../src/proxy/settings.ts";
import { labelledBatch, scoreZeroCost } from "../src/proxy/zero_cost.ts";
import { crossEntropyPass } from "../src/proxy/zc_gradients.ts";
import { fisherChannels, fisherLayers, fisherScore } from "../src/proxy/zc_fisher.ts";
import { GRASP_STEP, graspScore } from "../src/proxy/zc_grasp.ts";
import { getSpace } from "../src/spaces/index.ts";
import { buildNb201Network, type Nb201Arch } from "../src/spaces/nb201.ts";
import { Rng } from "../src/util/rng.ts";
import { acquireGpu, assertClose, randomArray } from "./support/gpu.ts";
import { sharedFile } from "./support/data.ts";
import { hashed, initialValue } from "./support/golden_hash.ts";
import golden from "../fixtures/golden/proxies.json" with { type: "json" };

const fg = golden.fisher_grasp;
const goldenParams = () =>
  new Map(Object.entries(fg.params).map(([k, v]) => [k, Float32Array.from(v)]));

/** scripts/golden_proxies.py's Tiny network: conv with bias, BN + ReLU, conv, pool, linear. */
function tinyNet(batch: number, o: { layerOutputs?: boolean; frozenPatterns?: boolean } = {}) {
  const g = new GraphBuilder(o);
  const input = g.input("input", [batch, 3, 8, 8]);
  const a = g.conv2d("a", input, { outChannels: 4, kernel: 3, pad: 1, bias: true });
  const h = g.batchNorm("bn", a, { affine: true, track: true, relu: true });
  const b = g.conv2d("b", h, { outChannels: 6, kernel: 3, stride: 2, pad: 1, bias: false });
  const pooled = g.globalAvgPool("pool", b);
  const logits = g.linear("fc", pooled, 10, { bias: true });
  return { builder: g, input, logits };
}

Deno.test("fisher Δ per channel against a float64 loop of its definition", () => {
  const rng = new Rng("fisher channels");
  const [n, c, s] = [3, 2, 5];
  const a = randomArray(rng, n * c * s, 1);
  const g = randomArray(rng, n * c * s, 1);
  const want = new Float64Array(c);
  for (let k = 0; k < c; k++) {
    for (let i = 0; i < n; i++) {
      let dot = 0;
      for (let j = 0; j < s; j++) dot += a[(i * c + k) * s + j] * g[(i * c + k) * s + j];
      want[k] += (0.5 * dot * dot) / n;
    }
  }
  assertClose(fisherChannels(a, g, n, c), want, { atol: 0, rtol: 1e-12 }, "Δ");
});

Deno.test("fisher of a tiny network (conv with bias, conv, linear) matches foresight's hooks", async () => {
  const gpu = await acquireGpu();
  const net = tinyNet(6);
  assert.deepEqual(
    fisherLayers(net.builder).map((l) => [l.name, l.fanIn]),
    [["a", 27], ["b", 36], ["fc", 6]],
  );
  const out = await fisherScore(gpu, net, Float32Array.from(fg.x), Float32Array.from(fg.labels), {
    seed: 1,
    params: goldenParams(),
  });
  for (const [name, want] of Object.entries(fg.fisher_channels)) {
    assertClose(out.channels.get(name)!, want, { atol: 0, rtol: 1e-4 }, `Δ of ${name}`);
  }
  assertClose([out.value], [fg.fisher], { atol: 0, rtol: 1e-4 }, "fisher");
});

Deno.test("a layer adding into a sum is refused unless built with layerOutputs", () => {
  for (const layerOutputs of [false, true]) {
    const g = new GraphBuilder({ layerOutputs });
    const x = g.input("x", [2, 3]);
    const sum = g.linear("first", x, 4, { bias: false });
    g.linear("second", x, 4, { bias: true }, sum);
    if (layerOutputs) {
      assert.deepEqual(fisherLayers(g).map((l) => l.output.name), ["first", "second"]);
    } else assert.throws(() => fisherLayers(g), /second adds into a sum/);
  }
});

// The finite difference along W (patterns frozen at W, g the mean of the two perturbed gradients)
// against float64 double backward, relative to the score, at δ = 1e-2 (GRASP_STEP): tiny network
// 4.6e-6 (3.5e-7 at δ/3), NB-201 (one cell per stack) 3.3e-4, NB-101 (C = 4, batch 4) 9.3e-3
// (float32 rounding of its large stem gradients ∝ 1/δ dominates there; with g from a pass of its
// own, as before 2026-12-04: 5.7e-6, 2.7e-4, 9.3e-3). Margins ≥ 3 at GRASP_STEP.
const GRASP_TOL = 1e-4;
const NB201_GRASP_TOL = 1e-3;
const NB101_GRASP_TOL = 3e-2;

Deno.test("grasp of a tiny network matches PyTorch's double backward within the finite difference", async () => {
  const gpu = await acquireGpu();
  const run = (step?: number) =>
    graspScore(
      gpu,
      (o) => tinyNet(6, o),
      Float32Array.from(fg.x),
      Float32Array.from(fg.labels),
      { seed: 1, params: goldenParams(), step },
    );
  const out = await run();
  assertClose([out.value], [fg.grasp], { atol: GRASP_TOL * Math.abs(fg.grasp), rtol: 0 }, "grasp");
  assert.equal(out.step, GRASP_STEP);
  assert(out.absSum >= Math.abs(out.value) && out.hw.get("a.weight")!.some((v) => v !== 0));
  const fine = await run(GRASP_STEP / 3);
  assertClose([fine.value], [fg.grasp], { atol: GRASP_TOL * Math.abs(fg.grasp), rtol: 0 }, "δ/3");
});

Deno.test("grasp's passes on one graph: re-imported weights give bit-identical gradients", async () => {
  const gpu = await acquireGpu();
  const net = tinyNet(6);
  const labels = net.builder.input("labels", [6]);
  net.builder.crossEntropyLoss(net.logits, labels);
  const graph = await compileGraph(gpu, net.builder, {
    optimizer: { kind: "sgd", lr: 0, momentum: 0, weightDecay: 0 },
    seed: 1,
    maxIterations: 3,
  });
  try {
    const params = goldenParams();
    graph.importParams(params);
    graph.write(net.input, Float32Array.from(fg.x));
    graph.write(labels, Float32Array.from(fg.labels));
    graph.train(1);
    const first = await graph.exportGradients();
    graph.importParams(new Map([["a.weight", params.get("a.weight")!.map((v) => v * 1.5)]]));
    graph.train(1);
    const other = await graph.exportGradients();
    assert.notDeepEqual(other.get("b.weight"), first.get("b.weight"));
    graph.importParams(params);
    graph.train(1);
    assert.deepEqual(await graph.exportGradients(), first);
    assert.deepEqual((await graph.exportParams()).get("a.weight"), params.get("a.weight"));
  } finally {
    graph.destroy();
  }
});

const cifar = sharedFile("cifar10_test_first256.bin");
Deno.test({
  name:
    `fisher and grasp of an NB-201 arch: finite, deterministic; layerOutputs keeps the network${cifar.note}`,
  ignore: !cifar.present,
  async fn() {
    const gpu = await acquireGpu();
    const space = getSpace("nb201");
    // Batch 4 and 4 channels as tests/zero_cost_test.ts, so the compiled shaders are shared.
    const settings = { ...DEFAULT_PROXY_SETTINGS, batch: 4, initChannels: 4 };
    const ctx = { gpu, space, settings, images: await loadImageSet(cifar.path) };
    const arch = space.parse(space.example);
    const names = ["fisher", "grasp"] as const;
    const first = await scoreZeroCost(ctx, arch, names);
    const again = await scoreZeroCost(ctx, arch, names);
    assert.deepEqual(again.values, first.values, "bit-identical on a rerun");
    assert(
      first.values.fisher! > 0 && Number.isFinite(first.values.fisher),
      String(first.values.fisher),
    );
    assert(Number.isFinite(first.values.grasp), String(first.values.grasp));
    assert(first.seconds.fisher! > 0 && first.seconds.grasp! > 0);
    // The residual conv of each reduction cell adds into a sum: layerOutputs gives it its own
    // output, the network (loss and every gradient) stays the same.
    const { x, labels } = labelledBatch(ctx.images, settings);
    const build = (layerOutputs: boolean) =>
      buildClassifier(space, arch, { ...settings, lastAct: true, layerOutputs });
    const plain = build(false);
    assert(plain.builder.ops.some((op) => op.accumulate && op.name.includes("residual.1")));
    const passes = [];
    for (const c of [plain, build(true)]) {
      passes.push(await crossEntropyPass(gpu, c, x, labels, { seed: 7, loss: true }));
    }
    assert.equal(passes[1].loss, passes[0].loss);
    assert.deepEqual(passes[1].grads, passes[0].grads);
  },
});

const nb = golden.nb201_fisher_grasp;

/** The golden script's NB-201 classifier: weights from the shared hash, its batch and labels. */
function nb201Golden(o: { layerOutputs?: boolean; frozenPatterns?: boolean } = {}) {
  const nb201 = getSpace("nb201");
  const space: typeof nb201 = {
    ...nb201,
    build: (g, x, arch, o) =>
      buildNb201Network(g, x, arch as Nb201Arch, { ...o, cellsPerStack: nb.cells_per_stack }),
  };
  const options = {
    initChannels: nb.init_channels,
    batch: nb.labels.length,
    lastAct: true,
    ...o,
  };
  const c = buildClassifier(space, space.parse(nb.arch), options);
  const params = new Map(
    c.builder.params.map((
      p,
    ) => [
      p.name,
      initialValue(nb.seed, { ...p, size: p.size, offset: 0, trained: true, decay: true }),
    ]),
  );
  const x = hashed("nb201-proxies/x", c.input.size, 4096);
  return { c, params, x, labels: Float32Array.from(nb.labels) };
}

Deno.test("fisher of an NB-201 classifier matches PyTorch (residual conv added into a sum, none and pool edges)", async () => {
  const gpu = await acquireGpu();
  const { c, params, x, labels } = nb201Golden({ layerOutputs: true });
  assert.equal(fisherLayers(c.builder).length, nb.layers);
  const out = await fisherScore(gpu, c, x, labels, { seed: 1, params });
  assertClose([out.value], [nb.fisher], { atol: 0, rtol: 1e-4 }, "fisher");
});

Deno.test("grasp of an NB-201 classifier matches PyTorch's double backward", async () => {
  const gpu = await acquireGpu();
  const { params, x, labels } = nb201Golden();
  const build = (o: { frozenPatterns: boolean }) => nb201Golden(o).c;
  const out = await graspScore(gpu, build, x, labels, { seed: 1, params });
  assert(Math.sign(out.value) === Math.sign(nb.grasp), `${out.value} vs ${nb.grasp}`);
  assertClose(
    [out.value],
    [nb.grasp],
    { atol: NB201_GRASP_TOL * Math.abs(nb.grasp), rtol: 0 },
    "grasp",
  );
});

const nb101 = golden.nb101_grasp;

Deno.test("grasp of an NB-101 classifier (ReLUs and max pools frozen) matches PyTorch's double backward", async () => {
  const gpu = await acquireGpu();
  const space = getSpace("nb101");
  const build = (o: { frozenPatterns: boolean }) =>
    buildClassifier(space, space.parse(nb101.arch), {
      initChannels: nb101.init_channels,
      batch: nb101.labels.length,
      lastAct: true,
      ...o,
    });
  const c = build({ frozenPatterns: true });
  const params = new Map(
    c.builder.params.map((p) => [
      p.name,
      initialValue(nb101.seed, { ...p, size: p.size, offset: 0, trained: true, decay: true }),
    ]),
  );
  const x = hashed("nb101-proxies/x", c.input.size, 4096);
  const out = await graspScore(gpu, build, x, Float32Array.from(nb101.labels), { seed: 1, params });
  assertClose(
    [out.value],
    [nb101.grasp],
    { atol: NB101_GRASP_TOL * Math.abs(nb101.grasp), rtol: 0 },
    "grasp",
  );
});

Deno.test("frozenPatterns build: step 0 captures the pattern (a plain pass); later steps keep it", async () => {
  const gpu = await acquireGpu();
  const optimizer = { kind: "sgd" as const, lr: 0, momentum: 0, weightDecay: 0 };
  const compile = async (frozenPatterns: boolean) => {
    const net = tinyNet(6, { frozenPatterns });
    const labels = net.builder.input("labels", [6]);
    net.builder.crossEntropyLoss(net.logits, labels);
    const bn = net.builder.tensors.find((t) => t.name === "bn")!;
    if (!frozenPatterns) net.builder.observe(bn);
    const graph = await compileGraph(gpu, net.builder, { optimizer, seed: 1, maxIterations: 3 });
    graph.importParams(goldenParams());
    graph.write(net.input, Float32Array.from(fg.x));
    graph.write(labels, Float32Array.from(fg.labels));
    return { net, graph, bn };
  };
  const plain = await compile(false);
  const masked = await compile(true);
  try {
    assert([...masked.net.builder.reluMasks.keys()].join() === "bn");
    const mask = masked.net.builder.reluMasks.get("bn")!;
    masked.graph.write(mask, new Float32Array(mask.size).fill(-1)); // overwritten at step 0
    plain.graph.train(1);
    masked.graph.train(1);
    const [gPlain, gMasked] = [
      await plain.graph.exportGradients(),
      await masked.graph.exportGradients(),
    ];
    for (const [name, g] of gPlain) {
      assertClose(gMasked.get(name)!, g, { atol: 0, rtol: 1e-6 }, name);
    }
    // The BN's fused-ReLU output is > 0 exactly where its input is.
    const captured = await masked.graph.exportValue(mask);
    const relu = await plain.graph.exportValue(plain.bn);
    assert(captured.every((v, i) => (v > 0) === (relu[i] > 0)), "captured pattern = plain ReLU's");
    // Step 1: flipping the first conv's weights flips the BN input's sign pattern, but the
    // captured mask stays; a host-written zero mask then blocks every gradient below it.
    const flipped = new Map(goldenParams());
    flipped.set("a.weight", flipped.get("a.weight")!.map((v) => -v));
    masked.graph.importParams(flipped);
    masked.graph.train(1);
    assert.deepEqual(await masked.graph.exportValue(mask), captured, "no capture after step 0");
    masked.graph.write(mask, new Float32Array(mask.size));
    masked.graph.train(1);
    const blocked = await masked.graph.exportGradients();
    assert(blocked.get("a.weight")!.every((v) => v === 0), "no gradient through a zero mask");
    assert(blocked.get("fc.bias")!.some((v) => v !== 0));
  } finally {
    plain.graph.destroy();
    masked.graph.destroy();
  }
});

Deno.test("an advancing forward is step 0: it captures the pattern, the next training step keeps it", async () => {
  const gpu = await acquireGpu();
  const optimizer = { kind: "sgd" as const, lr: 0, momentum: 0, weightDecay: 0 };
  const net = tinyNet(6, { frozenPatterns: true });
  const labels = net.builder.input("labels", [6]);
  net.builder.crossEntropyLoss(net.logits, labels);
  const graph = await compileGraph(gpu, net.builder, { optimizer, seed: 1, maxIterations: 2 });
  try {
    graph.importParams(goldenParams());
    graph.write(net.input, Float32Array.from(fg.x));
    graph.write(labels, Float32Array.from(fg.labels));
    const mask = net.builder.reluMasks.get("bn")!;
    graph.write(mask, new Float32Array(mask.size).fill(-1));
    graph.forward({ advance: true });
    const captured = await graph.exportValue(mask);
    assert(captured.some((v) => v > 0) && captured.some((v) => v <= 0), "captured at the forward");
    assert.equal(graph.iterations, 1);
    const flipped = new Map(goldenParams());
    flipped.set("a.weight", flipped.get("a.weight")!.map((v) => -v));
    graph.importParams(flipped);
    graph.train(1);
    assert.deepEqual(await graph.exportValue(mask), captured, "the training step did not capture");
    assert.throws(() => graph.forward({ advance: true }), RangeError);
    graph.forward(); // a plain forward does not count
  } finally {
    graph.destroy();
  }
});

Deno.test("frozenPatterns build: a max pool keeps its step-0 switches (y = x[argmax]) after it", async () => {
  const gpu = await acquireGpu();
  const optimizer = { kind: "sgd" as const, lr: 0, momentum: 0, weightDecay: 0 };
  const [n, c, h] = [2, 3, 6];
  for (const window of [{ kernel: 3, stride: 1, pad: 1 }, { kernel: 2, stride: 2, pad: 0 }]) {
    const g = new GraphBuilder({ frozenPatterns: true });
    const input = g.input("input", [n, c, h, h]);
    const pooled = g.maxPool("pool", input, window);
    const logits = g.linear("fc", g.globalAvgPool("gap", pooled), 4, { bias: true });
    const labels = g.input("labels", [n]);
    g.crossEntropyLoss(logits, labels);
    g.observe(pooled);
    const argmax = g.inputs.find((t) => t.name === "pool.argmax")!;
    const graph = await compileGraph(gpu, g, { optimizer, seed: 3, maxIterations: 2 });
    try {
      const x0 = randomArray(new Rng("frozen pool x0"), n * c * h * h, 1);
      const x1 = randomArray(new Rng("frozen pool x1"), n * c * h * h, 1);
      graph.write(input, x0);
      graph.write(labels, Float32Array.from([1, 3]));
      graph.train(1);
      const arg = new Uint32Array((await graph.exportValue(argmax)).buffer);
      const y0 = await graph.exportValue(pooled);
      const outH = pooled.shape[2];
      const plane = (i: number) => Math.floor(i / (outH * outH)) * h * h;
      // Step 0 is the plain max pool: each output the maximum of x0 at its argmax.
      y0.forEach((v, i) => assert.equal(v, x0[plane(i) + arg[i]], `step 0 output ${i}`));
      graph.write(input, x1);
      graph.train(1);
      const kept = new Uint32Array((await graph.exportValue(argmax)).buffer);
      assert.deepEqual(kept, arg, "switches kept after step 0");
      const y1 = await graph.exportValue(pooled);
      y1.forEach((v, i) => assert.equal(v, x1[plane(i) + arg[i]], `step 1 output ${i}`));
      // …and differs from the plain max pool of x1 somewhere (so freezing is observable).
      const { kernel, stride, pad } = window;
      const plainMax = (i: number) => {
        const [oy, ox] = [Math.floor(i / outH) % outH, i % outH];
        let best = -Infinity;
        for (let dy = 0; dy < kernel; dy++) {
          for (let dx = 0; dx < kernel; dx++) {
            const [iy, ix] = [oy * stride - pad + dy, ox * stride - pad + dx];
            if (iy >= 0 && iy < h && ix >= 0 && ix < h) {
              best = Math.max(best, x1[plane(i) + iy * h + ix]);
            }
          }
        }
        return best;
      };
      assert(y1.some((v, i) => v < plainMax(i)), "some switch would have moved");
    } finally {
      graph.destroy();
    }
  }
});
