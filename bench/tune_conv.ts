/**
 * Measures the cost model's best candidate blockings of each conv pass on this adapter, beside
 * the model's own choice, and journals every figure (not in CI; "large" blocks, ihwo weights):
 *
 *   deno run -A bench/tune_conv.ts [--preset nbmacro|nds|nb201] [--shapes JSON] [--bias]
 *     [--passes forward,data,weight] [--top 8] [--out bench/results/tuning/NAME.jsonl]
 *
 * A shape is [inC, outC, H, W, kernel = 1, stride = 1, groups = 1] at batch 16 (pad k/2). Each of
 * the model's `top` cheapest candidates is measured once; the fastest, if not the model's own
 * choice, is measured twice more alternately with it, and flagged `faster` when the median of its
 * three runs is at least 10 % below the model's. The journal (one record per shape and pass, a
 * header with the settings) resumes: a rerun skips the pairs it holds. A check of the planner,
 * and on a new adapter the evidence to retune its device class from (README, "Is the planner the
 * bottleneck?").
 */
import { benchArgs } from "./args.ts";
import { dirname, join } from "node:path";
import { acquireGpu } from "../src/gpu/device.ts";
import { type Conv2dBlock, type Conv2dShape, conv2dShape } from "../src/kernels/conv2d/mod.ts";
import { directCandidates, weightCandidates } from "../src/kernels/conv2d/plan.ts";
import type { DeviceClass } from "../src/gpu/kernel.ts";
import { median } from "../src/eval/metrics.ts";
import { openJournal } from "../src/util/journal.ts";
import { type Case, measure } from "./conv2d_bench.ts";

const RESULTS = "bench/results/tuning";
const FASTER = 0.9;

const PASSES = ["forward", "data", "weight"] as const;
type Pass = typeof PASSES[number];

const PRESETS: Record<string, number[][]> = {
  // NAS-Bench-Macro at init_channels 32: the MBConv expand/project 1×1s of both expansions.
  nbmacro: [
    [32, 192, 32, 32],
    [192, 32, 32, 32],
    [32, 96, 32, 32],
    [96, 32, 32, 32],
    [192, 64, 16, 16],
    [96, 64, 16, 16],
    [64, 384, 16, 16],
    [384, 64, 16, 16],
    [64, 192, 16, 16],
    [384, 128, 8, 8],
    [192, 128, 8, 8],
    [128, 768, 8, 8],
    [768, 128, 8, 8],
    [128, 384, 8, 8],
    [128, 1280, 8, 8],
  ],
  // NDS cell networks at width 48 (DARTS-like `_in` cells at 32², reductions to 16² and 8²).
  nds: [
    [192, 48, 32, 32],
    [48, 48, 32, 32],
    [96, 96, 16, 16],
    [192, 96, 16, 16],
    [384, 96, 16, 16],
    [192, 192, 8, 8],
    [384, 192, 8, 8],
    [768, 192, 8, 8],
  ],
  // NB-201 at C = 16: the cells' 1×1 and 3×3 convs (bias convs: run with --bias).
  nb201: [
    [16, 16, 32, 32],
    [32, 32, 16, 16],
    [64, 64, 8, 8],
    [16, 16, 32, 32, 3],
    [32, 32, 16, 16, 3],
    [64, 64, 8, 8, 3],
  ],
};

interface Trial {
  block: Conv2dBlock;
  ms: number[];
}

interface TuneRecord {
  key: string;
  pass: Pass;
  shape: number[];
  model: Trial;
  fastest: Trial;
  faster: boolean;
  trials: Trial[];
  at: string;
}

function shapeKey(pass: Pass, s: Conv2dShape, bias: boolean): string {
  return `${pass}${pass === "weight" && bias ? " bias" : ""} n${s.batch} ` +
    `${s.inChannels}>${s.outChannels} ${s.inH}x${s.inW} k${s.kernelH}x${s.kernelW} ` +
    `s${s.strideH}x${s.strideW} g${s.groups}`;
}

function shapeOf([inC, outC, h, w, k = 1, stride = 1, groups = 1]: number[]): Conv2dShape {
  return conv2dShape({
    batch: 16,
    inChannels: inC,
    outChannels: outC,
    inH: h,
    inW: w,
    kernel: k,
    stride,
    pad: Math.floor(k / 2),
    groups,
  });
}

/** The model's `top` cheapest blockings, its own choice first (tests/conv2d_blocks_test.ts). */
function candidates(
  s: Conv2dShape,
  pass: Pass,
  bias: boolean,
  top: number,
  device: DeviceClass,
): Conv2dBlock[] {
  const blocks: Conv2dBlock[] = pass === "weight"
    ? weightCandidates(s, device, bias).map(({ structure: w }) => ({
      ocb: w.ocb,
      icb: w.icb,
      rows: w.rows,
      cols: w.cols,
    }))
    : directCandidates(s, pass, device, "ihwo", undefined).map((c) => ({
      ocb: c.structure.ocb,
      kb: c.structure.kb,
      rows: c.structure.rows,
      cols: c.structure.cols,
      source: c.source,
    }));
  return blocks.slice(0, top);
}

const show = (b: Conv2dBlock) =>
  `o${b.ocb}` + (b.icb ? ` i${b.icb}` : "") + (b.kb ? ` u${b.kb}` : "") + ` ${b.rows}×${b.cols}` +
  (b.source ? ` ${b.source}` : "");

async function tune(options: {
  shapes: number[][];
  passes: Pass[];
  bias: boolean;
  top: number;
  out: string;
}) {
  const gpu = await acquireGpu();
  const device = gpu.deviceClass;
  await Deno.mkdir(dirname(options.out), { recursive: true });
  const { journal, records } = await openJournal<TuneRecord>(options.out, "tune-conv", {
    device,
    bias: options.bias,
    top: options.top,
  });
  const done = new Set(records.map((r) => r.key));
  for (const raw of options.shapes) {
    const s = shapeOf(raw);
    for (const pass of options.passes) {
      const key = shapeKey(pass, s, options.bias);
      if (done.has(key)) continue;
      const time = async (block: Conv2dBlock) => {
        const c: Case = { name: key, shape: s, pass, layout: "ihwo", block, bias: options.bias };
        return (await measure(gpu, c)).msMedian;
      };
      const trials: Trial[] = [];
      for (const block of candidates(s, pass, options.bias, options.top, device)) {
        trials.push({ block, ms: [await time(block)] });
      }
      const own = trials[0];
      const fastest = trials.reduce((a, b) => (b.ms[0] < a.ms[0] ? b : a));
      if (fastest !== own) {
        for (let round = 0; round < 2; round++) {
          own.ms.push(await time(own.block));
          fastest.ms.push(await time(fastest.block));
        }
      }
      const faster = fastest !== own && median(fastest.ms) <= FASTER * median(own.ms);
      const at = new Date().toISOString();
      await journal.append({ key, pass, shape: raw, model: own, fastest, faster, trials, at });
      console.log(
        `${key}: model ${show(own.block)} ${median(own.ms).toFixed(2)} ms · fastest ` +
          `${show(fastest.block)} ${median(fastest.ms).toFixed(2)} ms` +
          (faster ? ` → ${(median(own.ms) / median(fastest.ms)).toFixed(2)}× faster` : ""),
      );
    }
  }
}

if (import.meta.main) {
  const { values } = benchArgs({
    options: {
      preset: { type: "string" },
      shapes: { type: "string" },
      passes: { type: "string", default: "forward,data,weight" },
      bias: { type: "boolean", default: false },
      top: { type: "string", default: "8" },
      out: { type: "string" },
    },
  }, `deno run -A bench/tune_conv.ts [--preset nbmacro|nds|nb201] [--shapes JSON] [--bias]`);
  const shapes = values.shapes ? JSON.parse(values.shapes) : PRESETS[values.preset ?? ""];
  if (!shapes) {
    console.error(`tune_conv: --preset must be one of ${Object.keys(PRESETS).join(", ")}`);
    Deno.exit(2);
  }
  const passes = values.passes!.split(",");
  const unknown = passes.filter((p) => !(PASSES as readonly string[]).includes(p));
  if (unknown.length) {
    console.error(`tune_conv: --passes takes ${PASSES.join(", ")}, got ${unknown.join(", ")}`);
    Deno.exit(2);
  }
  if (!(Number.isInteger(Number(values.top)) && Number(values.top) >= 1)) {
    console.error(`tune_conv: --top must be an integer ≥ 1, got ${values.top}`);
    Deno.exit(2);
  }
  await tune({
    shapes,
    passes: passes as Pass[],
    bias: values.bias!,
    top: Number(values.top),
    out: values.out ?? join(RESULTS, `${values.preset ?? "shapes"}.jsonl`),
  });
}
