import assert from "node:assert/strict";
import { GraphBuilder } from "../src/graph/builder.ts";
import { softmaxCrossEntropy } from "../src/kernels/cross_entropy.ts";
import { loadImageSet } from "../src/data/images.ts";
import { DEFAULT_PROXY_SETTINGS } from "../src/proxy/settings.ts";
import { scoreZeroCost } from "../src/proxy/zero_cost.ts";
import {
  compileOnePass,
  crossEntropyPass,
  gradientMeasures,
  layerWeights,
} from "../src/proxy/zc_gradients.ts";
import { logSynflow } from "../src/proxy/zc_synflow.ts";
import { logAbsDet, naswotScore, reluInputs } from "../src/proxy/zc_naswot.ts";
import {
  correlationMatrix,
  inputJacobian,
  jacobCovScore,
  symmetricEigenvalues,
} from "../src/proxy/zc_jacob.ts";
import { getSpace } from "../src/spaces/index.ts";
import { buildClassifier } from "../src/proxy/cost.ts";
import { InputError } from "../src/util/errors.ts";
import { Rng } from "../src/util/rng.ts";
import { acquireGpu, assertClose, randomArray, withBench } from "./support/gpu.ts";
import { sharedFile } from "./support/data.ts";
import golden from "../fixtures/golden/proxies.json" with { type: "json" };

/** Float64 softmax cross-entropy (mean over rows) and its gradient. */
function crossEntropyRef(logits: ArrayLike<number>, labels: number[], k: number, weight = 1) {
  const n = labels.length;
  let loss = 0;
  const grad = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    let top = -Infinity;
    for (let j = 0; j < k; j++) top = Math.max(top, logits[i * k + j]);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += Math.exp(logits[i * k + j] - top);
    loss += top + Math.log(sum) - logits[i * k + labels[i]];
    for (let j = 0; j < k; j++) {
      const p = Math.exp(logits[i * k + j] - top) / sum;
      grad[i * k + j] = (weight / n) * (p - (j === labels[i] ? 1 : 0));
    }
  }
  return { loss: (weight * loss) / n, grad };
}

// f32 exp/log of max-shifted logits: ~1e-6 relative per term; sums of ≤ 128 terms.
const CE_LOSS_TOL = { atol: 1e-6, rtol: 1e-5 };
const CE_GRAD_TOL = { atol: 1e-7, rtol: 1e-4 };

Deno.test("cross-entropy kernel: loss and gradient vs float64 (poisoned outputs, big logits)", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("ce");
    const cases: [number, number, number, number][] = [
      [1, 10, 1, 1],
      [16, 10, 5, 1],
      [128, 10, 50, 0.5], // logits to ±50: exp would overflow without the max shift
      [70, 100, 200, 2],
    ];
    for (const [n, k, scale, weight] of cases) {
      const logits = randomArray(rng, n * k, scale);
      const labels = Array.from({ length: n }, () => rng.int(k));
      const grad = bench.output(n * k);
      const loss = bench.output(1);
      const history = bench.output(4);
      const index = bench.alloc.upload(Uint32Array.of(2), "counter");
      const io = { logits: bench.input(logits), labels: bench.input(labels) };
      await bench.run([
        ...softmaxCrossEntropy(bench.context, { batch: n, classes: k, weight }, {
          ...io,
          grad,
          loss,
        }),
        ...softmaxCrossEntropy(bench.context, { batch: n, classes: k, weight }, {
          ...io,
          loss: history,
          index,
        }),
      ]);
      const ref = crossEntropyRef(logits, labels, k, weight);
      const label = `${n}×${k} scale ${scale}`;
      assertClose(await bench.read(loss), [ref.loss], CE_LOSS_TOL, `${label} loss`);
      assertClose(await bench.read(grad), ref.grad, CE_GRAD_TOL, `${label} grad`);
      const h = await bench.read(history);
      assertClose([h[2]], [ref.loss], CE_LOSS_TOL, `${label} indexed`);
      assert(Number.isNaN(h[0]) && Number.isNaN(h[3]), "other history slots untouched");
    }
  });
});

Deno.test("cross-entropy kernel matches PyTorch F.cross_entropy and its autograd gradient", async () => {
  await withBench(async (bench) => {
    for (const c of golden.cross_entropy) {
      const grad = bench.output(c.batch * c.classes);
      const loss = bench.output(1);
      await bench.run(
        softmaxCrossEntropy(bench.context, { batch: c.batch, classes: c.classes, weight: 1 }, {
          logits: bench.input(c.logits),
          labels: bench.input(c.labels),
          grad,
          loss,
        }),
      );
      assertClose(await bench.read(loss), [c.loss], CE_LOSS_TOL, `${c.batch}×${c.classes} loss`);
      assertClose(await bench.read(grad), c.grad, CE_GRAD_TOL, `${c.batch}×${c.classes} grad`);
    }
  });
});

/** scripts/golden_proxies.py's Tiny network, built with the same parameter names. */
function tinyNet(batch: number) {
  const g = new GraphBuilder();
  const input = g.input("input", [batch, 3, 8, 8]);
  const a = g.conv2d("a", input, { outChannels: 4, kernel: 3, pad: 1, bias: true });
  const h = g.batchNorm("bn", a, { affine: true, track: true, relu: true });
  const b = g.conv2d("b", h, { outChannels: 6, kernel: 3, stride: 2, pad: 1, bias: false });
  const pooled = g.globalAvgPool("pool", b);
  const logits = g.linear("fc", pooled, 10, { bias: true });
  return { builder: g, input, logits };
}

Deno.test("grad_norm and snip of a tiny network match PyTorch (same weights, batch, labels)", async () => {
  const gpu = await acquireGpu();
  const net = golden.net;
  const params = new Map(Object.entries(net.params).map(([k, v]) => [k, Float32Array.from(v)]));
  const c = tinyNet(5);
  const pass = await crossEntropyPass(
    gpu,
    c,
    Float32Array.from(net.x),
    Float32Array.from(net.labels),
    { seed: 1, params, loss: true },
  );
  assertClose([pass.loss], [net.loss], { atol: 1e-6, rtol: 1e-5 }, "loss");
  for (const [name, want] of Object.entries(net.grads)) {
    assertClose(pass.grads.get(name)!, want, { atol: 1e-6, rtol: 1e-4 }, `grad ${name}`);
  }
  assertClose(
    pass.params.get("a.weight")!,
    Float32Array.from(net.params["a.weight"]),
    { atol: 0, rtol: 0 },
    "lr 0 leaves the weights",
  );
  assert.deepEqual(layerWeights(c.builder), ["a.weight", "b.weight", "fc.weight"]);
  const m = gradientMeasures(pass, layerWeights(c.builder));
  assertClose([m.grad_norm, m.snip], [net.grad_norm, net.snip], { atol: 0, rtol: 1e-5 }, "proxies");
});

const cifar = sharedFile("cifar10_test_first256.bin");
Deno.test({
  name: `zero-cost proxies of an NB-201 arch: finite, deterministic, labels required${cifar.note}`,
  ignore: !cifar.present,
  async fn() {
    const gpu = await acquireGpu();
    const space = getSpace("nb201");
    // The zero-cost passes take ZERO_COST_BATCH images whatever settings.batch says.
    const settings = { ...DEFAULT_PROXY_SETTINGS, batch: 4, initChannels: 4 };
    const ctx = { gpu, space, settings, images: await loadImageSet(cifar.path) };
    const arch = space.parse(space.example);
    // naswot (batch 128) is checked below at this batch through naswotScore; synflow (batch 1:
    // shaders of its own, slow to compile on lavapipe) by the golden test and bench/zc_naslib.ts.
    const names = ["grad_norm", "snip", "jacob_cov"] as const;
    const first = await scoreZeroCost(ctx, arch, names);
    const again = await scoreZeroCost(ctx, arch, names);
    assert.deepEqual(again.values, first.values, "bit-identical on a rerun");
    assert(first.values.grad_norm! > 0 && first.values.snip! > 0, JSON.stringify(first.values));
    for (const name of names) assert(Number.isFinite(first.values[name]), name);
    assert(first.seconds.snip! > 0 && first.seconds.snip === first.seconds.grad_norm);
    await assert.rejects(
      async () => scoreZeroCost({ ...ctx, images: await loadImageSet(undefined) }, arch, ["snip"]),
      (e: Error) => e instanceof InputError && /labelled images/.test(e.message),
    );
  },
});

/** scripts/golden_proxies.py's SynNet, BN disabled as synflow scores it. */
function synNet() {
  const g = new GraphBuilder({ batchNorm: false });
  const input = g.input("input", [1, 3, 32, 32]);
  const a = g.conv2d("a", input, { outChannels: 8, kernel: 3, pad: 1, bias: true });
  const h = g.batchNorm("bn", a, { affine: true, track: true, relu: true });
  const b = g.conv2d("b", h, { outChannels: 8, kernel: 3, pad: 1, bias: false });
  g.addInto("skip", h, b);
  const c = g.conv2d("c", b, { outChannels: 16, kernel: 3, stride: 2, pad: 1, bias: false });
  const logits = g.linear("fc", g.globalAvgPool("pool", c), 10, { bias: true });
  return { builder: g, input, logits };
}

Deno.test("log synflow matches float64 PyTorch, also where float32 would overflow (R ≈ 7e40)", async () => {
  const gpu = await acquireGpu();
  for (const c of golden.synflow) {
    const net = synNet();
    const names = new Set(net.builder.params.map((p) => p.name));
    assert(!names.has("bn.weight"), "BN disabled: no BN parameters");
    const params = new Map(
      Object.entries(c.params).filter(([k]) => names.has(k)).map((
        [k, v],
      ) => [k, Float32Array.from(v)]),
    );
    const { value } = await logSynflow(gpu, net, { seed: 3, params });
    assertClose([value], [c.log_synflow], { atol: 1e-4, rtol: 0 }, `gain ${c.gain}`);
  }
  assert(golden.synflow[1].R > 3.4e38, "the second case overflows float32 unscaled");
});

Deno.test("symmetric eigenvalues and corrcoef against closed forms", () => {
  const eig = symmetricEigenvalues(Float64Array.of(2, 1, 0, 1, 2, 0, 0, 0, 5), 3).sort();
  assertClose(eig, [1, 3, 5], { atol: 1e-12, rtol: 0 }, "eigenvalues");
  const corr = correlationMatrix(Float32Array.of(1, 2, 3, 2, 4, 6, 3, 2, 1), 3);
  assertClose(corr, [1, 1, -1, 1, 1, -1, -1, -1, 1], { atol: 1e-12, rtol: 0 }, "corrcoef");
});

Deno.test("jacob_cov of a tiny network matches PyTorch (input Jacobian and score)", async () => {
  const gpu = await acquireGpu();
  const net = golden.net;
  const params = new Map(Object.entries(net.params).map(([k, v]) => [k, Float32Array.from(v)]));
  const { jacobian } = await inputJacobian(gpu, tinyNet(5), Float32Array.from(net.x), {
    seed: 1,
    params,
  });
  assertClose(jacobian, net.jacobian, { atol: 1e-6, rtol: 1e-4 }, "∂Σy/∂x");
  assertClose([jacobCovScore(jacobian, 5)], [net.jacob_cov], { atol: 1e-3, rtol: 0 }, "score");
});

Deno.test("naswot of a tiny network matches the NASWOT hook code (kernel exactly, log-det)", async () => {
  const gpu = await acquireGpu();
  const case_ = golden.naswot;
  const g = new GraphBuilder();
  const input = g.input("input", [6, 3, 8, 8]);
  const a = g.conv2d("a", input, { outChannels: 4, kernel: 3, pad: 1, bias: true });
  const h = g.batchNorm("bn", a, { affine: true, track: true, relu: true });
  const b = g.conv2d("b", h, { outChannels: 6, kernel: 3, stride: 2, pad: 1, bias: false });
  const r = g.unary("relu2", "relu", b);
  const logits = g.linear("fc", g.globalAvgPool("pool", r), 10, { bias: true });
  assert.deepEqual(reluInputs(g).map((t) => t.name), ["bn", "b"]);
  const params = new Map(Object.entries(case_.params).map(([k, v]) => [k, Float32Array.from(v)]));
  const out = await naswotScore(gpu, { builder: g, input, logits }, Float32Array.from(case_.x), {
    seed: 1,
    params,
  });
  assert.deepEqual(Array.from(out.kernel), case_.kernel, "hamming kernel");
  assertClose([out.value], [case_.naswot], { atol: 1e-9, rtol: 0 }, "log|det K|");
  assertClose(
    [logAbsDet(Float64Array.of(2, 1, 1, 3), 2)],
    [Math.log(5)],
    { atol: 1e-12, rtol: 0 },
    "logdet",
  );
});

Deno.test("naswot through an NB-201 classifier, including a ReLU'd all-zero node", async () => {
  const gpu = await acquireGpu();
  const space = getSpace("nb201");
  // Node 1 is fed only by "none": its ReLU'd conv reads the always-zero tensor.
  const arch = space.parse(
    "|none~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_3x3~2|",
  );
  // Batch 4 and 4 channels as the test above, so the compiled shaders are shared.
  const c = buildClassifier(space, arch, { initChannels: 4, batch: 4, lastAct: true });
  const kinds = new Set(reluInputs(c.builder).map((t) => t.kind));
  assert(kinds.has("zeros") && kinds.has("activation"), [...kinds].join());
  const x = randomArray(new Rng("naswot nb201"), 4 * 3 * 32 * 32, 2);
  const out = await naswotScore(gpu, c, x, { seed: 5 });
  const features = reluInputs(c.builder).reduce((sum, t) => sum + t.size / 4, 0);
  for (let i = 0; i < 4; i++) assert.equal(out.kernel[i * 4 + i], features, "K_ii = all features");
  assert(Number.isFinite(out.value) && out.value > 0, String(out.value));
});

Deno.test("frozen-parameter passes: a conv of an all-zero node summed with a skip (jacob_cov)", async () => {
  const gpu = await acquireGpu();
  const space = getSpace("nb201");
  // Node 3 = skip(0) + conv1x1(node 1, all zeros) + skip(2): with frozen weights the conv's
  // output needs no gradient while the skip connections summed into its batch norm do.
  const arch = space.parse(
    "|none~0|+|avg_pool_3x3~0|none~1|+|skip_connect~0|nor_conv_1x1~1|skip_connect~2|",
  );
  const build = () => buildClassifier(space, arch, { initChannels: 4, batch: 4, lastAct: true });
  const x = randomArray(new Rng("frozen residual"), 4 * 3 * 32 * 32, 2);
  const { jacobian } = await inputJacobian(gpu, build(), x, { seed: 3 });
  // The same input gradient with trainable weights (every gradient formed).
  const c = build();
  c.builder.requireGrad(c.input);
  const seedTensor = c.builder.input("seed", c.logits.shape);
  c.builder.seedLoss(c.logits, seedTensor);
  const graph = await compileOnePass(gpu, c.builder, 3);
  try {
    graph.write(c.input, x);
    graph.write(seedTensor, new Float32Array(seedTensor.size).fill(1));
    graph.train(1);
    const want = await graph.exportInputGradient(c.input);
    assert(want.some((v) => v !== 0), "the skip path reaches the input");
    assertClose(jacobian, want, { atol: 1e-7, rtol: 1e-5 }, "frozen vs trainable input gradient");
  } finally {
    graph.destroy();
  }
});
