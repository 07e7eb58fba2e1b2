import {
  conv2dBackwardData,
  conv2dFlops,
  conv2dForward,
  conv2dOutputSize,
  type Conv2dParams,
  conv2dPlan,
  conv2dShape,
  convertWeightLayout,
} from "../src/kernels/conv2d/mod.ts";
import type { LaunchContext } from "../src/gpu/kernel.ts";
import { peakFromCpuinfo } from "../bench/peak.ts";
import { Rng } from "../src/util/rng.ts";
import { assertClose, KernelBench, randomArray, withBench } from "./support/gpu.ts";
import {
  type Flags,
  type Inputs,
  randomInputs,
  reference,
  runAndCompare,
  termCounts,
  tolerance,
  type Variant,
} from "./support/conv2d.ts";
import golden from "../fixtures/golden/conv2d.json" with { type: "json" };

/** Tiny shapes covering every feature; flags alternate so each is seen with and without. */
const CASES: { name: string; params: Conv2dParams; flags: Flags }[] = [
  {
    name: "3×3 pad 1, odd 7×9, 5→11",
    params: { batch: 2, inChannels: 5, outChannels: 11, inH: 7, inW: 9, kernel: 3, pad: 1 },
    flags: { bias: true, accumulate: false },
  },
  {
    name: "3×3 stride 2 pad 1, 9×7",
    params: {
      batch: 2,
      inChannels: 3,
      outChannels: 4,
      inH: 9,
      inW: 7,
      kernel: 3,
      stride: 2,
      pad: 1,
    },
    flags: { bias: true, accumulate: true },
  },
  {
    name: "3×3 stride 2 pad 0, 8×8",
    params: { batch: 1, inChannels: 4, outChannels: 8, inH: 8, inW: 8, kernel: 3, stride: 2 },
    flags: { bias: false, accumulate: false },
  },
  {
    name: "3×3 dilation 2 pad 2",
    params: {
      batch: 1,
      inChannels: 4,
      outChannels: 5,
      inH: 8,
      inW: 8,
      kernel: 3,
      pad: 2,
      dilation: 2,
    },
    flags: { bias: false, accumulate: true },
  },
  {
    name: "3×3 groups 2",
    params: {
      batch: 2,
      inChannels: 4,
      outChannels: 6,
      inH: 6,
      inW: 7,
      kernel: 3,
      pad: 1,
      groups: 2,
    },
    flags: { bias: true, accumulate: false },
  },
  {
    name: "5×5 depthwise pad 2",
    params: {
      batch: 2,
      inChannels: 3,
      outChannels: 3,
      inH: 7,
      inW: 7,
      kernel: 5,
      pad: 2,
      groups: 3,
    },
    flags: { bias: true, accumulate: true },
  },
  {
    name: "3×3 depthwise, channel multiplier 2, stride 2",
    params: {
      batch: 2,
      inChannels: 3,
      outChannels: 6,
      inH: 8,
      inW: 7,
      kernel: 3,
      stride: 2,
      pad: 1,
      groups: 3,
    },
    flags: { bias: false, accumulate: false },
  },
  {
    name: "1×7 pad (0, 3)",
    params: {
      batch: 1,
      inChannels: 5,
      outChannels: 3,
      inH: 6,
      inW: 11,
      kernel: [1, 7],
      pad: [0, 3],
    },
    flags: { bias: false, accumulate: false },
  },
  {
    name: "7×1 pad (3, 0), dilation (2, 1)",
    params: {
      batch: 2,
      inChannels: 3,
      outChannels: 4,
      inH: 13,
      inW: 5,
      kernel: [7, 1],
      pad: [3, 0],
      dilation: [2, 1],
    },
    flags: { bias: true, accumulate: true },
  },
  {
    name: "1×3 and 3×1 (pad 1 on one axis)",
    params: {
      batch: 2,
      inChannels: 4,
      outChannels: 4,
      inH: 5,
      inW: 6,
      kernel: [1, 3],
      pad: [0, 1],
    },
    flags: { bias: false, accumulate: true },
  },
  {
    name: "3×1 pad (1, 0)",
    params: {
      batch: 2,
      inChannels: 4,
      outChannels: 4,
      inH: 6,
      inW: 5,
      kernel: [3, 1],
      pad: [1, 0],
    },
    flags: { bias: true, accumulate: false },
  },
  {
    name: "7×7 pad 3, stride 2",
    params: {
      batch: 1,
      inChannels: 2,
      outChannels: 4,
      inH: 11,
      inW: 9,
      kernel: 7,
      stride: 2,
      pad: 3,
    },
    flags: { bias: false, accumulate: false },
  },
  {
    name: "1×1 stride 2",
    params: { batch: 2, inChannels: 4, outChannels: 8, inH: 8, inW: 8, kernel: 1, stride: 2 },
    flags: { bias: true, accumulate: false },
  },
  {
    name: "1×1 pad 1 (output larger than input)",
    params: { batch: 1, inChannels: 3, outChannels: 5, inH: 4, inW: 5, kernel: 1, pad: 1 },
    flags: { bias: false, accumulate: true },
  },
  // ResNeXt's grouped 3×3 (AnyNet): several channels per group, in multiples of 4 (vector loads).
  {
    name: "3×3 stride 2 groups 4, 4 channels per group, 16→16",
    params: {
      batch: 2,
      inChannels: 16,
      outChannels: 16,
      inH: 8,
      inW: 8,
      kernel: 3,
      stride: 2,
      pad: 1,
      groups: 4,
    },
    flags: { bias: false, accumulate: true },
  },
  {
    name: "3×3 groups 2, 16 channels per group, 32→32",
    params: {
      batch: 1,
      inChannels: 32,
      outChannels: 32,
      inH: 6,
      inW: 6,
      kernel: 3,
      pad: 1,
      groups: 2,
    },
    flags: { bias: false, accumulate: false },
  },
];

for (const deviceClass of ["cpu", "gpu"] as const) {
  const name = `conv2d forward, data and weight gradients match float64 reference (${deviceClass})`;
  Deno.test(name, async () => {
    await withBench(async (bench) => {
      const rng = new Rng(`conv2d ${deviceClass}`);
      for (const c of CASES) {
        const s = conv2dShape(c.params);
        const io = randomInputs(s, rng, c.flags.bias);
        await runAndCompare(bench, deviceClass, s, io, reference(s, io), c.flags, c.name);
      }
    });
  });
}

/** Cases with groups, stride 2, dilation, bias, accumulate and 1×1 (tests of the options). */
const VARIANT_CASES = [
  "3×3 stride 2 pad 1, 9×7",
  "3×3 dilation 2 pad 2",
  "3×3 groups 2",
  "3×3 depthwise, channel multiplier 2, stride 2",
  "1×1 stride 2",
  "3×3 stride 2 groups 4, 4 channels per group, 16→16",
  "3×3 groups 2, 16 channels per group, 32→32",
].map((name) => CASES.find((c) => c.name === name)!);

for (const deviceClass of ["cpu", "gpu"] as const) {
  Deno.test(`conv2d ihwo weights match oihw in all three passes (${deviceClass})`, async () => {
    await withBench(async (bench) => {
      const rng = new Rng(`conv2d layouts ${deviceClass}`);
      for (const c of VARIANT_CASES) {
        const s = conv2dShape(c.params);
        const io = randomInputs(s, rng, c.flags.bias);
        const expected = reference(s, io);
        const a = await runAndCompare(bench, deviceClass, s, io, expected, c.flags, c.name);
        const b = await runAndCompare(bench, deviceClass, s, io, expected, c.flags, c.name, {
          layout: "ihwo",
          relu: false,
        });
        // Same inputs, same priors: the two layouts agree to f32 summation-order rounding.
        const terms = termCounts(s);
        assertClose(b.y, a.y, tolerance(terms.forward), `${c.name} y ihwo vs oihw`);
        assertClose(b.dx, a.dx, tolerance(terms.data), `${c.name} dx ihwo vs oihw`);
        assertClose(b.dw, a.dw, tolerance(terms.weight), `${c.name} dw ihwo vs oihw`);
      }
    });
  });

  Deno.test(`conv2d reluInput: conv of relu(x), dx masked by x > 0 (${deviceClass})`, async () => {
    await withBench(async (bench) => {
      const rng = new Rng(`conv2d relu ${deviceClass}`);
      for (const [i, c] of VARIANT_CASES.entries()) {
        const s = conv2dShape(c.params);
        const io = randomInputs(s, rng, c.flags.bias);
        const variant: Variant = { layout: i % 2 ? "ihwo" : "oihw", relu: true };
        // Accumulation into dx (several consumers of one ReLU) is exercised both ways.
        const flags = {
          ...c.flags,
          accumulate: i % 3 === 0 ? !c.flags.accumulate : c.flags.accumulate,
        };
        await runAndCompare(
          bench,
          deviceClass,
          s,
          io,
          reference(s, io, true),
          flags,
          c.name,
          variant,
        );
      }
    });
  });
}

/** Shapes on which the weights can be read in every way the direct kernel knows. */
const SOURCE_CASES: { name: string; params: Conv2dParams; flags: Flags }[] = [
  {
    name: "3×3 8→8 (vec4 weights along either channel axis)",
    params: { batch: 1, inChannels: 8, outChannels: 8, inH: 6, inW: 8, kernel: 3, pad: 1 },
    flags: { bias: true, accumulate: false },
  },
  {
    name: "1×1 8→8 (unrolled reduced channels)",
    params: { batch: 2, inChannels: 8, outChannels: 8, inH: 4, inW: 8, kernel: 1 },
    flags: { bias: false, accumulate: true },
  },
  {
    name: "3×3 stride 2 groups 2, 6→10 (f32 weights)",
    params: {
      batch: 1,
      inChannels: 6,
      outChannels: 10,
      inH: 7,
      inW: 8,
      kernel: 3,
      stride: 2,
      pad: 1,
      groups: 2,
    },
    flags: { bias: false, accumulate: true },
  },
];

/** Case, weight source and variant: together, every way the direct kernel reads weights. */
const SOURCE_RUNS = [
  { c: 1, source: "direct", variant: { layout: "ihwo", relu: false } }, // vec4 along Cout / Cout
  { c: 1, source: "direct", variant: { layout: "oihw", relu: true } }, // vec4 along Cin / Cin
  { c: 2, source: "direct", variant: { layout: "oihw", relu: false } }, // f32
  { c: 0, source: "scratch", variant: { layout: "oihw", relu: true } }, // vec4
  { c: 2, source: "scratch", variant: { layout: "ihwo", relu: false } }, // f32
  // Uniform bindings (weights a multiple of 4 floats, at most 64 KiB): forward vec4 along Cout /
  // data vec4 along Cout, forward vec4 along Cin / data vec4 along Cin, f32 both ways.
  { c: 1, source: "uniform", variant: { layout: "ihwo", relu: false } },
  { c: 1, source: "uniform", variant: { layout: "oihw", relu: true } },
  { c: 0, source: "uniform", variant: { layout: "oihw", relu: false } },
  { c: 0, source: "uniform", variant: { layout: "ihwo", relu: true } },
] as const;

Deno.test("conv2d reads weights in place or transposed, in every vector mode (cpu)", async () => {
  const bench = await KernelBench.create();
  const seen = new Set<string>();
  try {
    const rng = new Rng("conv2d sources");
    for (const { c: index, source, variant } of SOURCE_RUNS) {
      const c = SOURCE_CASES[index];
      const s = conv2dShape(c.params);
      const io = randomInputs(s, rng, c.flags.bias);
      const expected = reference(s, io, variant.relu);
      const forced = { ...variant, weightSource: source };
      await runAndCompare(bench, "cpu", s, io, expected, c.flags, c.name, forced);
      // The launches that just ran read the forced source too: a copy is one more launch.
      const o = { weightLayout: variant.layout, weightSource: source };
      const ctx = { deviceClass: "cpu" as const, scratch: () => "scratch" };
      const launches = {
        forward: conv2dForward(ctx, s, { x: "x", w: "w", y: "y" }, o),
        data: conv2dBackwardData(ctx, s, { dy: "dy", w: "w", dx: "dx" }, o),
      };
      for (const pass of ["forward", "data"] as const) {
        const plan = conv2dPlan(s, pass, "cpu", o);
        if (plan.weights !== source) throw new Error(`forced ${source}, got ${plan.weights}`);
        if (launches[pass].length !== plan.launches) {
          throw new Error(`${pass}: ${launches[pass].length} launches, planned ${plan.launches}`);
        }
        seen.add(`${pass} ${plan.weights} ${plan.weightVector}`);
      }
    }
  } finally {
    bench.dispose();
  }
  for (const pass of ["forward", "data"]) {
    for (
      const mode of [
        "direct dst",
        "direct loop",
        "direct none",
        "scratch dst",
        "scratch none",
        "uniform dst",
        "uniform loop",
        "uniform none",
      ]
    ) {
      if (!seen.has(`${pass} ${mode}`)) {
        throw new Error(`${pass} never ran with weights ${mode}: ${[...seen].join("; ")}`);
      }
    }
  }
});

Deno.test("conv2d at a GenNAS shape uses its large blocks and matches the reference", async () => {
  await withBench(async (bench) => {
    // 16→16 at 8×8, batch 8: the "cpu" plan picks the blocking benchmarked at GenNAS shapes, so
    // the big unrolled specialisations (and their vec4 weight and dy loads) are exercised too.
    const s = conv2dShape({
      batch: 8,
      inChannels: 16,
      outChannels: 16,
      inH: 8,
      inW: 8,
      kernel: 3,
      pad: 1,
    });
    const plan = conv2dPlan(s, "forward", "cpu");
    if (plan.ocb * plan.rows * plan.cols < 128) {
      throw new Error(`expected a large forward block, got ${JSON.stringify(plan)}`);
    }
    const io = randomInputs(s, new Rng("gennas shape"), true);
    await runAndCompare(
      bench,
      "cpu",
      s,
      io,
      reference(s, io),
      { bias: true, accumulate: false },
      "16→16 8²",
    );
    // As the graph calls it: ihwo weights, ReLU fused into the input, gradients accumulated.
    await runAndCompare(
      bench,
      "cpu",
      s,
      io,
      reference(s, io, true),
      { bias: false, accumulate: true },
      "16→16 8²",
      { layout: "ihwo", relu: true },
    );
    // ihwo: the forward reads the weights in place (one launch).
    const symbolic: LaunchContext<number> = { scratch: () => 0, deviceClass: "cpu" };
    const launches = conv2dForward(symbolic, s, { x: 0, w: 0, y: 0 }, { weightLayout: "ihwo" });
    if (launches.length !== 1) throw new Error(`ihwo forward: ${launches.length} launches`);
  });
});

Deno.test("convertWeightLayout permutes oihw ⇄ ihwo (groups too) and round-trips", () => {
  const s = conv2dShape({
    batch: 1,
    inChannels: 6,
    outChannels: 4,
    inH: 5,
    inW: 5,
    kernel: [3, 2],
    groups: 2,
  });
  const cin = 3;
  const w = randomArray(new Rng("layout"), 4 * cin * 3 * 2);
  const ihwo = convertWeightLayout(w, s, "oihw", "ihwo");
  for (let co = 0; co < 4; co++) {
    for (let ci = 0; ci < cin; ci++) {
      for (let ky = 0; ky < 3; ky++) {
        for (let kx = 0; kx < 2; kx++) {
          const a = w[((co * cin + ci) * 3 + ky) * 2 + kx];
          const b = ihwo[((ci * 3 + ky) * 2 + kx) * 4 + co];
          if (a !== b) throw new Error(`w[${co}][${ci}][${ky}][${kx}]: ${a} vs ihwo ${b}`);
        }
      }
    }
  }
  const back = convertWeightLayout(ihwo, s, "ihwo", "oihw");
  if (back.some((v, i) => v !== w[i])) throw new Error("oihw → ihwo → oihw is not the identity");
  const same = convertWeightLayout(w, s, "oihw", "oihw");
  if (same === w || same.some((v, i) => v !== w[i])) throw new Error("same layout: a copy");
  let message = "";
  try {
    convertWeightLayout(w.subarray(1), s, "oihw", "ihwo");
  } catch (e) {
    message = (e as Error).message;
  }
  if (!/expected 72 weights/.test(message)) throw new Error(`wrong size: "${message}"`);
});

Deno.test("conv2dBackwardData with reluInput requires the forward input x", () => {
  const s = conv2dShape({ batch: 1, inChannels: 4, outChannels: 4, inH: 4, inW: 4, kernel: 1 });
  const ctx: LaunchContext<number> = { scratch: () => 0, deviceClass: "cpu" };
  let message = "";
  try {
    conv2dBackwardData(ctx, s, { dy: 0, w: 0, dx: 0 }, { reluInput: true });
  } catch (e) {
    message = (e as Error).message;
  }
  if (!/needs io\.x/.test(message)) throw new Error(`expected an error, got "${message}"`);
});

interface GoldenCase {
  name: string;
  batch: number;
  in_channels: number;
  out_channels: number;
  in_h: number;
  in_w: number;
  kernel: [number, number];
  stride: [number, number];
  pad: [number, number];
  dilation: [number, number];
  groups: number;
  /** The convolution reads relu(x); dx is with respect to x before the ReLU. */
  relu: boolean;
  x: number[];
  w: number[];
  b: number[] | null;
  dy: number[];
  y: number[];
  dx: number[];
  dw: number[];
  dbias: number[];
}

Deno.test("conv2d matches PyTorch golden values (fixtures/golden/conv2d.json)", async () => {
  await withBench(async (bench) => {
    // Both weight layouts, alternately (relu cases: one each).
    for (const [index, g] of (golden.cases as unknown as GoldenCase[]).entries()) {
      const s = conv2dShape({
        batch: g.batch,
        inChannels: g.in_channels,
        outChannels: g.out_channels,
        inH: g.in_h,
        inW: g.in_w,
        kernel: g.kernel,
        stride: g.stride,
        pad: g.pad,
        dilation: g.dilation,
        groups: g.groups,
      });
      const io: Inputs = {
        x: Float32Array.from(g.x),
        w: Float32Array.from(g.w),
        bias: g.b ? Float32Array.from(g.b) : undefined,
        dy: Float32Array.from(g.dy),
      };
      const expected = { y: g.y, dx: g.dx, dw: g.dw, dbias: g.b ? g.dbias : undefined };
      const flags = { bias: g.b !== null, accumulate: false };
      const layout = index % 2 ? "ihwo" : "oihw";
      const what = `golden ${g.name}`;
      const variant = { layout, relu: g.relu } as const;
      await runAndCompare(bench, bench.gpu.deviceClass, s, io, expected, flags, what, variant);
    }
  });
});

Deno.test("conv2dShape validates and normalises; output size and FLOPs", () => {
  const s = conv2dShape({
    batch: 16,
    inChannels: 16,
    outChannels: 32,
    inH: 32,
    inW: 32,
    kernel: 3,
    stride: 2,
    pad: 1,
  });
  if (s.kernelW !== 3 || s.strideH !== 2 || s.padW !== 1 || s.dilationH !== 1 || s.groups !== 1) {
    throw new Error(`bad normalisation ${JSON.stringify(s)}`);
  }
  const out = conv2dOutputSize(s);
  if (out.outH !== 16 || out.outW !== 16) throw new Error(`output ${JSON.stringify(out)}`);
  if (conv2dFlops(s) !== 2 * 16 * 32 * 16 * 9 * 16 * 16) throw new Error("flops");
  const bad: [Conv2dParams, RegExp][] = [
    [{ batch: 1, inChannels: 3, outChannels: 4, inH: 8, inW: 8, kernel: 3, groups: 2 }, /groups/],
    [{ batch: 1, inChannels: 4, outChannels: 4, inH: 8, inW: 8, kernel: 0 }, /kernelH/],
    [{ batch: 1, inChannels: 4, outChannels: 4, inH: 8, inW: 8, kernel: 3, pad: -1 }, /padH/],
    [
      { batch: 1, inChannels: 4, outChannels: 4, inH: 8, inW: 8, kernel: 3, stride: [1, 1.5] },
      /strideW/,
    ],
    [{ batch: 1, inChannels: 4, outChannels: 4, inH: 2, inW: 8, kernel: 5 }, /output/],
  ];
  for (const [params, pattern] of bad) {
    let message = "";
    try {
      conv2dShape(params);
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      message = e.message;
    }
    if (!pattern.test(message)) {
      throw new Error(`expected ${pattern} for ${JSON.stringify(params)}: "${message}"`);
    }
  }
});

Deno.test("estimatePeakGflops reads cores, clock and SIMD flags from cpuinfo", () => {
  const entry = (i: number) =>
    `processor\t: ${i}\nmodel name\t: Test CPU\ncpu MHz\t\t: 2000.000\n` +
    "flags\t\t: fpu sse2 avx avx2 fma\n";
  const peak = peakFromCpuinfo(`${entry(0)}\n${entry(1)}\n`);
  if (peak.gflops !== 2 * 2000 * 32 / 1000) throw new Error(`peak ${JSON.stringify(peak)}`);
  if (!Number.isNaN(peakFromCpuinfo("").gflops)) throw new Error("empty cpuinfo must give NaN");
});
