/**
 * The scoring half of bench/gpu-check.sh: scores the NB-201 archs of a fixture at paper settings
 * (task combo, built-in images, seed 0, 100 iterations, batch 16, 16 init channels) on whatever
 * adapter this is, prints seconds per arch and per iteration, dispatches and submits per
 * iteration, and checks each loss against the fixture's (lavapipe) value within its tolerance.
 *
 *   deno run -A bench/gpu_check.ts [--per-submit 10] [--limit N] [--fixture FILE]
 *   deno run -A bench/gpu_check.ts --write-fixture [--from-journal FILE] [--limit K]
 *     writes the fixture: the 20 NB-201 archs of bench/vs_pytorch (needs ../shared/data) with the
 *     losses of the journal's gennas records at these settings, scoring here those it lacks (with
 *     --limit, only K evenly spaced of the 20 get a reference loss; the others stay null and are
 *     timed but not checked). Resumes: losses already in the fixture are kept.
 */
import { parseArgs } from "node:util";
import { describeGpu } from "../src/gpu/device.ts";
import { prepareProxy } from "../src/proxy/run.ts";
import { scoreArch } from "../src/proxy/score.ts";
import { benchArchs, evenlySpaced } from "./vs_pytorch/archs.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    fixture: { type: "string", default: "fixtures/gpu-check/nb201-lavapipe.json" },
    "per-submit": { type: "string", default: "0" },
    limit: { type: "string" },
    "write-fixture": { type: "boolean", default: false },
    "from-journal": { type: "string" },
  },
});

interface Fixture {
  description: string;
  settings: { task: string; images: string; seed: number; iterations: number; batch: number };
  /** |loss − reference| ≤ relative · |reference| passes. */
  tolerance: { relative: number };
  adapter: string;
  archs: { arch: string; loss: number | null; seconds: number | null }[];
}

/** First, last, middle, then the middles of the halves, and so on. */
function spreadOrder<T>(items: readonly T[]): T[] {
  if (items.length <= 2) return [...items];
  const order = [items[0], items[items.length - 1]];
  let spans: [number, number][] = [[0, items.length - 1]];
  while (spans.length) {
    const next: [number, number][] = [];
    for (const [lo, hi] of spans) {
      if (hi - lo < 2) continue;
      const mid = (lo + hi) >> 1;
      order.push(items[mid]);
      next.push([lo, mid], [mid, hi]);
    }
    spans = next;
  }
  return order;
}

const SETTINGS = { iterations: 100, batch: 16, initChannels: 16, seed: 0 };
const TOLERANCE = 0.02;
const perSubmit = Number(values["per-submit"]);
const ctx = await prepareProxy({
  space: "nb201",
  task: "combo",
  settings: { ...SETTINGS, iterationsPerSubmit: perSubmit },
});
const info = describeGpu(ctx.gpu);
const score = async (arch: string, iterations = SETTINGS.iterations) =>
  await scoreArch(ctx.gpu, ctx.space, ctx.space.parse(arch), ctx.task, {
    ...ctx.settings,
    iterations,
  });

if (values["write-fixture"]) {
  const dataDir = Deno.env.get("GENNAS_DATA") ??
    new URL("../../shared/data/", import.meta.url).pathname;
  const journal = new Map<string, { loss: number; seconds: number }>();
  if (values["from-journal"]) {
    for (const line of Deno.readTextFileSync(values["from-journal"]).split("\n")) {
      if (!line.trim()) continue;
      const r = JSON.parse(line);
      const same = r.space === "nb201" && r.engine === "gennas" && r.iters === 100 &&
        r.batch === 16 && r.init_channels === 16;
      if (same) journal.set(r.arch, { loss: r.loss, seconds: r.seconds });
    }
  }
  try { // resume: keep the references an earlier (stopped) run wrote
    const earlier = JSON.parse(Deno.readTextFileSync(values.fixture!)) as Fixture;
    for (const a of earlier.archs) {
      if (a.loss !== null) journal.set(a.arch, { loss: a.loss, seconds: a.seconds ?? NaN });
    }
  } catch { /* no fixture yet */ }
  const list = (await benchArchs(dataDir)).nb201;
  const archs: Fixture["archs"] = list.map((a) => {
    const known = journal.get(a.arch);
    return { arch: a.arch, loss: known?.loss ?? null, seconds: known?.seconds ?? null };
  });
  const fixture: Fixture = {
    description: "bench/gpu_check.ts --write-fixture: NB-201 losses on lavapipe ('cpu' tilings), " +
      "task combo, built-in procedural images, seed 0, 100 iterations, batch 16, 16 init channels",
    settings: { task: "combo", images: "built-in", seed: 0, iterations: 100, batch: 16 },
    tolerance: { relative: TOLERANCE },
    adapter: info.adapter,
    archs,
  };
  const write = () =>
    Deno.writeTextFileSync(values.fixture!, JSON.stringify(fixture, null, 1) + "\n");
  // Ends and middle first, so a run stopped early still spans light to heavy; the file is
  // rewritten after every score.
  const chosen = evenlySpaced(list.map((_, i) => i), values.limit ? Number(values.limit) : 20);
  for (const i of spreadOrder(chosen)) {
    if (archs[i].loss !== null) continue;
    const r = await score(list[i].arch);
    archs[i] = { arch: list[i].arch, loss: r.loss, seconds: Number(r.seconds.toFixed(2)) };
    write();
    console.error(`#${i} ${r.loss.toPrecision(6)} ${r.seconds.toFixed(1)} s ${list[i].arch}`);
  }
  write();
  console.log(`wrote ${values.fixture}`);
  Deno.exit(0);
}

const fixture = JSON.parse(Deno.readTextFileSync(values.fixture!)) as Fixture;
const archs = values.limit ? evenlySpaced(fixture.archs, Number(values.limit)) : fixture.archs;
const effectivePerSubmit = perSubmit || (ctx.gpu.deviceClass === "gpu" ? 10 : 1);
console.log(
  `\n${archs.length} NB-201 archs, ${SETTINGS.iterations} iterations, device class ` +
    `${ctx.gpu.deviceClass}, ${effectivePerSubmit} iterations per submit; reference: ` +
    `${fixture.adapter}, tolerance ${100 * fixture.tolerance.relative} % relative`,
);
let failures = 0, checked = 0;
const seconds: number[] = [];
for (const [i, a] of archs.entries()) {
  const cold = await score(a.arch, 1); // compiles this arch's pipelines (untimed)
  const r = await score(a.arch);
  seconds.push(r.seconds);
  const submits = Math.ceil(SETTINGS.iterations / effectivePerSubmit) / SETTINGS.iterations;
  const rel = a.loss === null ? NaN : Math.abs(r.loss - a.loss) / Math.abs(a.loss);
  const ok = a.loss === null || rel <= fixture.tolerance.relative;
  if (!ok) failures++;
  if (a.loss !== null) checked++;
  console.log(
    `${String(i).padStart(2)} ${r.seconds.toFixed(3).padStart(8)} s/arch ` +
      `${(1000 * r.seconds / SETTINGS.iterations).toFixed(2).padStart(8)} ms/iter ` +
      `${String(r.graph.dispatchesPerIteration).padStart(4)} dispatches/iter ` +
      `${submits.toFixed(2)} submits/iter  loss ${r.loss.toPrecision(6)} ${
        a.loss === null
          ? "(no lavapipe reference)"
          : `vs ${a.loss.toPrecision(6)} (${(100 * rel).toFixed(3)} %) ${ok ? "ok" : "MISMATCH"}`
      }  [first call ${cold.seconds.toFixed(2)} s]  ${a.arch}`,
  );
}
seconds.sort((a, b) => a - b);
console.log(
  `\nadapter ${info.adapter}: median ${seconds[seconds.length >> 1].toFixed(3)} s per arch, ` +
    `total ${seconds.reduce((s, x) => s + x, 0).toFixed(1)} s; ` +
    `${checked - failures}/${checked} checked losses within ${
      100 * fixture.tolerance.relative
    } % of lavapipe`,
);
if (failures) Deno.exit(1);
