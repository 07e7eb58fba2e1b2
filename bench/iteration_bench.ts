/**
 * Whole training iterations (noise, forward, loss, backward, SGD, step counter in one submit):
 * a plain conv stack at GenNAS shapes, the largest NB-201 cell and the NB-101 example cell, at
 * the paper's settings (batch 16, 16 init channels). Also the memory saved by buffer reuse.
 *
 *   deno run -A bench/iteration_bench.ts
 */
import { acquireGpu, type Gpu } from "../src/gpu/device.ts";
import { GraphBuilder } from "../src/graph/builder.ts";
import { type CompiledGraph, compileGraph } from "../src/graph/compile.ts";
import { conv2dFlops, conv2dShape } from "../src/kernels/conv2d/mod.ts";
import { loadImageSet } from "../src/data/images.ts";
import { compileProxy } from "../src/proxy/score.ts";
import { DEFAULT_PROXY_SETTINGS } from "../src/proxy/settings.ts";
import { prepareTask } from "../src/proxy/task.ts";
import { getSpace } from "../src/spaces/index.ts";
import { PRESETS } from "../src/tasks/presets.ts";
import type { Tensor } from "../src/graph/tensor.ts";
import { Rng } from "../src/util/rng.ts";

export interface IterationRow {
  name: string;
  msMedian: number;
  msBest: number;
  gflopPerIteration: number;
  dispatches: number;
  transientMiB: number;
  unsharedMiB: number;
}

const SGD = { kind: "sgd" as const, lr: 0.1, momentum: 0.9, weightDecay: 4e-5 };

/** stem + 3 stages of two conv3×3-BN-ReLU (16@32², 32@16², 64@8²), one 1×1 head, MSE. */
function convStack(): { g: GraphBuilder; inputs: [Tensor, Float32Array][]; flops: number } {
  const g = new GraphBuilder();
  const x = g.input("x", [16, 3, 32, 32]);
  let flops = 0;
  const conv = (name: string, h: Tensor, out: number, k: number) => {
    flops += conv2dFlops(conv2dShape({
      batch: h.n,
      inChannels: h.c,
      outChannels: out,
      inH: h.h,
      inW: h.w,
      kernel: k,
      pad: (k - 1) / 2,
    }));
    return g.conv2d(name, h, { outChannels: out, kernel: k, pad: (k - 1) / 2, bias: false });
  };
  let h = g.batchNorm("stem.bn", conv("stem", x, 16, 3), { affine: true, track: true, relu: true });
  for (const [stage, channels] of [16, 32, 64].entries()) {
    if (stage > 0) h = g.maxPool(`pool${stage}`, h, { kernel: 2, stride: 2, pad: 0 });
    for (let i = 0; i < 2; i++) {
      const c = conv(`s${stage}.${i}`, h, channels, 3);
      h = g.batchNorm(`s${stage}.${i}.bn`, c, { affine: true, track: true, relu: true });
    }
  }
  const out = conv("head", g.batchNorm("head.bn", h, { affine: true, track: true }), 64, 1);
  const target = g.input("target", out.shape);
  g.mseLoss([{ output: out, target, trainWeight: 1, evalWeight: 1 }]);
  const rng = new Rng(1);
  const random = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
  // Forward + data gradient + weight gradient ≈ 3 × forward (the stem's data gradient is skipped).
  return { g, inputs: [[x, random(x.size)], [target, random(target.size)]], flops: 3 * flops };
}

async function time(
  gpu: Gpu,
  graph: CompiledGraph,
  name: string,
  gflop: number,
): Promise<IterationRow> {
  graph.train(2);
  await gpu.device.queue.onSubmittedWorkDone();
  const runs: number[] = [];
  for (let r = 0; r < 7; r++) {
    const start = performance.now();
    graph.train(5);
    await gpu.device.queue.onSubmittedWorkDone();
    runs.push((performance.now() - start) / 5);
  }
  runs.sort((a, b) => a - b);
  return {
    name,
    msMedian: runs[3],
    msBest: runs[0],
    gflopPerIteration: gflop,
    dispatches: graph.stats.dispatchesPerIteration,
    transientMiB: graph.stats.transientBytes / 2 ** 20,
    unsharedMiB: graph.stats.unsharedTransientBytes / 2 ** 20,
  };
}

export async function benchIterations(): Promise<IterationRow[]> {
  const gpu = await acquireGpu();
  const rows: IterationRow[] = [];
  const stack = convStack();
  const stackGraph = await compileGraph(gpu, stack.g, {
    optimizer: SGD,
    seed: 1,
    maxIterations: 64,
  });
  for (const [t, data] of stack.inputs) stackGraph.write(t, data);
  rows.push(await time(gpu, stackGraph, "conv stack (7 conv3×3 + heads)", stack.flops / 1e9));
  stackGraph.destroy();

  const settings = { ...DEFAULT_PROXY_SETTINGS };
  const task = prepareTask("combo", PRESETS.combo, await loadImageSet(undefined), settings);
  for (const [spaceName, gflop] of [["nb201", 21.2], ["nb101", 3.0]] as const) {
    const space = getSpace(spaceName);
    const arch = space.parse(space.example);
    const graph = await compileProxy(gpu, space, arch, task, settings, {
      seed: 1,
      maxIterations: 64,
    });
    // GFLOP per iteration from spec §11 (backbone + heads, forward + backward).
    rows.push(await time(gpu, graph, `${spaceName} example arch (GenNAS proxy)`, gflop));
    graph.destroy();
  }
  return rows;
}

export function printIterations(rows: readonly IterationRow[]): void {
  console.log("\nwhole training iterations (batch 16, one submit each)");
  const header = [
    "case",
    "ms med",
    "best",
    "GFLOP/iter",
    "GFLOP/s",
    "dispatches",
    "memory MiB (reuse / none)",
  ];
  const lines = rows.map((r) => [
    r.name,
    r.msMedian.toFixed(1),
    r.msBest.toFixed(1),
    r.gflopPerIteration.toFixed(2),
    (r.gflopPerIteration / (r.msMedian / 1000)).toFixed(1),
    String(r.dispatches),
    `${r.transientMiB.toFixed(1)} / ${r.unsharedMiB.toFixed(1)} (${
      (r.unsharedMiB / r.transientMiB).toFixed(1)
    }×)`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const format = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ");
  console.log(format(header));
  for (const line of lines) console.log(format(line));
}

if (import.meta.main) printIterations(await benchIterations());
