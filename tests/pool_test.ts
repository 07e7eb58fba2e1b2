import {
  avgPool2dBackward,
  avgPool2dForward,
  globalAvgPoolBackward,
  globalAvgPoolForward,
  type GlobalPoolShape,
  maxPool2dBackward,
  maxPool2dForward,
  type Pool2dShape,
  poolOutputSize,
} from "../src/kernels/pool.ts";
import type { DeviceClass } from "../src/gpu/kernel.ts";
import { Rng } from "../src/util/rng.ts";
import golden from "../fixtures/golden/norm_pool.json" with { type: "json" };
import { assertClose, checkMapOp, randomArray, withBench } from "./support/gpu.ts";
import {
  avgPoolBackwardRef,
  avgPoolForwardRef,
  globalAvgPoolBackwardRef,
  globalAvgPoolForwardRef,
  maxPoolBackwardRef,
  maxPoolForwardRef,
} from "./ref/norm_pool_ref.ts";

// Max pooling selects values and its backward adds at most K² terms: exact up to ulps.
const EXACT_TOL = { atol: 1e-6, rtol: 1e-6 };
// Averages of ≤ 9 values (or of H·W values for the global pool) in f32.
const AVG_TOL = { atol: 1e-6, rtol: 1e-5 };
const ARGMAX_TOL = { atol: 0, rtol: 0 };

function inputCount(s: Pool2dShape): number {
  return s.batch * s.channels * s.inH * s.inW;
}

function outputCount(s: Pool2dShape): number {
  const { outH, outW } = poolOutputSize(s);
  return s.batch * s.channels * outH * outW;
}

/** Values from a few levels, so windows hold tied maxima and the tie rule is exercised. */
function tiedArray(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.int(5) - 2);
}

// Widths divisible by 4 with a 3×3 s1 p1 window run the vectorised kernels (W = 4: one vec4 per
// row, both neighbours in the padding); so do 2×2 s2 windows on an even height and a width
// divisible by 8 (W = 8: one output quad per row). W = 12 and odd H take the general 2×2 path.
// The 3×3 vec4 kernels run strips of 8, 4, 2 or 1 output rows (the largest dividing H): odd H
// gives strips of 1, H = 16, 12 and 6 strips of 8, 4 and 2 (several strips per plane).
const POOL_CASES: [string, Pool2dShape][] = [
  ["3×3 s1 p1", { batch: 3, channels: 5, inH: 7, inW: 9, kernel: 3, stride: 1, pad: 1 }],
  ["3×3 s1 p1 vec4", { batch: 3, channels: 5, inH: 7, inW: 12, kernel: 3, stride: 1, pad: 1 }],
  ["3×3 s1 p1 vec4 W=4", { batch: 2, channels: 3, inH: 5, inW: 4, kernel: 3, stride: 1, pad: 1 }],
  ["3×3 s1 p1 strips of 8", {
    batch: 2,
    channels: 3,
    inH: 16,
    inW: 8,
    kernel: 3,
    stride: 1,
    pad: 1,
  }],
  ["3×3 s1 p1 strips of 4", {
    batch: 2,
    channels: 2,
    inH: 12,
    inW: 12,
    kernel: 3,
    stride: 1,
    pad: 1,
  }],
  ["3×3 s1 p1 strips of 2", {
    batch: 3,
    channels: 2,
    inH: 6,
    inW: 4,
    kernel: 3,
    stride: 1,
    pad: 1,
  }],
  ["2×2 s2", { batch: 3, channels: 5, inH: 8, inW: 10, kernel: 2, stride: 2, pad: 0 }],
  ["2×2 s2 odd input", { batch: 2, channels: 3, inH: 7, inW: 9, kernel: 2, stride: 2, pad: 0 }],
  ["2×2 s2 vec4", { batch: 3, channels: 5, inH: 6, inW: 16, kernel: 2, stride: 2, pad: 0 }],
  ["2×2 s2 vec4 W=8", { batch: 2, channels: 3, inH: 4, inW: 8, kernel: 2, stride: 2, pad: 0 }],
  ["3×3 s2 p1", { batch: 2, channels: 3, inH: 9, inW: 7, kernel: 3, stride: 2, pad: 1 }],
];
const MAX_CASES: [string, Pool2dShape][] = [
  ...POOL_CASES,
  ["2×2 s2 W=12", { batch: 2, channels: 3, inH: 4, inW: 12, kernel: 2, stride: 2, pad: 0 }],
  ["2×2 s2 odd H", { batch: 2, channels: 3, inH: 5, inW: 8, kernel: 2, stride: 2, pad: 0 }],
];

Deno.test("max pool forward/backward with ties, accumulate variants", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("maxpool");
    for (const [name, s] of MAX_CASES) {
      for (const ties of [true, false]) {
        const what = `${name} ties=${ties}`;
        const nIn = inputCount(s);
        const nOut = outputCount(s);
        const x = ties ? tiedArray(rng, nIn) : randomArray(rng, nIn);
        const dy = randomArray(rng, nOut);
        const priorY = randomArray(rng, nOut);
        const priorDx = randomArray(rng, nIn);
        const xs = bench.input(x);
        const y = bench.output(nOut);
        const argmax = bench.output(nOut);
        const yAcc = bench.input(priorY);
        const argmaxAcc = bench.output(nOut);
        const dx = bench.output(nIn);
        const dxAcc = bench.input(priorDx);
        const dys = bench.input(dy);
        await bench.run([
          ...maxPool2dForward(bench.context, s, { x: xs, y, argmax }),
          ...maxPool2dForward(bench.context, s, { x: xs, y: yAcc, argmax: argmaxAcc }, {
            accumulate: true,
          }),
          ...maxPool2dBackward(bench.context, s, { dy: dys, argmax, dx }),
          ...maxPool2dBackward(bench.context, s, { dy: dys, argmax, dx: dxAcc }, {
            accumulate: true,
          }),
        ]);
        const ref = maxPoolForwardRef(x, s);
        assertClose(await bench.read(y), ref.y, EXACT_TOL, `y ${what}`);
        const indices = new Uint32Array((await bench.read(argmax)).buffer.slice(0));
        assertClose(indices, ref.argmax, ARGMAX_TOL, `argmax ${what}`);
        const yAccExpected = ref.y.map((v, i) => v + priorY[i]);
        assertClose(await bench.read(yAcc), yAccExpected, EXACT_TOL, `y accumulate ${what}`);
        const dxRef = maxPoolBackwardRef(dy, ref.argmax, s);
        assertClose(await bench.read(dx), dxRef, EXACT_TOL, `dx ${what}`);
        const dxAccExpected = dxRef.map((v, i) => v + priorDx[i]);
        assertClose(await bench.read(dxAcc), dxAccExpected, EXACT_TOL, `dx accumulate ${what}`);
      }
    }
  });
});

Deno.test("max pool tie rule: the first maximum in row-major window order wins", async () => {
  await withBench(async (bench) => {
    // One 4×4 plane of equal values except a tied pair of 5s in the first 2×2 window.
    const s: Pool2dShape = { batch: 1, channels: 1, inH: 4, inW: 4, kernel: 2, stride: 2, pad: 0 };
    const x = new Float32Array(16).fill(1);
    x[1] = 5; // (0, 1)
    x[4] = 5; // (1, 0): later in row-major order
    const y = bench.output(4);
    const argmax = bench.output(4);
    await bench.run(maxPool2dForward(bench.context, s, { x: bench.input(x), y, argmax }));
    const indices = Array.from(new Uint32Array((await bench.read(argmax)).buffer.slice(0)));
    // Windows: [0,1,4,5] → 1; [2,3,6,7] all equal → 2; [8,9,12,13] → 8; [10,11,14,15] → 10.
    assertClose(indices, [1, 2, 8, 10], ARGMAX_TOL, "argmax");
    assertClose(await bench.read(y), [5, 1, 1, 1], EXACT_TOL, "y");
  });
});

const AVG_CASES = POOL_CASES;

Deno.test("avg pool forward/backward, count_include_pad false and true, accumulate", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("avgpool");
    for (const [name, s] of AVG_CASES) {
      for (const countIncludePad of [false, true]) {
        await checkMapOp(bench, rng, {
          what: `${name} countIncludePad=${countIncludePad}`,
          inputs: inputCount(s),
          outputs: outputCount(s),
          forward: (io, o) => avgPool2dForward(bench.context, s, io, { ...o, countIncludePad }),
          backward: (io, o) => avgPool2dBackward(bench.context, s, io, { ...o, countIncludePad }),
          forwardRef: (x) => avgPoolForwardRef(x, s, countIncludePad),
          backwardRef: (dy) => avgPoolBackwardRef(dy, s, countIncludePad),
          tol: { y: AVG_TOL, dx: AVG_TOL },
        });
      }
    }
  });
});

Deno.test("global average pool forward/backward, accumulate, both geometries", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("global-avg");
    const shapes: GlobalPoolShape[] = [
      { batch: 3, channels: 5, spatial: 63 },
      { batch: 16, channels: 16, spatial: 1024 },
    ];
    const classes: DeviceClass[] = ["cpu", "gpu"];
    for (const [s, deviceClass] of shapes.flatMap((s) => classes.map((c) => [s, c] as const))) {
      const ctx = { ...bench.context, deviceClass };
      const rows = s.batch * s.channels;
      await checkMapOp(bench, rng, {
        what: `${deviceClass} ${JSON.stringify(s)}`,
        inputs: rows * s.spatial,
        outputs: rows,
        forward: (io, o) => globalAvgPoolForward(ctx, s, io, o),
        backward: (io, o) => globalAvgPoolBackward(ctx, s, io, o),
        forwardRef: (x) => globalAvgPoolForwardRef(x, s),
        backwardRef: (dy) => globalAvgPoolBackwardRef(dy, s),
        tol: { y: AVG_TOL, dx: AVG_TOL },
      });
    }
  });
});

Deno.test("2×2 s2 windows take the vec4 kernels on even H and W divisible by 8", () => {
  const ctx = { scratch: () => "scratch", deviceClass: "cpu" as const };
  const io = { x: "x", y: "y", argmax: "a", dy: "dy", dx: "dx" };
  const avg = { countIncludePad: false };
  const kernels = (s: Pool2dShape) =>
    [
      ...maxPool2dForward(ctx, s, io),
      ...maxPool2dBackward(ctx, s, io),
      ...avgPool2dForward(ctx, s, io, avg),
      ...avgPool2dBackward(ctx, s, io, avg),
    ].map((l) => `${l.kernel.entryPoint}×${l.workgroups[0]}`).join(" ");
  const window = { batch: 16, channels: 16, kernel: 2, stride: 2, pad: 0 };
  // 16·16·16 rows of 4 output quads = 16 384 invocations = 64 groups of 256.
  const expected = "pool2_max_forward×64 pool2_max_backward×64 pool2_avg_forward×64 " +
    "pool2_avg_backward×64";
  const got = kernels({ ...window, inH: 32, inW: 32 });
  if (got !== expected) throw new Error(`32×32: ${got}`);
  for (const [inH, inW] of [[32, 12], [31, 32]]) {
    const general = kernels({ ...window, inH, inW });
    if (general.includes("pool2_")) throw new Error(`${inH}×${inW}: ${general}`);
  }
});

Deno.test("poolOutputSize: floor mode, rejects impossible windows", () => {
  const base = { batch: 1, channels: 1, inH: 7, inW: 8, kernel: 2, stride: 2, pad: 0 };
  const { outH, outW } = poolOutputSize(base);
  if (outH !== 3 || outW !== 4) throw new Error(`floor mode: got ${outH}×${outW}, expected 3×4`);
  for (const bad of [{ ...base, pad: 2 }, { ...base, inH: 1 }, { ...base, stride: 0 }]) {
    let threw = false;
    try {
      poolOutputSize(bad);
    } catch (e) {
      threw = e instanceof RangeError;
    }
    if (!threw) throw new Error(`no RangeError for ${JSON.stringify(bad)}`);
  }
});

// ---- PyTorch golden --------------------------------------------------------------------------

function goldenPoolShape(
  g: { shape: number[]; kernel: number; stride: number; pad: number },
): Pool2dShape {
  const [batch, channels, inH, inW] = g.shape;
  return { batch, channels, inH, inW, kernel: g.kernel, stride: g.stride, pad: g.pad };
}

Deno.test("pooling matches PyTorch golden (MaxPool2d, AvgPool2d, adaptive_avg_pool2d)", async () => {
  await withBench(async (bench) => {
    for (const g of golden.maxpool) {
      const s = goldenPoolShape(g);
      const y = bench.output(g.y.length);
      const argmax = bench.output(g.y.length);
      const dx = bench.output(g.x.length);
      await bench.run([
        ...maxPool2dForward(bench.context, s, { x: bench.input(g.x), y, argmax }),
        ...maxPool2dBackward(bench.context, s, { dy: bench.input(g.dy), argmax, dx }),
      ]);
      assertClose(await bench.read(y), g.y, EXACT_TOL, `golden max ${g.name} y`);
      const indices = new Uint32Array((await bench.read(argmax)).buffer.slice(0));
      assertClose(indices, g.argmax, ARGMAX_TOL, `golden max ${g.name} argmax`);
      assertClose(await bench.read(dx), g.dx, EXACT_TOL, `golden max ${g.name} dx`);
    }
    for (const g of golden.avgpool) {
      const s = goldenPoolShape(g);
      const o = { countIncludePad: g.count_include_pad };
      const y = bench.output(g.y.length);
      const dx = bench.output(g.x.length);
      await bench.run([
        ...avgPool2dForward(bench.context, s, { x: bench.input(g.x), y }, o),
        ...avgPool2dBackward(bench.context, s, { dy: bench.input(g.dy), dx }, o),
      ]);
      assertClose(await bench.read(y), g.y, AVG_TOL, `golden avg ${g.name} y`);
      assertClose(await bench.read(dx), g.dx, AVG_TOL, `golden avg ${g.name} dx`);
    }
    for (const g of golden.global_avg) {
      const [batch, channels, h, w] = g.shape;
      const s = { batch, channels, spatial: h * w };
      const y = bench.output(g.y.length);
      const dx = bench.output(g.x.length);
      await bench.run([
        ...globalAvgPoolForward(bench.context, s, { x: bench.input(g.x), y }),
        ...globalAvgPoolBackward(bench.context, s, { dy: bench.input(g.dy), dx }),
      ]);
      assertClose(await bench.read(y), g.y, AVG_TOL, `golden global ${g.name} y`);
      assertClose(await bench.read(dx), g.dx, AVG_TOL, `golden global ${g.name} dx`);
    }
  });
});
