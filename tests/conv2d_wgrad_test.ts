/**
 * The weight gradient's vec4 x gathers: when x rows and the unit's column step are multiples of 4
 * columns, x is read as aligned vec4 groups whatever the padding, stride or dilation; edges and
 * padding must still read zeros. 1×1 weight gradients take up to 16 input channels per block on
 * the "cpu" tilings (fewer loads per FMA).
 */
import assert from "node:assert/strict";
import type { LaunchContext } from "../src/gpu/kernel.ts";
import { conv2dBackwardWeight, type Conv2dParams, conv2dShape } from "../src/kernels/conv2d/mod.ts";
import { chooseWeight } from "../src/kernels/conv2d/plan.ts";
import { Rng } from "../src/util/rng.ts";
import { withBench } from "./support/gpu.ts";
import { type Flags, randomInputs, reference, runAndCompare } from "./support/conv2d.ts";

const CASES: { name: string; params: Conv2dParams; flags: Flags; relu: boolean; icb?: number }[] = [
  {
    name: "1×1 32→16 at 8×8, 16 input channels per block",
    params: { batch: 2, inChannels: 32, outChannels: 16, inH: 8, inW: 8, kernel: 1 },
    flags: { bias: false, accumulate: true },
    relu: true,
    icb: 16,
  },
  {
    name: "1×1 12→8 at 8×8 (align 0)",
    params: { batch: 2, inChannels: 12, outChannels: 8, inH: 8, inW: 8, kernel: 1 },
    flags: { bias: true, accumulate: false },
    relu: true,
  },
  {
    name: "3×3 pad 1 at 8×12 (align 3: groups over the left padding)",
    params: { batch: 2, inChannels: 5, outChannels: 6, inH: 8, inW: 12, kernel: 3, pad: 1 },
    flags: { bias: false, accumulate: true },
    relu: false,
  },
  {
    name: "5×5 pad 2, 16×16 (align 2)",
    params: { batch: 1, inChannels: 4, outChannels: 4, inH: 16, inW: 16, kernel: 5, pad: 2 },
    flags: { bias: true, accumulate: true },
    relu: true,
  },
  {
    name: "3×3 stride 2 pad 1, 16×16",
    params: {
      batch: 2,
      inChannels: 4,
      outChannels: 8,
      inH: 16,
      inW: 16,
      kernel: 3,
      stride: 2,
      pad: 1,
    },
    flags: { bias: false, accumulate: false },
    relu: true,
  },
  {
    name: "3×3 dilation 2 pad 2, 8×8, depthwise",
    params: {
      batch: 2,
      inChannels: 8,
      outChannels: 8,
      inH: 8,
      inW: 8,
      kernel: 3,
      pad: 2,
      dilation: 2,
      groups: 8,
    },
    flags: { bias: false, accumulate: false },
    relu: false,
  },
];

for (const deviceClass of ["cpu", "gpu"] as const) {
  Deno.test(`conv2d weight gradient with vec4 x gathers matches float64 (${deviceClass})`, async () => {
    await withBench(async (bench) => {
      const rng = new Rng(`conv2d wgrad x4 ${deviceClass}`);
      for (const c of CASES) {
        const s = conv2dShape(c.params);
        const plan = chooseWeight(s, deviceClass, c.flags.bias).structure;
        if (plan.xAlign < 0) throw new Error(`${c.name}: expected vec4 x gathers, got f32`);
        if (deviceClass === "cpu" && c.icb && plan.icb !== c.icb) {
          throw new Error(`${c.name}: expected ${c.icb} input channels per block, got ${plan.icb}`);
        }
        const io = randomInputs(s, rng, c.flags.bias);
        await runAndCompare(
          bench,
          deviceClass,
          s,
          io,
          reference(s, io, c.relu),
          c.flags,
          c.name,
          { layout: "ihwo", relu: c.relu },
        );
      }
    });
  });
}

Deno.test("conv2d weight gradient keeps f32 x gathers when x rows are not whole vec4s", () => {
  const s = conv2dShape({ batch: 1, inChannels: 4, outChannels: 4, inH: 7, inW: 9, kernel: 3 });
  const plan = chooseWeight(s, "cpu", false).structure;
  if (plan.xAlign !== -1) throw new Error(`9-column rows: xAlign ${plan.xAlign}`);
});

Deno.test("split-K partials are summed over vec4s when dw is whole vec4s, else over f32s", async () => {
  const names = (s: ReturnType<typeof conv2dShape>) => {
    const ctx: LaunchContext<string> = { scratch: () => "scratch", deviceClass: "cpu" };
    return conv2dBackwardWeight(ctx, s, { dy: "dy", x: "x", dw: "dw", dbias: "db" }, {})
      .map((l) => l.kernel.name);
  };
  // dw 4·8·9 = 288 floats (72 vec4s) against 5·6·9 = 270.
  const shapes = [
    conv2dShape({ batch: 2, inChannels: 8, outChannels: 4, inH: 16, inW: 16, kernel: 3, pad: 1 }),
    conv2dShape({ batch: 2, inChannels: 6, outChannels: 5, inH: 16, inW: 16, kernel: 3, pad: 1 }),
  ];
  assert.equal(names(shapes[0]).at(-1), "conv2d_reduce_bias_vec4");
  assert.equal(names(shapes[1]).at(-1), "conv2d_reduce_bias");
  await withBench(async (bench) => {
    const rng = new Rng("conv2d split-K widths");
    for (const [i, s] of shapes.entries()) {
      const io = randomInputs(s, rng, true);
      await runAndCompare(
        bench,
        "cpu",
        s,
        io,
        reference(s, io, false),
        { bias: true, accumulate: i === 0 },
        `split-K ${i}`,
        { layout: "ihwo", relu: false },
      );
    }
  });
});

Deno.test("weight-gradient partials are stored four output channels at a time only where dw has them innermost", () => {
  const kernel = (params: Conv2dParams, layout: "ihwo" | "oihw", deviceClass: "cpu" | "gpu") => {
    const ctx: LaunchContext<string> = { scratch: () => "scratch", deviceClass };
    const s = conv2dShape(params);
    return conv2dBackwardWeight(ctx, s, { dy: "dy", x: "x", dw: "dw", dbias: "db" }, {
      weightLayout: layout,
    })[0].kernel;
  };
  for (const deviceClass of ["cpu", "gpu"] as const) {
    // CASES[0] (1×1 32→16) and, under the "cpu" tilings, CASES[3] (5×5 4→4: o4; "gpu" takes o1)
    // run the vec4 stores in the float64 checks above; CASES[2] (6 output channels) and the
    // depthwise CASES[5] the f32 ones.
    const vector = (deviceClass === "cpu" ? [CASES[0], CASES[3]] : [CASES[0]])
      .map((c) => kernel(c.params, "ihwo", deviceClass));
    const scalar = [CASES[2], CASES[5]].map((c) => kernel(c.params, "ihwo", deviceClass));
    for (const k of vector) {
      assert.ok(k.name.endsWith("_s4"), `${deviceClass} ${k.name}: expected vec4 stores`);
      assert.match(k.source, /var<storage, read_write> partial: array<vec4f>/);
      assert.match(k.source, /store_bias_partial\(w, 0u, vec4f\(b0, b1, b2, b3\)\)/);
    }
    for (const k of scalar) {
      assert.ok(!k.name.endsWith("_s4"), `${deviceClass} ${k.name}: expected f32 stores`);
      assert.match(k.source, /var<storage, read_write> partial: array<f32>/);
    }
    // The PyTorch layout has the output channel outermost: f32 stores.
    assert.ok(!kernel(CASES[0].params, "oihw", deviceClass).name.endsWith("_s4"));
  }
});

Deno.test("weight gradients that differ only in channels and batch share one kernel, with their sizes as uniforms", () => {
  const ctx: LaunchContext<string> = { scratch: () => "scratch", deviceClass: "cpu" };
  const launch = (batch: number, inChannels: number, outChannels: number) =>
    conv2dBackwardWeight(
      ctx,
      conv2dShape({ batch, inChannels, outChannels, inH: 16, inW: 16, kernel: 3, pad: 1 }),
      { dy: "dy", x: "x", dw: "dw" },
      { weightLayout: "ihwo", block: { ocb: 16, icb: 2, rows: 1, cols: 8 } },
    )[0];
  const [a, b] = [launch(16, 32, 48), launch(64, 40, 32)];
  assert.equal(a.kernel.name, b.kernel.name);
  assert.equal(a.kernel.source, b.kernel.source);
  // Workgroup size follows the invocation count; everything else in the key is the same.
  const { WG: _wa, ...ca } = a.kernel.constants!;
  const { WG: _wb, ...cb } = b.kernel.constants!;
  assert.deepEqual(ca, cb);
  assert.equal(a.uniforms?.binding, 4);
  // Dims: N, CIN, COUT, CPG_IN, CPG_OUT, … in conv2d_wgrad.wgsl's field order.
  assert.deepEqual(a.uniforms?.values.slice(0, 5), [16, 32, 48, 32, 48]);
  assert.deepEqual(b.uniforms?.values.slice(0, 5), [64, 40, 32, 40, 32]);
  assert.match(a.kernel.source, /var<uniform> dims: Dims;/);
});
