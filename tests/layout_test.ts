import {
  channelCopy,
  type ChannelCopyShape,
  nearestSubsampleBackward,
  nearestSubsampleForward,
  type SubsampleShape,
} from "../src/kernels/layout.ts";
import { Rng } from "../src/util/rng.ts";
import golden from "../fixtures/golden/norm_pool.json" with { type: "json" };
import { assertClose, checkMapOp, randomArray, withBench } from "./support/gpu.ts";
import {
  channelCopyRef,
  nearestSourceIndex,
  nearestSubsampleBackwardRef,
  nearestSubsampleForwardRef,
} from "./ref/norm_pool_ref.ts";

// Copies are exact; the resampling backward adds at most a few dy terms (upsampling).
const EXACT_TOL = { atol: 0, rtol: 0 };
const SUM_TOL = { atol: 1e-6, rtol: 1e-6 };

function sizes(s: SubsampleShape): { nIn: number; nOut: number } {
  const planes = s.batch * s.channels;
  return { nIn: planes * s.inH * s.inW, nOut: planes * s.outH * s.outW };
}

// Kernel paths: integer ratio with inW % 4 == 0 (32→8, 16→8) → strided vec4; other ratios with
// inW % 4 == 0 (9×12→5×7, 3×8→7×12) → generic vec4; the rest → scalar.
const RESAMPLE_CASES: SubsampleShape[] = [
  { batch: 3, channels: 5, inH: 32, inW: 32, outH: 8, outW: 8 },
  { batch: 3, channels: 5, inH: 16, inW: 16, outH: 8, outW: 8 },
  { batch: 3, channels: 5, inH: 7, inW: 7, outH: 3, outW: 3 },
  { batch: 2, channels: 3, inH: 9, inW: 12, outH: 5, outW: 7 },
  { batch: 2, channels: 3, inH: 10, inW: 30, outH: 6, outW: 9 }, // scales 5/3 and 10/3
  { batch: 1, channels: 2, inH: 3, inW: 5, outH: 7, outW: 11 }, // upsampling
  { batch: 1, channels: 2, inH: 3, inW: 8, outH: 7, outW: 12 }, // upsampling, vec4 rows
  { batch: 2, channels: 3, inH: 6, inW: 6, outH: 3, outW: 2 }, // integer ratio, scalar rows
  // f32 rounding of the scale makes PyTorch pick pixel 12 (not 13) for d = 11, and 6 (not 7)
  // for d = 23 when upsampling 14 → 46.
  { batch: 1, channels: 2, inH: 26, inW: 14, outH: 22, outW: 46 },
];

Deno.test("nearest source index follows PyTorch's f32 rule", () => {
  // 32 → 8 takes pixels 4i; 7 → 3 takes floor(i · 7/3) = 0, 2, 4.
  assertClose(
    [0, 1, 2, 7].map((i) => nearestSourceIndex(i, 32, 8)),
    [0, 4, 8, 28],
    EXACT_TOL,
    "32",
  );
  assertClose([0, 1, 2].map((i) => nearestSourceIndex(i, 7, 3)), [0, 2, 4], EXACT_TOL, "7→3");
  // floor(11 · 26/22) = 13, but PyTorch's f32 product gives 12.
  assertClose([nearestSourceIndex(11, 26, 22)], [12], EXACT_TOL, "26→22");
});

Deno.test("nearest subsample forward/backward (32→8, 16→8, 7→3, …), accumulate", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("subsample");
    for (const s of RESAMPLE_CASES) {
      const { nIn, nOut } = sizes(s);
      await checkMapOp(bench, rng, {
        what: `${s.inH}×${s.inW}→${s.outH}×${s.outW}`,
        inputs: nIn,
        outputs: nOut,
        forward: (io, o) => nearestSubsampleForward(bench.context, s, io, o),
        backward: (io, o) => nearestSubsampleBackward(bench.context, s, io, o),
        forwardRef: (x) => nearestSubsampleForwardRef(x, s),
        backwardRef: (dy) => nearestSubsampleBackwardRef(dy, s),
        tol: { y: EXACT_TOL, dx: SUM_TOL, accumulated: SUM_TOL },
      });
    }
  });
});

Deno.test("nearest resampling matches PyTorch golden F.interpolate", async () => {
  await withBench(async (bench) => {
    for (const g of golden.interpolate) {
      const [batch, channels, inH, inW] = g.shape;
      const s = { batch, channels, inH, inW, outH: g.out[0], outW: g.out[1] };
      const y = bench.output(g.y.length);
      const dx = bench.output(g.x.length);
      await bench.run([
        ...nearestSubsampleForward(bench.context, s, { x: bench.input(g.x), y }),
        ...nearestSubsampleBackward(bench.context, s, { dy: bench.input(g.dy), dx }),
      ]);
      // The JSON holds f32 values in decimal: round them back to f32 for an exact comparison.
      assertClose(await bench.read(y), Float32Array.from(g.y), EXACT_TOL, `golden ${g.name} y`);
      assertClose(await bench.read(dx), g.dx, SUM_TOL, `golden ${g.name} dx`);
    }
  });
});

// spatial % 4 == 0 runs the vec4 kernels (concat part, truncate), otherwise the scalar ones.
const COPY_CASES: [string, ChannelCopyShape][] = [
  ["concat part", {
    batch: 3,
    spatial: 36,
    srcChannels: 5,
    srcOffset: 0,
    dstChannels: 12,
    dstOffset: 7,
    count: 5,
  }],
  ["slice", {
    batch: 3,
    spatial: 35,
    srcChannels: 12,
    srcOffset: 4,
    dstChannels: 5,
    dstOffset: 0,
    count: 5,
  }],
  ["truncate", {
    batch: 2,
    spatial: 64,
    srcChannels: 11,
    srcOffset: 0,
    dstChannels: 10,
    dstOffset: 0,
    count: 10,
  }],
  ["middle to middle", {
    batch: 2,
    spatial: 9,
    srcChannels: 9,
    srcOffset: 2,
    dstChannels: 7,
    dstOffset: 3,
    count: 3,
  }],
];

Deno.test("channel copy: overwrite, accumulate, zeroRest", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("channel-copy");
    for (const [name, s] of COPY_CASES) {
      const src = randomArray(rng, s.batch * s.srcChannels * s.spatial);
      const nDst = s.batch * s.dstChannels * s.spatial;
      const prior = randomArray(rng, nDst);
      const srcs = bench.input(src);
      const overwrite = bench.input(prior); // untouched channels must keep their values
      const accumulate = bench.input(prior);
      const zeroRest = bench.output(nDst); // NaN: every element must be written
      await bench.run([
        ...channelCopy(bench.context, s, { src: srcs, dst: overwrite }),
        ...channelCopy(bench.context, s, { src: srcs, dst: accumulate }, { accumulate: true }),
        ...channelCopy(bench.context, s, { src: srcs, dst: zeroRest }, { zeroRest: true }),
      ]);
      assertClose(await bench.read(overwrite), channelCopyRef(src, prior, s), EXACT_TOL, name);
      assertClose(
        await bench.read(accumulate),
        channelCopyRef(src, prior, s, { accumulate: true }),
        SUM_TOL,
        `${name} accumulate`,
      );
      assertClose(
        await bench.read(zeroRest),
        channelCopyRef(src, prior, s, { zeroRest: true }),
        EXACT_TOL,
        `${name} zeroRest`,
      );
    }
  });
});

Deno.test("channel copy rejects out-of-range channels and zeroRest with accumulate", () => {
  const ctx = { scratch: () => "scratch", deviceClass: "cpu" as const };
  const s = COPY_CASES[0][1];
  const bad: [ChannelCopyShape, { accumulate?: boolean; zeroRest?: boolean }][] = [
    [{ ...s, dstOffset: 8 }, {}],
    [{ ...s, srcOffset: 1 }, {}],
    [{ ...s, count: 0 }, {}],
    [s, { accumulate: true, zeroRest: true }],
  ];
  for (const [shape, o] of bad) {
    let threw = false;
    try {
      channelCopy(ctx, shape, { src: "src", dst: "dst" }, o);
    } catch (e) {
      threw = e instanceof RangeError;
    }
    if (!threw) throw new Error(`no RangeError for ${JSON.stringify({ shape, o })}`);
  }
});
