/**
 * conv2d throughput at GenNAS shapes (batch 16, 3×3 stride 1 pad 1): (a) 16→16 at 32²,
 * (b) 32→32 at 16², (c) 64→64 at 8², forward, data gradient and weight gradient, with weights in
 * PyTorch's layout ("oihw", the default) and in the layout the graph keeps them in ("ihwo"); plus
 * the 1×1 convolutions at the same shapes, three 1×1 shapes of the NDS cell networks and a
 * stride-2 3×3 (16→32, 32²→16²) for information.
 * The "launches" column counts the dispatches of each pass.
 *
 *   deno run -A bench/conv2d_bench.ts [filter]   (only cases whose name contains filter)
 *
 * GENNAS_DEVICE_CLASS=gpu benches the "gpu" tiling.
 *
 * Each run submits many dispatches at once and waits once (a wait costs ≈ 11 ms on lavapipe);
 * GFLOP/s are the median and best of RUNS runs after a warm-up. "cpu-time" divides by the
 * process's CPU seconds per core instead of wall time, which hides other load on the machine.
 */
import process from "node:process";
import { acquireGpu, type Gpu } from "../src/gpu/device.ts";
import { BufferAllocator } from "../src/gpu/buffers.ts";
import type { BufferSlice, Launch, LaunchContext } from "../src/gpu/kernel.ts";
import { bindLaunch, Recorder } from "../src/gpu/recorder.ts";
import {
  conv2dBackwardData,
  conv2dBackwardWeight,
  type Conv2dBlock,
  conv2dFlops,
  conv2dForward,
  conv2dOutputSize,
  type Conv2dPass,
  conv2dPlan,
  type Conv2dShape,
  conv2dShape,
  type WeightLayout,
} from "../src/kernels/conv2d/mod.ts";
import { estimatePeakGflops } from "./peak.ts";
import { Rng } from "../src/util/rng.ts";
import { median } from "../src/eval/metrics.ts";

export interface BenchRow {
  name: string;
  gflopsMedian: number;
  gflopsBest: number;
  msMedian: number;
  target?: number;
}

export interface Measured extends BenchRow {
  cpuTimeGflopsMedian: number;
  plan: string;
  launches: number;
}

const RUNS = 9;
/** Minimum wall time of one run, so the per-submit wait is amortised. */
const RUN_MS = 150;

export interface Case {
  name: string;
  shape: Conv2dShape;
  pass: Conv2dPass;
  /** A blocking instead of the planner's (bench/tune_conv.ts). */
  block?: Conv2dBlock;
  /** The weight gradient also computes dbias. */
  bias?: boolean;
  /**
   * Distinct sets of inputs and outputs, launched in turn (default 1): with enough of them every
   * launch reads its operands from memory rather than from the caches, as in a whole network.
   */
  sets?: number;
  layout: WeightLayout;
  target?: number;
}

function gennasShape(channels: number, size: number, kernel = 3): Conv2dShape {
  return conv2dShape({
    batch: 16,
    inChannels: channels,
    outChannels: channels,
    inH: size,
    inW: size,
    kernel,
    pad: kernel === 3 ? 1 : 0,
  });
}

function cases(): Case[] {
  const shapes = [
    { label: "(a) 16→16 32²", shape: gennasShape(16, 32), fwd: 20 },
    { label: "(b) 32→32 16²", shape: gennasShape(32, 16), fwd: undefined },
    { label: "(c) 64→64 8²", shape: gennasShape(64, 8), fwd: 30 },
  ];
  const out: Case[] = [];
  for (const layout of ["oihw", "ihwo"] as const) {
    for (const { label, shape, fwd } of shapes) {
      out.push({ name: `fwd 3×3 ${label} ${layout}`, shape, pass: "forward", layout, target: fwd });
      out.push({
        name: `data-grad 3×3 ${label} ${layout}`,
        shape,
        pass: "data",
        layout,
        target: 15,
      });
      out.push({
        name: `weight-grad 3×3 ${label} ${layout}`,
        shape,
        pass: "weight",
        layout,
        target: 15,
      });
    }
  }
  for (const [channels, size] of [[16, 32], [32, 16], [64, 8]]) {
    const shape = gennasShape(channels, size, 1);
    const label = `1×1 ${channels}→${channels} ${size}²`;
    out.push({ name: `fwd ${label} oihw`, shape, pass: "forward", layout: "oihw" });
    out.push({ name: `fwd ${label} ihwo`, shape, pass: "forward", layout: "ihwo" });
    out.push({ name: `data-grad ${label} ihwo`, shape, pass: "data", layout: "ihwo" });
    out.push({ name: `weight-grad ${label} ihwo`, shape, pass: "weight", layout: "ihwo" });
  }
  // The 1×1 convs of the NDS cell networks at full width (preprocessing of a 4-node concat,
  // and within a cell), for information.
  for (const [inC, outC, size] of [[192, 48, 32], [48, 48, 32], [96, 96, 16]]) {
    const shape = conv2dShape({
      batch: 16,
      inChannels: inC,
      outChannels: outC,
      inH: size,
      inW: size,
      kernel: 1,
    });
    const label = `1×1 ${inC}→${outC} ${size}² (NDS)`;
    out.push({ name: `fwd ${label} ihwo`, shape, pass: "forward", layout: "ihwo" });
    out.push({ name: `data-grad ${label} ihwo`, shape, pass: "data", layout: "ihwo" });
    out.push({ name: `weight-grad ${label} ihwo`, shape, pass: "weight", layout: "ihwo" });
  }
  const stride2 = conv2dShape({
    batch: 16,
    inChannels: 16,
    outChannels: 32,
    inH: 32,
    inW: 32,
    kernel: 3,
    stride: 2,
    pad: 1,
  });
  for (const pass of ["forward", "data", "weight"] as const) {
    out.push({ name: `${pass} 3×3 s2 16→32 32²→16² ihwo`, shape: stride2, pass, layout: "ihwo" });
  }
  return out;
}

function randomSlice(alloc: BufferAllocator, rng: Rng, n: number): BufferSlice {
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = rng.uniform() * 2 - 1;
  return alloc.upload(data, "bench input");
}

function launchesFor(
  c: Case,
  ctx: LaunchContext<BufferSlice>,
  alloc: BufferAllocator,
  rng: Rng,
): Launch<BufferSlice>[] {
  const s = c.shape;
  const { outH, outW } = conv2dOutputSize(s);
  const xSize = s.batch * s.inChannels * s.inH * s.inW;
  const ySize = s.batch * s.outChannels * outH * outW;
  const wSize = s.outChannels * (s.inChannels / s.groups) * s.kernelH * s.kernelW;
  const w = randomSlice(alloc, rng, wSize);
  const o = { weightLayout: c.layout, block: c.block };
  if (c.pass === "forward") {
    return conv2dForward(ctx, s, {
      x: randomSlice(alloc, rng, xSize),
      w,
      y: alloc.slice(ySize, "y"),
    }, o);
  }
  const dy = randomSlice(alloc, rng, ySize);
  if (c.pass === "data") {
    return conv2dBackwardData(ctx, s, { dy, w, dx: alloc.slice(xSize, "dx") }, o);
  }
  return conv2dBackwardWeight(ctx, s, {
    dy,
    x: randomSlice(alloc, rng, xSize),
    dw: alloc.slice(wSize, "dw"),
    ...(c.bias ? { dbias: alloc.slice(s.outChannels, "dbias") } : {}),
  }, o);
}

async function timeSubmit(
  gpu: Gpu,
  recorder: Recorder,
  list: readonly ReturnType<typeof bindLaunch>[],
) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  recorder.submit(list);
  await gpu.device.queue.onSubmittedWorkDone();
  const cpu = process.cpuUsage(cpu0);
  return { ms: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 };
}

/** Logical CPUs lavapipe can use (its thread count), for the cpu-time column. */
function cpuCount(): number {
  return navigator.hardwareConcurrency || 1;
}

export async function measure(gpu: Gpu, c: Case): Promise<Measured> {
  const alloc = new BufferAllocator(gpu.device);
  try {
    const recorder = new Recorder(gpu);
    const rng = new Rng(`bench ${c.name}`);
    const ctx: LaunchContext<BufferSlice> = {
      scratch: (floats: number, label: string) => alloc.slice(floats, label),
      deviceClass: gpu.deviceClass,
    };
    const sets = c.sets ?? 1;
    const dispatches = Array.from({ length: sets }, () => launchesFor(c, ctx, alloc, rng))
      .flat().map((l) => bindLaunch(gpu, l));
    await gpu.pipelines.verify();
    await timeSubmit(gpu, recorder, dispatches); // JIT and first touch
    const probe = await timeSubmit(gpu, recorder, Array(4).fill(dispatches).flat());
    const repeats = Math.max(4, Math.ceil(RUN_MS / Math.max(0.05, probe.ms / 4)));
    const list = Array(repeats).fill(dispatches).flat();
    const flops = conv2dFlops(c.shape);
    const wall: number[] = [];
    const cpu: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const t = await timeSubmit(gpu, recorder, list);
      wall.push(t.ms / repeats / sets);
      cpu.push(t.cpuMs / cpuCount() / repeats / sets);
    }
    const plan = conv2dPlan(c.shape, c.pass, gpu.deviceClass, {
      weightLayout: c.layout,
      block: c.block,
      bias: c.bias,
    });
    return {
      name: c.name,
      gflopsMedian: flops / median(wall) / 1e6,
      gflopsBest: flops / Math.min(...wall) / 1e6,
      msMedian: median(wall),
      target: c.target,
      cpuTimeGflopsMedian: flops / median(cpu) / 1e6,
      plan: `o${plan.ocb} i${plan.icb} u${plan.kb} ${plan.rows}×${plan.cols} ` +
        `wg${plan.workgroupSize}` + (plan.chunks > 1 ? ` k/${plan.chunks}` : "") +
        (c.pass === "weight" ? "" : ` w:${plan.weights}/${plan.weightVector}`),
      launches: dispatches.length,
    };
  } finally {
    alloc.destroy();
  }
}

/** Measures every case (or those whose name contains `filter`). */
export async function benchConv2d(filter = ""): Promise<BenchRow[]> {
  const gpu = await acquireGpu();
  const rows: Measured[] = [];
  for (const c of cases()) if (c.name.includes(filter)) rows.push(await measure(gpu, c));
  return rows;
}

export function printTable(rows: readonly BenchRow[], deviceClass: string): void {
  const peak = estimatePeakGflops();
  console.log(
    `conv2d, device class "${deviceClass}"; peak estimate ${peak.gflops.toFixed(0)} ` +
      `GFLOP/s (${peak.detail})`,
  );
  const header = [
    "case",
    "GFLOP/s med",
    "best",
    "ms med",
    "cpu-time",
    "% peak",
    "target",
    "launches",
    "plan",
  ];
  const lines = rows.map((r) => {
    const m = r as Measured;
    const verdict = r.target === undefined
      ? ""
      : `${r.target} ${r.gflopsMedian >= r.target ? "ok" : "MISS"}`;
    return [
      r.name,
      r.gflopsMedian.toFixed(1),
      r.gflopsBest.toFixed(1),
      r.msMedian.toFixed(2),
      m.cpuTimeGflopsMedian?.toFixed(1) ?? "",
      Number.isFinite(peak.gflops) ? (100 * r.gflopsMedian / peak.gflops).toFixed(1) : "n/a",
      verdict,
      m.launches?.toString() ?? "",
      m.plan ?? "",
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const format = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ");
  console.log(format(header));
  for (const line of lines) console.log(format(line));
}

if (import.meta.main) {
  const gpu = await acquireGpu();
  printTable(await benchConv2d(Deno.args[0]), gpu.deviceClass);
}
