/**
 * Per-kernel time of one GenNAS training iteration, from GPU timestamp queries (each dispatch in
 * its own compute pass, so the figures include per-pass overhead but not host encoding).
 *
 *   deno run -A bench/profile.ts [--space nb201|nb101|nbnlp|…] [--arch ARCH] [--init-channels N]
 *     [--batch 16] [--task TASK] [--nlp-unfused] [--width-scale F] [--conv-blocks compact]
 *
 * Any space and task `gennas score` takes (the space's default task and optimizer when not given).
 */
import { benchArgs } from "./args.ts";
import { prepareProxy } from "../src/proxy/run.ts";
import { compileProxy } from "../src/proxy/score.ts";

const { values } = benchArgs({
  options: {
    space: { type: "string", default: "nb201" },
    arch: { type: "string" },
    "init-channels": { type: "string" },
    batch: { type: "string", default: "16" },
    task: { type: "string" },
    "nlp-unfused": { type: "boolean", default: false },
    "width-scale": { type: "string" },
    "conv-blocks": { type: "string", default: "large" },
  },
}, `deno run -A bench/profile.ts [--space nb201|nb101|nbnlp|…] [--arch ARCH] [--init-channels N]`);
const { gpu, space, task, settings } = await prepareProxy({
  space: values.space!,
  task: values.task,
  settings: {
    initChannels: values["init-channels"] ? Number(values["init-channels"]) : undefined,
    batch: Number(values.batch),
    nlpUnfused: values["nlp-unfused"],
    ...(values["width-scale"] ? { widthScale: Number(values["width-scale"]) } : {}),
    convBlocks: values["conv-blocks"] as "large" | "compact",
  },
});
if (!gpu.device.features.has("timestamp-query")) throw new Error("adapter lacks timestamp-query");
const arch = space.parse(values.arch ?? space.example);
const graph = await compileProxy(gpu, space, arch, task, settings, { seed: 1, maxIterations: 100 });

const list = graph.dispatches.train;
const device = gpu.device;
const querySet = device.createQuerySet({ type: "timestamp", count: list.length * 2 });
const resolveBuffer = device.createBuffer({
  size: list.length * 16,
  usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
});
const readBuffer = device.createBuffer({
  size: list.length * 16,
  usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
});

// Whole-iteration wall time with the normal recorder (one pass, one submit).
graph.train(3);
await device.queue.onSubmittedWorkDone();
const t0 = performance.now();
graph.train(10);
await device.queue.onSubmittedWorkDone();
const iterationMs = (performance.now() - t0) / 10;

/** Kernel family: conv kernels by pass, kernel size and stride; others by entry name. */
function family(label: string): string {
  const conv = label.match(/^conv2d_(fwd|bwd_data|bwd_weight)_.*?_k(\d+x\d+)_s(\d+x\d+)/);
  if (conv) return `conv2d_${conv[1]} ${conv[2]}${conv[3] === "1x1" ? "" : ` stride ${conv[3]}`}`;
  return label.replace(/_vec4$/, "");
}

/** Forward / data-gradient / weight-gradient conv, BN, elementwise+pool+layout, loss, optimizer. */
function category(label: string, index: number): string {
  const p = graph.phases;
  if (index >= p.backward) return "optimizer (+ step counter)";
  if (index >= p.forward && index < p.loss) return "loss";
  if (label.startsWith("bn_")) return "batch norm (fwd + bwd)";
  if (label.startsWith("conv2d_bwd_weight") || label.startsWith("conv2d_reduce")) {
    return "conv weight-gradient";
  }
  if (label.startsWith("conv2d_")) {
    return index < p.forward ? "conv forward" : "conv data-gradient";
  }
  return "elementwise / pool / layout (fwd + bwd)";
}

const families = new Map<string, { ms: number; count: number }>();
const categories = new Map<string, { ms: number; count: number }>();
const add = (map: typeof families, key: string, ms: number) => {
  const entry = map.get(key) ?? { ms: 0, count: 0 };
  entry.ms += ms;
  entry.count += 1;
  map.set(key, entry);
};
const REPS = 3;
for (let rep = 0; rep < REPS; rep++) {
  const encoder = device.createCommandEncoder();
  list.forEach((d, i) => {
    const pass = encoder.beginComputePass({
      timestampWrites: {
        querySet,
        beginningOfPassWriteIndex: 2 * i,
        endOfPassWriteIndex: 2 * i + 1,
      },
    });
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
    pass.end();
  });
  encoder.resolveQuerySet(querySet, 0, list.length * 2, resolveBuffer, 0);
  encoder.copyBufferToBuffer(resolveBuffer, 0, readBuffer, 0, list.length * 16);
  device.queue.submit([encoder.finish()]);
  await readBuffer.mapAsync(GPUMapMode.READ);
  const stamps = new BigUint64Array(readBuffer.getMappedRange().slice(0));
  readBuffer.unmap();
  if (rep === 0) continue; // warm-up
  list.forEach((d, i) => {
    const ms = Number(stamps[2 * i + 1] - stamps[2 * i]) / 1e6 / (REPS - 1);
    add(families, family(d.label), ms);
    add(categories, category(d.label, i), ms);
  });
}
const sum = [...families.values()].reduce((a, b) => a + b.ms, 0);
console.log(
  `${space.name} ${space.format(arch)}\n${list.length} dispatches per iteration; ` +
    `iteration ${iterationMs.toFixed(1)} ms wall (one pass), ${
      sum.toFixed(1)
    } ms summed over kernels (one pass each)`,
);
const print = (title: string, map: typeof families) => {
  console.log(`\n${title}`);
  for (const [name, e] of [...map].sort((a, b) => b[1].ms - a[1].ms)) {
    console.log(
      `${name.padEnd(42)} ${e.ms.toFixed(2).padStart(8)} ms ${
        (100 * e.ms / sum).toFixed(1).padStart(5)
      } %  ${e.count / (REPS - 1)} launches`,
    );
  }
};
print("by category", categories);
print("by kernel family", families);
graph.destroy();
