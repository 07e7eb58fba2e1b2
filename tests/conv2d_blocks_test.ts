import {
  type Conv2dBlock,
  type Conv2dParams,
  conv2dPlan,
  conv2dShape,
} from "../src/kernels/conv2d/mod.ts";
import { directCandidates, weightCandidates } from "../src/kernels/conv2d/plan.ts";
import { Rng } from "../src/util/rng.ts";
import { withBench } from "./support/gpu.ts";
import { randomInputs, reference, runAndCompare } from "./support/conv2d.ts";
import { runCli } from "./support/cli.ts";
import { DEFAULT_PROXY_SETTINGS, validateProxySettings } from "../src/proxy/settings.ts";
import assert from "node:assert/strict";

/** A GenNAS NB-201 shape and NDS-like ones (separable depthwise 5×5, dilated, 1×1, stride 2). */
const SHAPES: { name: string; params: Conv2dParams }[] = [
  {
    name: "16→16 8², batch 8",
    params: { batch: 8, inChannels: 16, outChannels: 16, inH: 8, inW: 8, kernel: 3, pad: 1 },
  },
  {
    name: "depthwise 5×5 12 ch 10²",
    params: {
      batch: 2,
      inChannels: 12,
      outChannels: 12,
      inH: 10,
      inW: 10,
      kernel: 5,
      pad: 2,
      groups: 12,
    },
  },
  {
    name: "depthwise 3×3 dilation 2, stride 2, 8 ch 9²",
    params: {
      batch: 2,
      inChannels: 8,
      outChannels: 8,
      inH: 9,
      inW: 9,
      kernel: 3,
      pad: 2,
      dilation: 2,
      stride: 2,
      groups: 8,
    },
  },
  {
    name: "1×1 24→20 6²",
    params: { batch: 3, inChannels: 24, outChannels: 20, inH: 6, inW: 6, kernel: 1 },
  },
];

Deno.test("compact conv blocks stay within their caps and are smaller than the large ones", () => {
  let smaller = 0;
  for (const c of SHAPES) {
    const s = conv2dShape(c.params);
    for (const device of ["cpu", "gpu"] as const) {
      for (const pass of ["forward", "data", "weight"] as const) {
        const compact = conv2dPlan(s, pass, device, { blocks: "compact" });
        const large = conv2dPlan(s, pass, device);
        // Weight pass: the dw block is held; direct passes: the output block (a lower bound
        // for the data pass, whose block spans the stride phases).
        const accumulators = pass === "weight"
          ? compact.ocb * compact.icb * s.kernelH * s.kernelW
          : compact.ocb * compact.rows * compact.cols;
        const smallest = compact.ocb * compact.icb * compact.rows * compact.cols === 1;
        if (!smallest && (compact.fmas > 300 || accumulators > 48)) {
          throw new Error(`${c.name} ${device} ${pass}: compact plan ${JSON.stringify(compact)}`);
        }
        if (compact.fmas > large.fmas) {
          throw new Error(`${c.name} ${device} ${pass}: compact unrolls more than large`);
        }
        if (compact.fmas < large.fmas) smaller++;
      }
    }
  }
  // The "cpu" caps (2400 FMAs) exceed the compact ones on these shapes: the option must bite.
  if (smaller < 4) throw new Error(`compact plans smaller on only ${smaller} shape/pass pairs`);
});

for (const deviceClass of ["cpu", "gpu"] as const) {
  Deno.test(`compact conv blocks match the float64 reference in all passes (${deviceClass})`, async () => {
    await withBench(async (bench) => {
      const rng = new Rng(`conv2d compact ${deviceClass}`);
      for (const [i, c] of SHAPES.entries()) {
        const s = conv2dShape(c.params);
        const bias = i % 2 === 0;
        const io = randomInputs(s, rng, bias);
        const relu = i % 2 === 1;
        await runAndCompare(
          bench,
          deviceClass,
          s,
          io,
          reference(s, io, relu),
          { bias, accumulate: i === 3 },
          `${c.name} compact`,
          { layout: i < 2 ? "ihwo" : "oihw", relu, blocks: "compact" },
        );
      }
    });
  });
}

Deno.test("gennas score --conv-blocks compact: same score to rounding, reported; bad values exit 2", async () => {
  const arch = "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|";
  const quick = ["--arch", arch, "--iters", "2", "--batch", "2", "--init-channels", "4", "--json"];
  const json = async (args: string[]) => {
    const r = await runCli(["score", ...quick, ...args]);
    assert.deepEqual(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  const large = await json([]);
  const compact = await json(["--conv-blocks", "compact"]);
  assert.deepEqual(large.convBlocks, undefined);
  assert.deepEqual(compact.convBlocks, "compact");
  const rel = Math.abs(compact.loss - large.loss) / Math.abs(large.loss);
  assert(rel < 1e-4, `compact ${compact.loss} vs large ${large.loss}`);

  const bad = await runCli(["score", ...quick, "--conv-blocks", "tiny"]);
  assert.deepEqual(bad.code, 2, bad.stderr);
  assert(
    /--conv-blocks "tiny" is not known; allowed: .*large.*compact/.test(bad.stderr),
    bad.stderr,
  );
  assert(!/\n\s+at /.test(bad.stderr), `a stack trace leaked: ${bad.stderr}`);
});

Deno.test("--conv-blocks large is the default: validated settings drop it (journal hashes stay)", () => {
  const large = validateProxySettings({ ...DEFAULT_PROXY_SETTINGS, convBlocks: "large" });
  assert.deepEqual(large, validateProxySettings({ ...DEFAULT_PROXY_SETTINGS }));
  assert(!("convBlocks" in large));
  const compact = validateProxySettings({ ...DEFAULT_PROXY_SETTINGS, convBlocks: "compact" });
  assert.deepEqual(compact.convBlocks, "compact");
});

Deno.test("the planner's choice is its cheapest candidate; a forced block is planned as given", () => {
  for (const c of SHAPES) {
    const s = conv2dShape(c.params);
    for (const device of ["cpu", "gpu"] as const) {
      const w = weightCandidates(s, device, false)[0].structure;
      const plan = conv2dPlan(s, "weight", device);
      assert.deepEqual([plan.ocb, plan.icb, plan.rows, plan.cols], [w.ocb, w.icb, w.rows, w.cols]);
      for (const pass of ["forward", "data"] as const) {
        const d = directCandidates(s, pass, device, "oihw", undefined)[0];
        const p = conv2dPlan(s, pass, device);
        assert.deepEqual(
          [p.ocb, p.kb, p.rows, p.cols, p.weights],
          [d.structure.ocb, d.structure.kb, d.structure.rows, d.structure.cols, d.source],
        );
      }
    }
  }
  const s = conv2dShape(SHAPES[0].params);
  // Beyond the "cpu" caps (32 · 16 · 9 · 8 weight-gradient FMAs): a forced block is not capped.
  const big: Conv2dBlock = { ocb: 32, icb: 16, kb: 1, rows: 2, cols: 4, source: "scratch" };
  for (const pass of ["forward", "data", "weight"] as const) {
    const p = conv2dPlan(s, pass, "cpu", { block: big });
    assert.deepEqual([p.ocb, p.rows, p.cols], [32, 2, 4]);
    if (pass === "weight") assert.equal(p.icb, 16);
    else assert.equal(p.weights, "scratch");
  }
  // kb > 1 runs only for 1×1 kernels.
  assert.throws(
    () => conv2dPlan(s, "forward", "cpu", { block: { ocb: 4, kb: 2, rows: 1, cols: 4 } }),
    /blocking .* does not fit/,
  );
});

for (const deviceClass of ["cpu", "gpu"] as const) {
  Deno.test(`forced conv blocks match the float64 reference in all passes (${deviceClass})`, async () => {
    await withBench(async (bench) => {
      const rng = new Rng(`conv2d forced ${deviceClass}`);
      const blocks: Conv2dBlock[] = [
        { ocb: 4, icb: 2, kb: 1, rows: 2, cols: 2, source: "direct" },
        { ocb: 8, icb: 4, kb: 1, rows: 1, cols: 4, source: "scratch" },
      ];
      for (const [i, c] of SHAPES.entries()) {
        const s = conv2dShape(c.params);
        const io = randomInputs(s, rng, i % 2 === 0);
        await runAndCompare(
          bench,
          deviceClass,
          s,
          io,
          reference(s, io, false),
          { bias: i % 2 === 0, accumulate: false },
          `${c.name} forced`,
          { layout: "ihwo", relu: false, block: blocks[i % 2] },
        );
      }
    });
  });
}
