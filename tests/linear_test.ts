import assert from "node:assert/strict";
import {
  linearBackwardData,
  linearBackwardWeight,
  linearForward,
  type LinearShape,
} from "../src/kernels/linear.ts";
import type { BufferSlice, DeviceClass } from "../src/gpu/kernel.ts";
import { Rng } from "../src/util/rng.ts";
import { assertClose, KernelBench, randomArray, type Tolerance, withBench } from "./support/gpu.ts";
import {
  linearBackwardDataRef,
  linearBackwardWeightRef,
  linearForwardRef,
} from "./ref/linear_loss_optim_ref.ts";
import golden from "../fixtures/golden/linear_loss_optim.json" with { type: "json" };

/**
 * Each output is one f32 fma chain of `terms` products of values in [-1, 1]; the rounding error
 * grows like √terms·ulp(partial sums) in practice. 2e-6·terms is > 10× the worst error seen on
 * these shapes and far below a wrong term (~0.3).
 */
function tolerance(terms: number): Tolerance {
  return { atol: 2e-6 * Math.max(terms, 8), rtol: 1e-5 };
}

function plus(a: ArrayLike<number>, b: ArrayLike<number>): number[] {
  return Array.from(a, (v, i) => v + b[i]);
}

interface Case {
  shape: LinearShape;
  x: Float32Array;
  w: Float32Array;
  bias: Float32Array;
  dy: Float32Array;
}

function randomCase(rng: Rng, shape: LinearShape): Case {
  return {
    shape,
    x: randomArray(rng, shape.batch * shape.inFeatures),
    w: randomArray(rng, shape.outFeatures * shape.inFeatures),
    bias: randomArray(rng, shape.outFeatures),
    dy: randomArray(rng, shape.batch * shape.outFeatures),
  };
}

const SHAPES: LinearShape[] = [
  { batch: 7, inFeatures: 13, outFeatures: 9 }, // nothing a multiple of the 8×4 block
  { batch: 37, inFeatures: 70, outFeatures: 67 }, // several row blocks and column groups
  { batch: 1, inFeatures: 1, outFeatures: 1 },
  { batch: 16, inFeatures: 48, outFeatures: 400 }, // recurrent encoder shape
  { batch: 20, inFeatures: 36, outFeatures: 44 }, // blocked (cpu): row and column tails
  { batch: 3, inFeatures: 8, outFeatures: 4 }, // blocked (cpu): one partial block
];

async function checkForward(
  bench: KernelBench,
  rng: Rng,
  c: Case,
  deviceClass?: DeviceClass,
): Promise<void> {
  const { shape } = c;
  const ctx = { ...bench.context, deviceClass: deviceClass ?? bench.context.deviceClass };
  const x = bench.input(c.x);
  const w = bench.input(c.w);
  const bias = bench.input(c.bias);
  const prior = randomArray(rng, shape.batch * shape.outFeatures);
  const y = bench.output(shape.batch * shape.outFeatures);
  const yNoBias = bench.output(shape.batch * shape.outFeatures);
  const yAcc = bench.input(prior);
  await bench.run([
    ...linearForward(ctx, shape, { x, w, bias, y }),
    ...linearForward(ctx, shape, { x, w, y: yNoBias }),
    ...linearForward(ctx, shape, { x, w, bias, y: yAcc }, { accumulate: true }),
  ]);
  const tol = tolerance(shape.inFeatures);
  const label = `forward ${JSON.stringify(shape)}`;
  const expected = linearForwardRef(shape, c.x, c.w, c.bias);
  assertClose(await bench.read(y), expected, tol, `${label} with bias`);
  assertClose(
    await bench.read(yNoBias),
    linearForwardRef(shape, c.x, c.w),
    tol,
    `${label} no bias`,
  );
  assertClose(await bench.read(yAcc), plus(expected, prior), tol, `${label} accumulate`);
}

async function checkBackwardData(
  bench: KernelBench,
  rng: Rng,
  c: Case,
  deviceClass?: DeviceClass,
): Promise<void> {
  const { shape } = c;
  const ctx = { ...bench.context, deviceClass: deviceClass ?? bench.context.deviceClass };
  const dy = bench.input(c.dy);
  const w = bench.input(c.w);
  const prior = randomArray(rng, shape.batch * shape.inFeatures);
  const dx = bench.output(shape.batch * shape.inFeatures);
  const dxAcc = bench.input(prior);
  await bench.run([
    ...linearBackwardData(ctx, shape, { dy, w, dx }),
    ...linearBackwardData(ctx, shape, { dy, w, dx: dxAcc }, { accumulate: true }),
  ]);
  const tol = tolerance(shape.outFeatures);
  const label = `backward data ${JSON.stringify(shape)}`;
  const expected = linearBackwardDataRef(shape, c.dy, c.w);
  assertClose(await bench.read(dx), expected, tol, label);
  assertClose(await bench.read(dxAcc), plus(expected, prior), tol, `${label} accumulate`);
}

async function checkBackwardWeight(
  bench: KernelBench,
  rng: Rng,
  c: Case,
  deviceClass?: DeviceClass,
): Promise<void> {
  const { shape } = c;
  const ctx = { ...bench.context, deviceClass: deviceClass ?? bench.context.deviceClass };
  const dy = bench.input(c.dy);
  const x = bench.input(c.x);
  const nw = shape.outFeatures * shape.inFeatures;
  const priorW = randomArray(rng, nw);
  const priorB = randomArray(rng, shape.outFeatures);
  const dw = bench.output(nw);
  const dbias = bench.output(shape.outFeatures);
  const dwOnly = bench.output(nw);
  const dwAcc = bench.input(priorW);
  const dbiasAcc = bench.input(priorB);
  await bench.run([
    ...linearBackwardWeight(ctx, shape, { dy, x, dw, dbias }),
    ...linearBackwardWeight(ctx, shape, { dy, x, dw: dwOnly }),
    ...linearBackwardWeight(ctx, shape, { dy, x, dw: dwAcc, dbias: dbiasAcc }, {
      accumulate: true,
    }),
  ]);
  const tol = tolerance(shape.batch);
  const label = `backward weight ${JSON.stringify(shape)}`;
  const expected = linearBackwardWeightRef(shape, c.dy, c.x);
  assertClose(await bench.read(dw), expected.dw, tol, `${label} dw`);
  assertClose(await bench.read(dbias), expected.dbias, tol, `${label} dbias`);
  assertClose(await bench.read(dwOnly), expected.dw, tol, `${label} dw without dbias`);
  assertClose(await bench.read(dwAcc), plus(expected.dw, priorW), tol, `${label} dw accumulate`);
  assertClose(
    await bench.read(dbiasAcc),
    plus(expected.dbias, priorB),
    tol,
    `${label} dbias accumulate`,
  );
}

Deno.test("linear forward (bias, no bias, accumulate) matches float64 reference", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("linear forward");
    for (const shape of SHAPES) await checkForward(bench, rng, randomCase(rng, shape));
  });
});

Deno.test("linear backward data (overwrite, accumulate) matches float64 reference", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("linear backward data");
    for (const shape of SHAPES) await checkBackwardData(bench, rng, randomCase(rng, shape));
  });
});

Deno.test("linear backward weight and bias (with/without dbias, accumulate) match reference", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("linear backward weight");
    for (const shape of SHAPES) await checkBackwardWeight(bench, rng, randomCase(rng, shape));
  });
});

Deno.test("linear under both tilings: the cpu one takes the blocked kernels where shapes fit", async () => {
  const shapes = [
    { batch: 16, inFeatures: 600, outFeatures: 600 }, // a recurrent cell's step
    { batch: 20, inFeatures: 36, outFeatures: 44 },
    { batch: 37, inFeatures: 70, outFeatures: 67 }, // no vec4 rows: portable kernel everywhere
  ];
  const names = (deviceClass: DeviceClass, s: LinearShape) => {
    const ctx = { scratch: () => undefined as never, deviceClass };
    const io = new Proxy({}, { get: () => ({}) }) as Record<string, BufferSlice>;
    return [
      linearForward(ctx, s, { x: io.x, w: io.w, bias: io.b, y: io.y })[0].kernel.name,
      linearBackwardData(ctx, s, { dy: io.dy, w: io.w, dx: io.dx })[0].kernel.name,
      linearBackwardWeight(ctx, s, { dy: io.dy, x: io.x, dw: io.dw, dbias: io.db })[0].kernel.name,
    ];
  };
  assert.deepEqual(names("cpu", shapes[0]).map((n) => n.match(/_(n4|k4)_/)?.[1]), [
    "k4",
    "n4",
    "n4",
  ]);
  assert(names("gpu", shapes[0]).every((n) => !/_(n4|k4)_/.test(n)));
  assert(names("cpu", shapes[2]).every((n) => !/_(n4|k4)_/.test(n)));
  await withBench(async (bench) => {
    const rng = new Rng("linear tilings");
    for (const deviceClass of ["cpu", "gpu"] as const) {
      for (const shape of shapes) {
        const c = randomCase(rng, shape);
        await checkForward(bench, rng, c, deviceClass);
        await checkBackwardData(bench, rng, c, deviceClass);
        await checkBackwardWeight(bench, rng, c, deviceClass);
      }
    }
  });
});

Deno.test("linear at the recurrent-cell scale (128×400 → 400) matches reference", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("linear large");
    const c = randomCase(rng, { batch: 128, inFeatures: 400, outFeatures: 400 });
    await checkForward(bench, rng, c);
    await checkBackwardData(bench, rng, c);
    await checkBackwardWeight(bench, rng, c);
  });
});

Deno.test("linear forward and both grads match PyTorch nn.Linear (golden)", async () => {
  await withBench(async (bench) => {
    const g = golden.linear;
    const shape = { batch: g.batch, inFeatures: g.inFeatures, outFeatures: g.outFeatures };
    const [x, w, bias, dy] = [g.x, g.w, g.bias, g.dy].map((v) => bench.input(v));
    const y = bench.output(g.y.length);
    const dx = bench.output(g.dx.length);
    const dw = bench.output(g.dw.length);
    const dbias = bench.output(g.dbias.length);
    const ctx = bench.context;
    await bench.run([
      ...linearForward(ctx, shape, { x, w, bias, y }),
      ...linearBackwardData(ctx, shape, { dy, w, dx }),
      ...linearBackwardWeight(ctx, shape, { dy, x, dw, dbias }),
    ]);
    assertClose(await bench.read(y), g.y, tolerance(shape.inFeatures), "torch y");
    assertClose(await bench.read(dx), g.dx, tolerance(shape.outFeatures), "torch dx");
    assertClose(await bench.read(dw), g.dw, tolerance(shape.batch), "torch dw");
    assertClose(await bench.read(dbias), g.dbias, tolerance(shape.batch), "torch dbias");
  });
});

Deno.test("linear rejects a non-positive or fractional shape", () => {
  const ctx = {
    scratch: (): BufferSlice => {
      throw new Error("unused");
    },
    deviceClass: "cpu" as const,
  };
  const io = {} as { x: BufferSlice; w: BufferSlice; y: BufferSlice };
  for (const bad of [0, -3, 2.5, Number.NaN]) {
    let threw = false;
    try {
      linearForward(ctx, { batch: 4, inFeatures: bad, outFeatures: 3 }, io);
    } catch (e) {
      threw = e instanceof RangeError && e.message.includes("inFeatures");
    }
    if (!threw) throw new Error(`inFeatures ${bad} was accepted`);
  }
});
