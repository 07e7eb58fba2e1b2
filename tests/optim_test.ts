import {
  type AdamOptions,
  adamStep,
  type SgdOptions,
  sgdStep,
  stepIncrement,
} from "../src/kernels/optim.ts";
import type { BufferSlice } from "../src/gpu/kernel.ts";
import { Rng } from "../src/util/rng.ts";
import { assertClose, KernelBench, randomArray, type Tolerance, withBench } from "./support/gpu.ts";
import { adamRef, sgdRef } from "./ref/linear_loss_optim_ref.ts";
import golden from "../fixtures/golden/linear_loss_optim.json" with { type: "json" };

// Each step is a handful of f32 operations per parameter (|p| ≤ ~2); over 5 steps the f32
// results stay within a few ulps (~1e-7) of float64 and of torch. Optimizer state can be a
// near-cancellation of terms as large as the largest gradients (~1), hence an absolute floor of
// about one ulp of 1 on it.
const PARAM_TOL: Tolerance = { atol: 1e-6, rtol: 1e-6 };
const STATE_TOL: Tolerance = { atol: 1e-7, rtol: 1e-5 };

function counter(bench: KernelBench, value: number): BufferSlice {
  return bench.alloc.upload(Uint32Array.of(value), "counter");
}

async function readCounter(bench: KernelBench, slice: BufferSlice): Promise<number> {
  const raw = await bench.read(slice);
  return new Uint32Array(raw.buffer, raw.byteOffset, 1)[0];
}

/** Gradients spanning four decades, so eps, moments and decay all show. */
function randomGrads(rng: Rng, n: number): Float32Array {
  return Float32Array.from(randomArray(rng, n), (v) => v * 10 ** rng.range(-4, 0));
}

async function checkSgd(bench: KernelBench, rng: Rng, n: number, o: SgdOptions, label: string) {
  const start = randomArray(rng, n);
  const params = bench.input(start);
  const momentum = bench.output(n, 0);
  const ref = { params: Float64Array.from(start), buf: new Float64Array(n) };
  for (let step = 0; step < 5; step++) {
    const g = randomGrads(rng, n);
    await bench.run(sgdStep(bench.context, n, { params, grads: bench.input(g), momentum }, o));
    sgdRef(ref.params, g, ref.buf, o);
    assertClose(await bench.read(params), ref.params, PARAM_TOL, `${label} params step ${step}`);
    assertClose(await bench.read(momentum), ref.buf, STATE_TOL, `${label} buffer step ${step}`);
  }
}

Deno.test("sgd: 5 steps match float64 torch-semantics reference (decay on a prefix)", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("sgd");
    const paper = { lr: 0.1, momentum: 0.9, weightDecay: 4e-5, decayCount: 600 };
    await checkSgd(bench, rng, 1037, paper, "paper settings");
    // A large decay makes a wrong decayCount boundary visible far above rounding.
    await checkSgd(bench, rng, 1037, { ...paper, weightDecay: 0.2, decayCount: 517 }, "wd 0.2");
    await checkSgd(bench, rng, 300, { ...paper, weightDecay: 0.2, decayCount: 300 }, "all decay");
  });
});

Deno.test("sgd without momentum never reads the (stale) buffer", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("sgd no momentum");
    const n = 513;
    const p = randomArray(rng, n);
    const g = randomGrads(rng, n);
    const params = bench.input(p);
    const stale = bench.output(n); // NaN
    const o = { lr: 0.5, momentum: 0, weightDecay: 0.1, decayCount: 100 };
    await bench.run(
      sgdStep(bench.context, n, { params, grads: bench.input(g), momentum: stale }, o),
    );
    const ref = Float64Array.from(p);
    sgdRef(ref, g, new Float64Array(n), o);
    assertClose(await bench.read(params), ref, PARAM_TOL, "params");
  });
});

async function checkAdam(
  bench: KernelBench,
  rng: Rng,
  n: number,
  o: AdamOptions,
  completed: number,
  label: string,
) {
  const start = randomArray(rng, n);
  // A run resumed after `completed` steps has non-zero moments; a fresh one has zeros.
  const m0 = completed === 0 ? new Float32Array(n) : randomGrads(rng, n);
  const v0 = completed === 0
    ? new Float32Array(n)
    : Float32Array.from(randomGrads(rng, n), (x) => x * x);
  const io = { params: bench.input(start), m: bench.input(m0), v: bench.input(v0) };
  const step = counter(bench, completed);
  const ref = {
    params: Float64Array.from(start),
    m: Float64Array.from(m0),
    v: Float64Array.from(v0),
  };
  for (let k = 1; k <= 5; k++) {
    const g = randomGrads(rng, n);
    await bench.run([
      ...adamStep(bench.context, n, { ...io, grads: bench.input(g), step }, o),
      stepIncrement(step),
    ]);
    adamRef(ref.params, g, ref.m, ref.v, completed + k, o);
    const tol = { ...PARAM_TOL, atol: PARAM_TOL.atol * Math.max(1, o.lr / 1e-3) };
    assertClose(await bench.read(io.params), ref.params, tol, `${label} params step ${k}`);
    assertClose(await bench.read(io.m), ref.m, STATE_TOL, `${label} m step ${k}`);
    assertClose(await bench.read(io.v), ref.v, STATE_TOL, `${label} v step ${k}`);
  }
  const count = await readCounter(bench, step);
  if (count !== completed + 5) {
    throw new Error(`${label}: counter ${count}, expected ${completed + 5}`);
  }
}

Deno.test("adam: 5 steps with the step counter incremented between them match reference", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("adam");
    const nlp = {
      lr: 1e-3,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: 1.2e-6,
      decayCount: 1037,
    };
    await checkAdam(bench, rng, 1037, nlp, 0, "nlp settings");
    // Large lr, eps and decay on a prefix: each term of the update shows above rounding.
    const loud = {
      lr: 0.05,
      beta1: 0.8,
      beta2: 0.99,
      eps: 1e-3,
      weightDecay: 0.1,
      decayCount: 400,
    };
    await checkAdam(bench, rng, 1037, loud, 0, "loud settings");
    await checkAdam(bench, rng, 777, { ...nlp, decayCount: 700 }, 95, "resumed at step 95");
    await checkAdam(bench, rng, 100, { ...nlp, decayCount: 0 }, 100_000, "resumed at 100000");
  });
});

Deno.test("stepIncrement adds one per launch", async () => {
  await withBench(async (bench) => {
    const c = counter(bench, 41);
    await bench.run([stepIncrement(c), stepIncrement(c), stepIncrement(c)]);
    const value = await readCounter(bench, c);
    if (value !== 44) throw new Error(`counter ${value}, expected 44`);
  });
});

Deno.test("sgd and adam follow PyTorch for 5 steps (golden)", async () => {
  await withBench(async (bench) => {
    const { n, params0, grads, sgd, adam } = golden.optim;
    const sgdIo = { params: bench.input(params0), momentum: bench.output(n, 0) };
    const adamIo = {
      params: bench.input(params0),
      m: bench.output(n, 0),
      v: bench.output(n, 0),
      step: counter(bench, 0),
    };
    for (let k = 0; k < grads.length; k++) {
      const g = bench.input(grads[k]);
      await bench.run([
        ...sgdStep(bench.context, n, { ...sgdIo, grads: g }, sgd),
        ...adamStep(bench.context, n, { ...adamIo, grads: g }, adam),
        stepIncrement(adamIo.step),
      ]);
      assertClose(await bench.read(sgdIo.params), sgd.params[k], PARAM_TOL, `torch sgd step ${k}`);
      assertClose(
        await bench.read(adamIo.params),
        adam.params[k],
        PARAM_TOL,
        `torch adam step ${k}`,
      );
    }
    assertClose(await bench.read(sgdIo.momentum), sgd.momentumBuffer, STATE_TOL, "torch momentum");
    assertClose(await bench.read(adamIo.m), adam.m, STATE_TOL, "torch exp_avg");
    assertClose(await bench.read(adamIo.v), adam.v, STATE_TOL, "torch exp_avg_sq");
  });
});

Deno.test("optimizers reject bad sizes and hyper-parameters", () => {
  const b = {} as BufferSlice;
  const ctx = { scratch: () => b, deviceClass: "cpu" as const };
  const sgdIo = { params: b, grads: b, momentum: b };
  const adamIo = { params: b, grads: b, m: b, v: b, step: b };
  const sgd = { lr: 0.1, momentum: 0.9, weightDecay: 0, decayCount: 0 };
  const adam = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decayCount: 0 };
  const cases: [() => unknown, string][] = [
    [() => sgdStep(ctx, 0, sgdIo, sgd), "n must be"],
    [() => sgdStep(ctx, 10, sgdIo, { ...sgd, decayCount: 11 }), "decayCount"],
    [() => sgdStep(ctx, 10, sgdIo, { ...sgd, lr: Number.NaN }), "lr"],
    [() => adamStep(ctx, 10, adamIo, { ...adam, beta2: 1 }), "beta2"],
    [() => adamStep(ctx, 10, adamIo, { ...adam, decayCount: -1 }), "decayCount"],
  ];
  for (const [call, field] of cases) {
    let message = "";
    try {
      call();
    } catch (e) {
      message = (e as Error).message;
    }
    if (!message.includes(field)) {
      throw new Error(`expected an error naming ${field}, got "${message}"`);
    }
  }
});
