/**
 * What compiling a network's graph costs before it trains (not in CI): pipelines created per
 * kernel family, the time spent in createShaderModule / createComputePipeline, and the process's
 * RSS before compiling, after it and after the first iteration, split (on Linux) into malloc's
 * heap, other anonymous memory and JIT code (README, "Memory"), and how many of the new forward
 * and data-gradient pipelines differ from earlier ones only in their channel constants.
 *
 *   deno run -A bench/pipeline_cost.ts [--space nb201] [--arch ARCH]… [--batch 16] [--init-channels N]
 *
 * Several --arch compile one after the other in one process, as a `rank` does: later ones reuse
 * the pipelines of earlier ones (the pipeline cache is per device), so their counts show what a
 * new architecture adds. RSS attributed per family is not printed: freed memory is reused, so
 * only totals compare.
 */
import { benchArgs } from "./args.ts";
import { prepareProxy } from "../src/proxy/run.ts";
import { compileProxy } from "../src/proxy/score.ts";

const { values } = benchArgs(
  {
    options: {
      space: { type: "string", default: "nb201" },
      arch: { type: "string", multiple: true },
      batch: { type: "string", default: "16" },
      "init-channels": { type: "string" },
    },
  },
  `deno run -A bench/pipeline_cost.ts [--space nb201] [--arch ARCH]… [--batch 16] [--init-channels N]`,
);
const mib = () => Deno.memoryUsage().rss / 2 ** 20;

/**
 * Resident MiB of malloc's main heap, of other anonymous read-write mappings (thread arenas,
 * buffers) and of anonymous executable ones (JIT code), from /proc/self/smaps (Linux only).
 */
function residentSplit(): string {
  let text: string;
  try {
    text = Deno.readTextFileSync("/proc/self/smaps");
  } catch {
    return "";
  }
  const kib = { heap: 0, anon: 0, code: 0 };
  let into: keyof typeof kib | undefined;
  for (const line of text.split("\n")) {
    const head = line.match(/^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/);
    if (head) {
      const [perms, path] = [head[1], head[2]];
      into = path === "[heap]"
        ? "heap"
        : path !== ""
        ? undefined
        : perms.includes("x")
        ? "code"
        : "anon";
      continue;
    }
    const rss = line.match(/^Rss:\s+(\d+) kB/);
    if (rss && into) kib[into] += Number(rss[1]);
  }
  const f = (k: number) => (k / 1024).toFixed(0);
  return ` [heap ${f(kib.heap)}, other anonymous ${f(kib.anon)}, JIT code ${f(kib.code)}]`;
}
const { gpu, space, task, settings } = await prepareProxy({
  space: values.space!,
  settings: {
    batch: Number(values.batch),
    ...(values["init-channels"] ? { initChannels: Number(values["init-channels"]) } : {}),
  },
});

/** Kernel family of a pipeline label: conv kernels by pass, the rest by name, digits folded. */
const family = (label: string) => label.replace(/_o\d.*$/, "").replace(/\d+/g, "#");
const created = new Map<string, { count: number; ms: number }>();
let moduleMs = 0;

/**
 * The override constants of the forward and data-gradient kernels that follow from channel counts
 * and batch (shaders/conv2d_direct.wgsl; the workgroup size, which follows from them too, has to
 * stay a constant). Keys without them count the pipelines those kernels would share if, like the
 * weight gradient, they read these at run time.
 */
const CHANNEL_CONSTANTS = new Set([
  "N",
  "IN_C",
  "OUT_C",
  "CPG_LOOP",
  "CPG_OUTCH",
  "BPG",
  "BLOCKS",
  "W_GROUP",
  "W_LOOP",
  "W_TAP",
  "W_CH",
  "W_CH_LAST",
]);
const channelFreeSeen = new Set<string>();
let direct = { created: 0, channelFreeNew: 0 };
const device = gpu.device as GPUDevice & Record<string, unknown>;
const createPipeline = device.createComputePipeline.bind(device);
device.createComputePipeline = (d: GPUComputePipelineDescriptor) => {
  const t0 = performance.now();
  const pipeline = createPipeline(d);
  const entry = created.get(family(d.label ?? "")) ?? { count: 0, ms: 0 };
  entry.count++;
  entry.ms += performance.now() - t0;
  created.set(family(d.label ?? ""), entry);
  if (/^conv2d_(fwd|bwd_data)_/.test(d.label ?? "")) {
    const c = d.compute.constants ?? {};
    const kept = Object.keys(c).filter((k) => !CHANNEL_CONSTANTS.has(k)).sort();
    const key = `${d.label}|${kept.map((k) => `${k}=${c[k]}`).join(",")}`;
    direct.created++;
    if (!channelFreeSeen.has(key)) direct.channelFreeNew++;
    channelFreeSeen.add(key);
  }
  return pipeline;
};
const createModule = device.createShaderModule.bind(device);
device.createShaderModule = (d: GPUShaderModuleDescriptor) => {
  const t0 = performance.now();
  const module = createModule(d);
  moduleMs += performance.now() - t0;
  return module;
};

for (const text of values.arch ?? [space.example]) {
  created.clear();
  moduleMs = 0;
  direct = { created: 0, channelFreeNew: 0 };
  const arch = space.parse(text);
  const [rss0, split0, t0] = [mib(), residentSplit(), performance.now()];
  const graph = await compileProxy(gpu, space, arch, task, settings, { seed: 1, maxIterations: 2 });
  const [rss1, split1, t1] = [mib(), residentSplit(), performance.now()];
  graph.train(1);
  await gpu.device.queue.onSubmittedWorkDone();
  const [rss2, split2, t2] = [mib(), residentSplit(), performance.now()];
  const pipelines = [...created.values()].reduce((a, b) => a + b.count, 0);
  const pipelineMs = [...created.values()].reduce((a, b) => a + b.ms, 0);
  console.log(`${space.name} ${space.format(arch)}`);
  console.log(
    `  compile ${(t1 - t0).toFixed(0)} ms: ${pipelines} new pipelines in ` +
      `${pipelineMs.toFixed(0)} ms, shader modules ${moduleMs.toFixed(0)} ms; ` +
      `first iteration ${(t2 - t1).toFixed(0)} ms`,
  );
  console.log(
    `  RSS ${rss0.toFixed(0)} → ${rss1.toFixed(0)} MiB compiled → ${rss2.toFixed(0)} MiB ` +
      `after one iteration (${JSON.stringify(graph.stats.transientBytes / 2 ** 20 | 0)} MiB ` +
      `transient buffers)`,
  );
  if (split0) console.log(`  resident MiB:${split0} →${split1} →${split2}`);
  console.log(
    `  ${direct.created} new forward/data-gradient pipelines, ${direct.channelFreeNew} of them ` +
      `new without their channel constants`,
  );
  for (const [name, e] of [...created].sort((a, b) => b[1].ms - a[1].ms).slice(0, 6)) {
    console.log(`    ${String(e.count).padStart(4)} × ${name.padEnd(32)} ${e.ms.toFixed(0)} ms`);
  }
  graph.destroy();
}
Deno.exit(0);
