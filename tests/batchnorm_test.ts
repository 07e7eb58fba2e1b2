import {
  batchNormBackward,
  batchNormForward,
  type BatchNormShape,
} from "../src/kernels/batchnorm.ts";
import type { BufferSlice, DeviceClass, LaunchContext } from "../src/gpu/kernel.ts";
import { Rng } from "../src/util/rng.ts";
import golden from "../fixtures/golden/norm_pool.json" with { type: "json" };
import { assertClose, KernelBench, randomArray } from "./support/gpu.ts";
import { batchNormBackwardRef, batchNormForwardRef } from "./ref/norm_pool_ref.ts";

// f32 statistics over up to 16 384 elements per channel (tree sums, two-pass variance): mean and
// invstd agree to ~1e-6 relative; outputs to a few 1e-6 of their O(1) scale.
const STATS_TOL = { atol: 1e-6, rtol: 2e-5 };
const Y_TOL = { atol: 2e-5, rtol: 1e-4 };
// dγ/dβ are sums over N·H·W terms of O(1): absolute error grows with √(N·H·W)·ulp.
const PARAM_GRAD_TOL = { atol: 2e-4, rtol: 1e-4 };
const DX_TOL = { atol: 2e-5, rtol: 1e-4 };

// H·W = 63 runs the scalar kernels, 28 the vec4 ones.
const ODD: BatchNormShape = { batch: 3, channels: 5, spatial: 7 * 9 };
const VEC4: BatchNormShape = { batch: 3, channels: 5, spatial: 4 * 7 };
const SHAPES: [string, BatchNormShape][] = [["scalar", ODD], ["vec4", VEC4]];

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

/** [affine, relu, accumulate] in all 8 combinations. */
function flagCombinations(): [boolean, boolean, boolean][] {
  return [0, 1, 2, 3, 4, 5, 6, 7].map((b) => [(b & 4) !== 0, (b & 2) !== 0, (b & 1) !== 0]);
}

function otherClass(c: DeviceClass): DeviceClass {
  return c === "cpu" ? "gpu" : "cpu";
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
  const bench = await KernelBench.create();
  try {
    const rng = new Rng("bn-train-forward");
    for (const [kind, s] of SHAPES) {
      const n = elements(s);
      const x = activations(rng, s);
      const p = randomParams(rng, s.channels);
      for (const [affine, relu, accumulate] of flagCombinations()) {
        const what = `${kind} affine=${affine} relu=${relu} accumulate=${accumulate}`;
        const prior = randomArray(rng, n);
        const y = accumulate ? bench.input(prior) : bench.output(n);
        const mean = bench.output(s.channels);
        const invstd = bench.output(s.channels);
        const runningMean = bench.input(p.runningMean);
        const runningVar = bench.input(p.runningVar);
        await bench.run(batchNormForward(bench.context, s, {
          x: bench.input(x),
          y,
          mean,
          invstd,
          runningMean,
          runningVar,
          ...(affine ? { gamma: bench.input(p.gamma), beta: bench.input(p.beta) } : {}),
        }, { mode: "train", affine, relu, accumulate }));
        const ref = batchNormForwardRef(x, s, {
          mode: "train",
          relu,
          ...(affine ? { gamma: p.gamma, beta: p.beta } : {}),
          runningMean: p.runningMean,
          runningVar: p.runningVar,
        });
        const expected = accumulate ? ref.y.map((v, i) => v + prior[i]) : ref.y;
        assertClose(await bench.read(y), expected, Y_TOL, `y ${what}`);
        assertClose(await bench.read(mean), ref.mean, STATS_TOL, `mean ${what}`);
        assertClose(await bench.read(invstd), ref.invstd, STATS_TOL, `invstd ${what}`);
        assertClose(await bench.read(runningMean), ref.runningMean!, STATS_TOL, `rm ${what}`);
        assertClose(await bench.read(runningVar), ref.runningVar!, STATS_TOL, `rv ${what}`);
      }
    }
  } finally {
    bench.dispose();
  }
});

Deno.test("batch norm train forward: without running stats; custom eps and momentum", async () => {
  const bench = await KernelBench.create();
  try {
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
  } finally {
    bench.dispose();
  }
});

Deno.test("batch norm eval forward uses running statistics", async () => {
  const bench = await KernelBench.create();
  try {
    const rng = new Rng("bn-eval");
    for (const [kind, s] of SHAPES) {
      const n = elements(s);
      const x = activations(rng, s);
      const p = randomParams(rng, s.channels);
      for (const [affine, relu, accumulate] of flagCombinations()) {
        const prior = randomArray(rng, n);
        const y = accumulate ? bench.input(prior) : bench.output(n);
        await bench.run(batchNormForward(bench.context, s, {
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
          `eval ${kind} affine=${affine} relu=${relu} accumulate=${accumulate}`,
        );
      }
    }
  } finally {
    bench.dispose();
  }
});

async function checkBackward(
  bench: KernelBench,
  rng: Rng,
  s: BatchNormShape,
  o: { affine: boolean; relu: boolean; accumulate: boolean; accumulateParams: boolean },
  ctx: LaunchContext<BufferSlice> = bench.context,
): Promise<void> {
  const what = JSON.stringify({ ...s, ...o, deviceClass: ctx.deviceClass });
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
  await bench.run(batchNormBackward(ctx, s, {
    x: bench.input(x),
    dy: bench.input(dy),
    dx,
    mean: bench.input(saved.mean),
    invstd: bench.input(saved.invstd),
    ...affineIO,
  }, o));
  const ref = batchNormBackwardRef(x, dy, s, saved, {
    relu: o.relu,
    ...(o.affine ? { gamma: p.gamma, beta: p.beta } : {}),
  });
  const plus = (a: number[], b: Float32Array, add: boolean) => add ? a.map((v, i) => v + b[i]) : a;
  assertClose(await bench.read(dx), plus(ref.dx, priorDx, o.accumulate), DX_TOL, `dx ${what}`);
  if (!o.affine) return;
  const add = o.accumulateParams;
  assertClose(
    await bench.read(dgamma),
    plus(ref.dgamma, priorDgamma, add),
    PARAM_GRAD_TOL,
    `dgamma ${what}`,
  );
  assertClose(
    await bench.read(dbeta),
    plus(ref.dbeta, priorDbeta, add),
    PARAM_GRAD_TOL,
    `dbeta ${what}`,
  );
}

Deno.test("batch norm backward: affine/plain × relu × accumulate × accumulateParams", async () => {
  const bench = await KernelBench.create();
  try {
    const rng = new Rng("bn-backward");
    for (const [, s] of SHAPES) {
      for (const [affine, relu, accumulate] of flagCombinations()) {
        const accumulateParams = affine && !accumulate;
        await checkBackward(bench, rng, s, { affine, relu, accumulate, accumulateParams });
      }
    }
  } finally {
    bench.dispose();
  }
});

Deno.test("batch norm at GenNAS shapes, with both device-class geometries", async () => {
  const bench = await KernelBench.create();
  try {
    const rng = new Rng("bn-gennas");
    const cases: [DeviceClass, BatchNormShape][] = [
      [bench.gpu.deviceClass, { batch: 16, channels: 16, spatial: 32 * 32 }],
      [bench.gpu.deviceClass, { batch: 16, channels: 64, spatial: 8 * 8 }],
      [otherClass(bench.gpu.deviceClass), { batch: 16, channels: 32, spatial: 16 * 16 }],
      [otherClass(bench.gpu.deviceClass), ODD],
    ];
    for (const [deviceClass, s] of cases) {
      const ctx = { ...bench.context, deviceClass };
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
      const what = `${deviceClass} ${JSON.stringify(s)}`;
      assertClose(await bench.read(y), ref.y, Y_TOL, `y ${what}`);
      assertClose(await bench.read(mean), ref.mean, STATS_TOL, `mean ${what}`);
      assertClose(await bench.read(invstd), ref.invstd, STATS_TOL, `invstd ${what}`);
      const o = { affine: true, relu: true, accumulate: false, accumulateParams: false };
      await checkBackward(bench, rng, s, o, ctx);
    }
  } finally {
    bench.dispose();
  }
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
  const launches = batchNormForward(ctx, s, { x: "x", y: "y", mean: "m", invstd: "i" }, {
    ...o,
    mode: "train",
  });
  if (launches.length !== 2) throw new Error(`train forward: ${launches.length} launches, not 2`);
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
  const bench = await KernelBench.create();
  try {
    for (const g of golden.batchnorm as GoldenBatchNorm[]) {
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
        ...batchNormForward(bench.context, s, {
          x,
          y: yTrain,
          mean,
          invstd,
          runningMean,
          runningVar,
          ...params,
        }, { ...common, mode: "train" }),
        ...batchNormForward(bench.context, s, { x, y: yEval, runningMean, runningVar, ...params }, {
          ...common,
          mode: "eval",
        }),
        ...batchNormBackward(bench.context, s, {
          x,
          dy: bench.input(g.dy),
          dx,
          mean,
          invstd,
          ...params,
          ...(g.affine ? { dgamma, dbeta } : {}),
        }, { affine: g.affine, relu: g.relu }),
      ]);
      const what = `golden ${g.name}`;
      assertClose(await bench.read(yTrain), g.y_train, Y_TOL, `${what} y_train`);
      assertClose(await bench.read(mean), g.mean, STATS_TOL, `${what} mean`);
      assertClose(await bench.read(invstd), g.invstd, STATS_TOL, `${what} invstd`);
      assertClose(await bench.read(runningMean), g.running_mean_after, STATS_TOL, `${what} rm`);
      assertClose(await bench.read(runningVar), g.running_var_after, STATS_TOL, `${what} rv`);
      assertClose(await bench.read(yEval), g.y_eval, Y_TOL, `${what} y_eval`);
      assertClose(await bench.read(dx), g.dx, DX_TOL, `${what} dx`);
      if (g.affine) {
        assertClose(await bench.read(dgamma), g.dgamma!, PARAM_GRAD_TOL, `${what} dgamma`);
        assertClose(await bench.read(dbeta), g.dbeta!, PARAM_GRAD_TOL, `${what} dbeta`);
      }
    }
  } finally {
    bench.dispose();
  }
});
