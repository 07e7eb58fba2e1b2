import {
  batchNormBackward,
  batchNormForward,
  type BatchNormShape,
} from "../src/kernels/batchnorm.ts";
import type { BufferSlice, LaunchContext } from "../src/gpu/kernel.ts";
import { Rng } from "../src/util/rng.ts";
import golden from "../fixtures/golden/norm_pool.json" with { type: "json" };
import { assertClose, KernelBench, randomArray, withBench } from "./support/gpu.ts";
import { batchNormBackwardRef, batchNormForwardRef } from "./ref/norm_pool_ref.ts";

// f32 statistics over up to 16 384 elements per channel (tree sums, two-pass variance): mean and
// invstd agree to ~1e-6 relative; outputs to a few 1e-6 of their O(1) scale.
const STATS_TOL = { atol: 1e-6, rtol: 2e-5 };
const Y_TOL = { atol: 2e-5, rtol: 1e-4 };
// dγ/dβ are sums over N·H·W terms of O(1): absolute error grows with √(N·H·W)·ulp.
const PARAM_GRAD_TOL = { atol: 2e-4, rtol: 1e-4 };
const DX_TOL = { atol: 2e-5, rtol: 1e-4 };

// H·W = 63 runs the scalar kernels, 28 the vec4 ones. Per channel they hold fewer elements (189,
// 21 vec4s) than a "gpu" workgroup has invocations; TINY ones fewer than a "cpu" group (5, 3).
const ODD: BatchNormShape = { batch: 3, channels: 5, spatial: 7 * 9 };
const VEC4: BatchNormShape = { batch: 3, channels: 5, spatial: 4 * 7 };
const SHAPES: [string, BatchNormShape][] = [["scalar", ODD], ["vec4", VEC4]];
const TINY: [string, BatchNormShape][] = [
  ["tiny scalar", { batch: 1, channels: 2, spatial: 5 }],
  ["tiny vec4", { batch: 3, channels: 2, spatial: 4 }],
];

function elements(s: BatchNormShape): number {
  return s.batch * s.channels * s.spatial;
}

/** Channel-dependent offsets and scales so the statistics are not trivially (0, 1). */
function activations(rng: Rng, s: BatchNormShape): Float32Array {
  const x = randomArray(rng, elements(s));
  for (let i = 0; i < x.length; i++) {
    const c = Math.floor(i / s.spatial) % s.channels;
    x[i] = x[i] * (0.5 + c * 0.4) + (c - 2) * 0.7;
  }
  return x;
}

/**
 * [affine, relu, accumulate]: all 8 combinations on the bench's own context; elsewhere (the other
 * class's geometry, a small storage-buffer limit: the same WGSL with another workgroup size or
 * launch split) 4 that hold every pair of values of every two flags.
 */
function flagCombinations(
  bench: KernelBench,
  ctx: LaunchContext<unknown>,
): [boolean, boolean, boolean][] {
  const own = ctx.deviceClass === bench.context.deviceClass && ctx.maxStorageBuffers === undefined;
  const codes = own ? [0, 1, 2, 3, 4, 5, 6, 7] : [0, 3, 5, 6];
  return codes.map((b) => [(b & 4) !== 0, (b & 2) !== 0, (b & 1) !== 0]);
}

/** SHAPES, and with the "cpu" geometry also TINY (a "gpu" group already idles lanes on SHAPES). */
function shapesFor(ctx: LaunchContext<unknown>): [string, BatchNormShape][] {
  return ctx.deviceClass === "cpu" && ctx.maxStorageBuffers === undefined
    ? [...SHAPES, ...TINY]
    : SHAPES;
}

/** The bench's own context, then the same with the other device class's geometry. */
function classContexts(bench: KernelBench): LaunchContext<BufferSlice>[] {
  const other = bench.context.deviceClass === "cpu" ? "gpu" : "cpu";
  return [bench.context, { ...bench.context, deviceClass: other }];
}

/** Contexts for backward: both classes, and a device too small for the 9-buffer affine kernel. */
function backwardContexts(bench: KernelBench): LaunchContext<BufferSlice>[] {
  return [...classContexts(bench), { ...bench.context, maxStorageBuffers: 8 }];
}

function describe(ctx: LaunchContext<unknown>): string {
  return `${ctx.deviceClass}${
    ctx.maxStorageBuffers ? ` maxStorageBuffers=${ctx.maxStorageBuffers}` : ""
  }`;
}

interface Params {
  gamma: Float32Array;
  beta: Float32Array;
  runningMean: Float32Array;
  runningVar: Float32Array;
}

function randomParams(rng: Rng, channels: number): Params {
  return {
    gamma: Float32Array.from(randomArray(rng, channels), (v) => 1 + 0.5 * v),
    beta: randomArray(rng, channels, 0.5),
    runningMean: randomArray(rng, channels, 0.3),
    runningVar: Float32Array.from(randomArray(rng, channels), (v) => 1 + 0.5 * v),
  };
}

Deno.test("batch norm train forward: affine/plain × relu × accumulate, running stats", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("bn-train-forward");
    for (const ctx of classContexts(bench)) {
      for (const [kind, s] of shapesFor(ctx)) {
        await checkTrainForward(bench, rng, ctx, kind, s);
      }
    }
  });
});

async function checkTrainForward(
  bench: KernelBench,
  rng: Rng,
  ctx: LaunchContext<BufferSlice>,
  kind: string,
  s: BatchNormShape,
): Promise<void> {
  const n = elements(s);
  const x = activations(rng, s);
  const p = randomParams(rng, s.channels);
  for (const [affine, relu, accumulate] of flagCombinations(bench, ctx)) {
    const what = `${describe(ctx)} ${kind} affine=${affine} relu=${relu} accumulate=${accumulate}`;
    const prior = randomArray(rng, n);
    const y = accumulate ? bench.input(prior) : bench.output(n);
    const mean = bench.output(s.channels);
    const invstd = bench.output(s.channels);
    const runningMean = bench.input(p.runningMean);
    const runningVar = bench.input(p.runningVar);
    const launches = batchNormForward(ctx, s, {
      x: bench.input(x),
      y,
      mean,
      invstd,
      runningMean,
      runningVar,
      ...(affine ? { gamma: bench.input(p.gamma), beta: bench.input(p.beta) } : {}),
    }, { mode: "train", affine, relu, accumulate });
    if (launches.length !== 1) throw new Error(`${what}: ${launches.length} launches`);
    await bench.run(launches);
    const ref = batchNormForwardRef(x, s, {
      mode: "train",
      relu,
      ...(affine ? { gamma: p.gamma, beta: p.beta } : {}),
      runningMean: p.runningMean,
      runningVar: p.runningVar,
    });
    const expected = accumulate ? ref.y.map((v, i) => v + prior[i]) : ref.y;
    const [yOut, meanOut, invstdOut, rmOut, rvOut] = await bench.recorder.readback([
      y,
      mean,
      invstd,
      runningMean,
      runningVar,
    ]);
    assertClose(yOut, expected, Y_TOL, `y ${what}`);
    assertClose(meanOut, ref.mean, STATS_TOL, `mean ${what}`);
    assertClose(invstdOut, ref.invstd, STATS_TOL, `invstd ${what}`);
    assertClose(rmOut, ref.runningMean!, STATS_TOL, `rm ${what}`);
    assertClose(rvOut, ref.runningVar!, STATS_TOL, `rv ${what}`);
  }
}

// One-pass statistics: shifting by a channel element keeps a mean 10⁴ spreads from zero as exact
// as the two-pass reference (a plain running Welford loses ~10⁻⁴ relative on invstd here).
Deno.test("batch norm train forward: mean far from zero relative to the spread", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("bn-offset");
    for (const ctx of classContexts(bench)) {
      for (
        const [kind, s] of [...SHAPES, ["GenNAS", {
          batch: 16,
          channels: 4,
          spatial: 32 * 32,
        }]] as const
      ) {
        const x = Float32Array.from(activations(rng, s), (v) => 1000 + 0.1 * v);
        const y = bench.output(elements(s));
        const mean = bench.output(s.channels);
        const invstd = bench.output(s.channels);
        await bench.run(batchNormForward(ctx, s, { x: bench.input(x), y, mean, invstd }, {
          mode: "train",
          affine: false,
          relu: false,
        }));
        const ref = batchNormForwardRef(x, s, { mode: "train", relu: false });
        const what = `${describe(ctx)} ${kind}`;
        const [yOut, meanOut, invstdOut] = await bench.recorder.readback([y, mean, invstd]);
        // y = (x − mean)·invstd: an ulp of the mean (6e-5) is 6e-4 of y's unit.
        assertClose(yOut, ref.y, { atol: 2e-3, rtol: 1e-4 }, `y ${what}`);
        assertClose(meanOut, ref.mean, STATS_TOL, `mean ${what}`);
        assertClose(invstdOut, ref.invstd, STATS_TOL, `invstd ${what}`);
      }
    }
  });
});

Deno.test("batch norm train forward: without running stats; custom eps and momentum", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("bn-options");
    const s: BatchNormShape = { batch: 2, channels: 3, spatial: 11 };
    const x = activations(rng, s);
    const p = randomParams(rng, s.channels);
    const xs = bench.input(x);
    const untracked = { y: bench.output(elements(s)), mean: bench.output(s.channels) };
    const untrackedInvstd = bench.output(s.channels);
    const custom = {
      y: bench.output(elements(s)),
      mean: bench.output(s.channels),
      invstd: bench.output(s.channels),
      runningMean: bench.input(p.runningMean),
      runningVar: bench.input(p.runningVar),
    };
    const plain = { affine: false, relu: false, mode: "train" } as const;
    await bench.run([
      ...batchNormForward(
        bench.context,
        s,
        { x: xs, ...untracked, invstd: untrackedInvstd },
        plain,
      ),
      ...batchNormForward(bench.context, s, { x: xs, ...custom }, {
        ...plain,
        eps: 1e-3,
        momentum: 0.3,
      }),
    ]);
    const ref = batchNormForwardRef(x, s, { mode: "train", relu: false });
    assertClose(await bench.read(untracked.y), ref.y, Y_TOL, "untracked y");
    assertClose(await bench.read(untrackedInvstd), ref.invstd, STATS_TOL, "untracked invstd");
    const refCustom = batchNormForwardRef(x, s, {
      mode: "train",
      relu: false,
      eps: 1e-3,
      momentum: 0.3,
      runningMean: p.runningMean,
      runningVar: p.runningVar,
    });
    assertClose(await bench.read(custom.y), refCustom.y, Y_TOL, "custom y");
    assertClose(await bench.read(custom.invstd), refCustom.invstd, STATS_TOL, "custom invstd");
    assertClose(await bench.read(custom.runningMean), refCustom.runningMean!, STATS_TOL, "rm");
    assertClose(await bench.read(custom.runningVar), refCustom.runningVar!, STATS_TOL, "rv");
  });
});

Deno.test("batch norm eval forward uses running statistics", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("bn-eval");
    for (const ctx of classContexts(bench)) {
      for (const [kind, s] of SHAPES) {
        await checkEvalForward(bench, rng, ctx, kind, s);
      }
    }
  });
});

async function checkEvalForward(
  bench: KernelBench,
  rng: Rng,
  ctx: LaunchContext<BufferSlice>,
  kind: string,
  s: BatchNormShape,
): Promise<void> {
  const n = elements(s);
  const x = activations(rng, s);
  const p = randomParams(rng, s.channels);
  for (const [affine, relu, accumulate] of flagCombinations(bench, ctx)) {
    const prior = randomArray(rng, n);
    const y = accumulate ? bench.input(prior) : bench.output(n);
    await bench.run(batchNormForward(ctx, s, {
      x: bench.input(x),
      y,
      runningMean: bench.input(p.runningMean),
      runningVar: bench.input(p.runningVar),
      ...(affine ? { gamma: bench.input(p.gamma), beta: bench.input(p.beta) } : {}),
    }, { mode: "eval", affine, relu, accumulate }));
    const ref = batchNormForwardRef(x, s, {
      mode: "eval",
      relu,
      ...(affine ? { gamma: p.gamma, beta: p.beta } : {}),
      runningMean: p.runningMean,
      runningVar: p.runningVar,
    });
    const expected = accumulate ? ref.y.map((v, i) => v + prior[i]) : ref.y;
    assertClose(
      await bench.read(y),
      expected,
      Y_TOL,
      `eval ${describe(ctx)} ${kind} affine=${affine} relu=${relu} accumulate=${accumulate}`,
    );
  }
}

async function checkBackward(
  bench: KernelBench,
  rng: Rng,
  s: BatchNormShape,
  o: { affine: boolean; relu: boolean; accumulate: boolean; accumulateParams: boolean },
  ctx: LaunchContext<BufferSlice> = bench.context,
): Promise<void> {
  const what = `${describe(ctx)} ${JSON.stringify({ ...s, ...o })}`;
  const n = elements(s);
  const x = activations(rng, s);
  const dy = randomArray(rng, n);
  const p = randomParams(rng, s.channels);
  const fwd = batchNormForwardRef(x, s, { mode: "train", relu: false });
  const saved = { mean: Float32Array.from(fwd.mean), invstd: Float32Array.from(fwd.invstd) };
  const priorDx = randomArray(rng, n);
  const priorDgamma = randomArray(rng, s.channels);
  const priorDbeta = randomArray(rng, s.channels);
  const dx = o.accumulate ? bench.input(priorDx) : bench.output(n);
  const paramGrad = (prior: Float32Array): BufferSlice =>
    o.accumulateParams ? bench.input(prior) : bench.output(s.channels);
  const dgamma = paramGrad(priorDgamma);
  const dbeta = paramGrad(priorDbeta);
  const affineIO = o.affine
    ? { gamma: bench.input(p.gamma), beta: bench.input(p.beta), dgamma, dbeta }
    : {};
  const launches = batchNormBackward(ctx, s, {
    x: bench.input(x),
    dy: bench.input(dy),
    dx,
    mean: bench.input(saved.mean),
    invstd: bench.input(saved.invstd),
    ...affineIO,
  }, o);
  const split = o.affine && (ctx.maxStorageBuffers ?? Infinity) < 9;
  if (launches.length !== (split ? 2 : 1)) {
    throw new Error(`${what}: ${launches.length} launches`);
  }
  await bench.run(launches);
  const ref = batchNormBackwardRef(x, dy, s, saved, {
    relu: o.relu,
    ...(o.affine ? { gamma: p.gamma, beta: p.beta } : {}),
  });
  const plus = (a: number[], b: Float32Array, add: boolean) => add ? a.map((v, i) => v + b[i]) : a;
  const [dxOut, dgammaOut, dbetaOut] = await bench.recorder.readback([dx, dgamma, dbeta]);
  assertClose(dxOut, plus(ref.dx, priorDx, o.accumulate), DX_TOL, `dx ${what}`);
  if (!o.affine) return;
  const add = o.accumulateParams;
  assertClose(dgammaOut, plus(ref.dgamma, priorDgamma, add), PARAM_GRAD_TOL, `dgamma ${what}`);
  assertClose(dbetaOut, plus(ref.dbeta, priorDbeta, add), PARAM_GRAD_TOL, `dbeta ${what}`);
}

Deno.test("batch norm backward: affine/plain × relu × accumulate × accumulateParams", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("bn-backward");
    for (const ctx of backwardContexts(bench)) {
      for (const [, s] of shapesFor(ctx)) {
        for (const [affine, relu, accumulate] of flagCombinations(bench, ctx)) {
          if (ctx.maxStorageBuffers !== undefined && !affine) continue; // no split for plain
          const accumulateParams = affine && !accumulate;
          const o = { affine, relu, accumulate, accumulateParams };
          await checkBackward(bench, rng, s, o, ctx);
        }
      }
    }
  });
});

Deno.test("batch norm at GenNAS shapes, with both device-class geometries", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("bn-gennas");
    const shapes: BatchNormShape[] = [
      { batch: 16, channels: 16, spatial: 32 * 32 },
      { batch: 16, channels: 32, spatial: 16 * 16 },
      { batch: 16, channels: 64, spatial: 8 * 8 },
    ];
    const cases = backwardContexts(bench).flatMap((ctx) => shapes.map((s) => [ctx, s] as const));
    for (const [ctx, s] of cases) {
      const x = activations(rng, s);
      const p = randomParams(rng, s.channels);
      const y = bench.output(elements(s));
      const mean = bench.output(s.channels);
      const invstd = bench.output(s.channels);
      await bench.run(batchNormForward(ctx, s, {
        x: bench.input(x),
        y,
        mean,
        invstd,
        gamma: bench.input(p.gamma),
        beta: bench.input(p.beta),
      }, { mode: "train", affine: true, relu: true }));
      const ref = batchNormForwardRef(x, s, { mode: "train", relu: true, ...p });
      const what = `${describe(ctx)} ${JSON.stringify(s)}`;
      const [yOut, meanOut, invstdOut] = await bench.recorder.readback([y, mean, invstd]);
      assertClose(yOut, ref.y, Y_TOL, `y ${what}`);
      assertClose(meanOut, ref.mean, STATS_TOL, `mean ${what}`);
      assertClose(invstdOut, ref.invstd, STATS_TOL, `invstd ${what}`);
      const o = { affine: true, relu: true, accumulate: false, accumulateParams: false };
      await checkBackward(bench, rng, s, o, ctx);
    }
  });
});

Deno.test("batch norm factories reject missing buffers", () => {
  const ctx = {
    scratch: () => "scratch",
    deviceClass: "cpu" as const,
  };
  const s = ODD;
  const o = { affine: false, relu: false };
  const throwsTypeError = (f: () => unknown, what: string) => {
    try {
      f();
    } catch (e) {
      if (e instanceof TypeError && e.message.includes(what)) return;
      throw e;
    }
    throw new Error(`expected a TypeError naming ${what}`);
  };
  throwsTypeError(
    () => batchNormForward(ctx, s, { x: "x", y: "y" }, { ...o, mode: "train" }),
    "mean",
  );
  throwsTypeError(
    () => batchNormForward(ctx, s, { x: "x", y: "y" }, { ...o, mode: "eval" }),
    "runningMean",
  );
  throwsTypeError(
    () =>
      batchNormForward(ctx, s, { x: "x", y: "y", runningMean: "m", runningVar: "v" }, {
        mode: "eval",
        affine: true,
        relu: false,
      }),
    "gamma",
  );
  throwsTypeError(
    () =>
      batchNormBackward(ctx, s, { x: "x", dy: "dy", dx: "dx", mean: "m", invstd: "i" }, {
        affine: true,
        relu: false,
      }),
    "gamma",
  );
});

Deno.test("batch norm affine backward without dx: the same dγ, dβ (fused and split)", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("bn-no-dx");
    const s = { batch: 2, channels: 3, spatial: 16 };
    const n = elements(s);
    const inputs = {
      ...{ x: bench.input(activations(rng, s)), dy: bench.input(randomArray(rng, n)) },
      ...{ mean: bench.input(randomArray(rng, 3)), invstd: bench.input([1, 2, 3]) },
      ...{ gamma: bench.input(randomArray(rng, 3)), beta: bench.input(randomArray(rng, 3)) },
    };
    const o = { affine: true, relu: true };
    for (const maxStorageBuffers of [8, 9]) {
      const ctx = { ...bench.context, maxStorageBuffers };
      const grads = () => ({ dgamma: bench.output(3), dbeta: bench.output(3) });
      const [a, b] = [grads(), grads()];
      await bench.run([
        ...batchNormBackward(ctx, s, { ...inputs, ...a, dx: bench.output(n) }, o),
        ...batchNormBackward(ctx, s, { ...inputs, ...b }, o),
      ]);
      const out = await bench.recorder.readback([a.dgamma, a.dbeta, b.dgamma, b.dbeta]);
      const exact = { atol: 0, rtol: 0 };
      assertClose(out[2], Array.from(out[0]), exact, `dgamma, ${maxStorageBuffers} buffers`);
      assertClose(out[3], Array.from(out[1]), exact, `dbeta, ${maxStorageBuffers} buffers`);
    }
  });
});

Deno.test("batch norm launches: one per pass; two for affine backward on 8-buffer devices", () => {
  const count = (what: string, launches: unknown[], expected: number) => {
    if (launches.length !== expected) {
      throw new Error(`${what}: ${launches.length} launches, not ${expected}`);
    }
  };
  for (const deviceClass of ["cpu", "gpu"] as const) {
    for (const maxStorageBuffers of [undefined, 8, 9]) {
      const ctx = { scratch: () => "scratch", deviceClass, maxStorageBuffers };
      const what = describe(ctx);
      for (const [, s] of SHAPES) {
        for (const affine of [false, true]) {
          const params = affine ? { gamma: "g", beta: "b" } : {};
          const o = { affine, relu: true };
          const running = { runningMean: "rm", runningVar: "rv" };
          const io = { x: "x", y: "y", mean: "m", invstd: "i", ...params };
          count(`${what} train`, batchNormForward(ctx, s, io, { ...o, mode: "train" }), 1);
          count(
            `${what} train tracked`,
            batchNormForward(ctx, s, { ...io, ...running }, { ...o, mode: "train" }),
            1,
          );
          count(
            `${what} eval`,
            batchNormForward(ctx, s, { ...io, ...running }, { ...o, mode: "eval" }),
            1,
          );
          const grads = affine ? { dgamma: "dg", dbeta: "db" } : {};
          const backward = batchNormBackward(ctx, s, {
            x: "x",
            dy: "dy",
            dx: "dx",
            mean: "m",
            invstd: "i",
            ...params,
            ...grads,
          }, o);
          count(
            `${what} backward affine=${affine}`,
            backward,
            affine && maxStorageBuffers === 8 ? 2 : 1,
          );
          const buffers = Math.max(...backward.map((l) => l.bindings.length));
          if (buffers > (maxStorageBuffers ?? Infinity)) {
            throw new Error(`${what} backward affine=${affine}: binds ${buffers} buffers`);
          }
        }
      }
    }
  }
});

// ---- PyTorch golden --------------------------------------------------------------------------

type GoldenBatchNorm = (typeof golden.batchnorm)[number] & {
  gamma?: number[];
  beta?: number[];
  dgamma?: number[];
  dbeta?: number[];
};

// PyTorch computes in f32 too (different summation order): same tolerances as above.
Deno.test("batch norm matches PyTorch golden (train, running stats, eval, backward)", async () => {
  await withBench(async (bench) => {
    // The reference tests cover the other class's geometry; here the split affine backward.
    for (const ctx of [bench.context, { ...bench.context, maxStorageBuffers: 8 }]) {
      for (const g of golden.batchnorm as GoldenBatchNorm[]) {
        if (ctx.maxStorageBuffers === undefined || g.affine) await checkGolden(bench, ctx, g);
      }
    }
  });
});

async function checkGolden(
  bench: KernelBench,
  ctx: LaunchContext<BufferSlice>,
  g: GoldenBatchNorm,
): Promise<void> {
  const [batch, channels, h, w] = g.shape;
  const s: BatchNormShape = { batch, channels, spatial: h * w };
  const n = elements(s);
  const x = bench.input(g.x);
  const params = g.affine ? { gamma: bench.input(g.gamma!), beta: bench.input(g.beta!) } : {};
  const yTrain = bench.output(n);
  const yEval = bench.output(n);
  const mean = bench.output(channels);
  const invstd = bench.output(channels);
  const runningMean = bench.input(g.running_mean_before);
  const runningVar = bench.input(g.running_var_before);
  const dx = bench.output(n);
  const dgamma = bench.output(channels);
  const dbeta = bench.output(channels);
  const common = { affine: g.affine, relu: g.relu, eps: g.eps, momentum: g.momentum };
  await bench.run([
    ...batchNormForward(ctx, s, {
      x,
      y: yTrain,
      mean,
      invstd,
      runningMean,
      runningVar,
      ...params,
    }, { ...common, mode: "train" }),
    ...batchNormForward(ctx, s, { x, y: yEval, runningMean, runningVar, ...params }, {
      ...common,
      mode: "eval",
    }),
    ...batchNormBackward(ctx, s, {
      x,
      dy: bench.input(g.dy),
      dx,
      mean,
      invstd,
      ...params,
      ...(g.affine ? { dgamma, dbeta } : {}),
    }, { affine: g.affine, relu: g.relu }),
  ]);
  const what = `golden ${g.name} ${describe(ctx)}`;
  const out = await bench.recorder.readback([
    yTrain,
    mean,
    invstd,
    runningMean,
    runningVar,
    yEval,
    dx,
    dgamma,
    dbeta,
  ]);
  assertClose(out[0], g.y_train, Y_TOL, `${what} y_train`);
  assertClose(out[1], g.mean, STATS_TOL, `${what} mean`);
  assertClose(out[2], g.invstd, STATS_TOL, `${what} invstd`);
  assertClose(out[3], g.running_mean_after, STATS_TOL, `${what} rm`);
  assertClose(out[4], g.running_var_after, STATS_TOL, `${what} rv`);
  assertClose(out[5], g.y_eval, Y_TOL, `${what} y_eval`);
  assertClose(out[6], g.dx, DX_TOL, `${what} dx`);
  if (g.affine) {
    assertClose(out[7], g.dgamma!, PARAM_GRAD_TOL, `${what} dgamma`);
    assertClose(out[8], g.dbeta!, PARAM_GRAD_TOL, `${what} dbeta`);
  }
}
