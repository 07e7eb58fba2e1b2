/**
 * The scoring half of bench/gpu-check.sh: scores the NB-201 archs of a fixture at paper settings
 * (task combo, built-in images, seed 0, 100 iterations, batch 16, 16 init channels) on whatever
 * adapter this is, prints seconds per arch and per iteration, dispatches and submits per
 * iteration, and checks (1) each arch's first training loss (the forward pass at the initial
 * weights, before any update) against the fixture's lavapipe value within 1e-5 relative, and (2)
 * the Kendall τ between the 100-iteration losses and lavapipe's over the archs ≥ 0.8. The losses
 * after 5 and 100 iterations are printed beside lavapipe's but not checked one by one: another
 * summation order moves them by up to ≈ 1 % after 5 iterations (the "gpu" tilings on lavapipe
 * itself) and ≈ 10 % after 100 (a rounding-level kernel change on lavapipe), since the backward
 * amplifies rounding (README, "On a real GPU").
 *
 *   deno run -A bench/gpu_check.ts [--per-submit 10] [--limit N] [--fixture FILE]
 *   deno run -A bench/gpu_check.ts --write-fixture [--from-journal FILE] [--limit K] [--refresh]
 *     writes the fixture: the 20 NB-201 archs of bench/vs_pytorch (needs ../shared/data) with
 *     their 5-iteration losses (all 20, cheap) and 100-iteration losses (from the journal's gennas
 *     records at these settings, else scored here; with --limit, only K evenly spaced of the 20
 *     get one, the others stay null and are timed but not compared). Resumes: losses already in
 *     the fixture are kept, but for --refresh, which rescores the 100-iteration ones.
 */
import { benchArgs } from "./args.ts";
import { describeGpu } from "../src/gpu/device.ts";
import { prepareProxy } from "../src/proxy/run.ts";
import { scoreArch } from "../src/proxy/score.ts";
import { kendallTauB } from "../src/eval/metrics.ts";
import { benchArchs, evenlySpaced } from "./vs_pytorch/archs.ts";

const { values } = benchArgs(
  {
    options: {
      fixture: { type: "string", default: "fixtures/gpu-check/nb201-lavapipe.json" },
      "per-submit": { type: "string", default: "0" },
      limit: { type: "string" },
      "write-fixture": { type: "boolean", default: false },
      "from-journal": { type: "string" },
      refresh: { type: "boolean", default: false },
    },
  },
  `deno run -A bench/gpu_check.ts [--per-submit 10] [--limit N] [--fixture FILE] | deno run -A bench/gpu_check.ts --write-fixture [--from-journal FILE] [--limit K] [--refresh]`,
);

interface Fixture {
  description: string;
  settings: {
    task: string;
    images: string;
    seed: number;
    iterations: number;
    batch: number;
    checkIterations: number;
  };
  /** |first − reference| ≤ first · |reference| and τ(100-iteration losses) ≥ tau pass. */
  tolerance: { first: number; tau: number };
  adapter: string;
  /**
   * first: the first training loss (before any update; checked); loss5, loss: after
   * `checkIterations` and `iterations` (shown; loss enters the τ check).
   */
  archs: {
    arch: string;
    loss: number | null;
    seconds: number | null;
    loss5: number | null;
    first: number | null;
  }[];
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
const CHECK_ITERATIONS = 5;
const FIRST_TOLERANCE = 1e-5;
const MIN_TAU = 0.8;
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
  const short = new Map<string, [number, number]>();
  try { // resume: keep the references an earlier (stopped) run wrote
    const earlier = JSON.parse(Deno.readTextFileSync(values.fixture!)) as Fixture;
    for (const a of earlier.archs) {
      if (a.loss !== null && !values.refresh) {
        journal.set(a.arch, { loss: a.loss, seconds: a.seconds ?? NaN });
      }
      if (typeof a.loss5 === "number" && typeof a.first === "number") {
        short.set(a.arch, [a.loss5, a.first]);
      }
    }
  } catch { /* no fixture yet */ }
  const list = (await benchArchs(dataDir)).nb201;
  const archs: Fixture["archs"] = list.map((a) => {
    const known = journal.get(a.arch);
    return {
      arch: a.arch,
      loss: known?.loss ?? null,
      seconds: known?.seconds ?? null,
      loss5: short.get(a.arch)?.[0] ?? null,
      first: short.get(a.arch)?.[1] ?? null,
    };
  });
  const fixture: Fixture = {
    description: "bench/gpu_check.ts --write-fixture: NB-201 losses on lavapipe ('cpu' tilings), " +
      "task combo, built-in procedural images, seed 0, 100 iterations, batch 16, 16 init channels",
    settings: {
      task: "combo",
      images: "built-in",
      seed: 0,
      iterations: 100,
      batch: 16,
      checkIterations: CHECK_ITERATIONS,
    },
    tolerance: { first: FIRST_TOLERANCE, tau: MIN_TAU },
    adapter: info.adapter,
    archs,
  };
  const write = () =>
    Deno.writeTextFileSync(values.fixture!, JSON.stringify(fixture, null, 1) + "\n");
  // Ends and middle first, so a run stopped early still spans light to heavy; the file is
  // rewritten after every score.
  for (const [i, a] of archs.entries()) {
    if (a.loss5 !== null && a.first !== null) continue;
    const r = await score(a.arch, CHECK_ITERATIONS);
    [a.loss5, a.first] = [r.loss, r.trainLosses[0]];
    write();
    console.error(`#${i} first ${a.first} ${CHECK_ITERATIONS} iterations ${a.loss5} ${a.arch}`);
  }
  const chosen = evenlySpaced(list.map((_, i) => i), values.limit ? Number(values.limit) : 20);
  for (const i of spreadOrder(chosen)) {
    if (archs[i].loss !== null) continue;
    const r = await score(list[i].arch);
    archs[i] = { ...archs[i], loss: r.loss, seconds: Number(r.seconds.toFixed(2)) };
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
    `${fixture.adapter}; checked: the first training loss within ${fixture.tolerance.first} ` +
    `relative, τ of the ${SETTINGS.iterations}-iteration losses ≥ ${fixture.tolerance.tau}`,
);
let failures = 0, checked = 0;
const seconds: number[] = [];
const pairs: [number, number][] = [];
for (const [i, a] of archs.entries()) {
  const cold = await score(a.arch, 1); // compiles this arch's pipelines (untimed)
  const shortRun = await score(a.arch, CHECK_ITERATIONS);
  const [short, first] = [shortRun.loss, shortRun.trainLosses[0]];
  const r = await score(a.arch);
  if (a.loss !== null) pairs.push([r.loss, a.loss]);
  seconds.push(r.seconds);
  const submits = Math.ceil(SETTINGS.iterations / effectivePerSubmit) / SETTINGS.iterations;
  const relative = (x: number, ref: number | null) =>
    ref === null ? NaN : Math.abs(x - ref) / Math.abs(ref);
  const relFirst = relative(first, a.first);
  const ok = a.first === null || relFirst <= fixture.tolerance.first;
  if (!ok) failures++;
  if (a.first !== null) checked++;
  const rel5 = relative(short, a.loss5);
  const rel = relative(r.loss, a.loss);
  console.log(
    `${String(i).padStart(2)} ${r.seconds.toFixed(3).padStart(8)} s/arch ` +
      `${(1000 * r.seconds / SETTINGS.iterations).toFixed(2).padStart(8)} ms/iter ` +
      `${String(r.graph.dispatchesPerIteration).padStart(4)} dispatches/iter ` +
      `${submits.toFixed(2)} submits/iter  first ${first.toPrecision(7)} ${
        a.first === null
          ? "(no lavapipe reference)"
          : `vs ${a.first.toPrecision(7)} (${relFirst.toExponential(1)}) ${ok ? "ok" : "MISMATCH"}`
      }  loss@${CHECK_ITERATIONS} ${short.toPrecision(5)}${
        a.loss5 === null ? "" : ` (${(100 * rel5).toFixed(2)} %)`
      }  loss@${SETTINGS.iterations} ${r.loss.toPrecision(6)}${
        a.loss === null ? "" : ` (lavapipe ${a.loss.toPrecision(6)}, ${(100 * rel).toFixed(1)} %)`
      }  [first call ${cold.seconds.toFixed(2)} s]  ${a.arch}`,
  );
}
seconds.sort((a, b) => a - b);
const tau = pairs.length >= 5 ? kendallTauB(pairs.map((p) => p[0]), pairs.map((p) => p[1])) : NaN;
const tauOk = !(tau < fixture.tolerance.tau); // NaN (too few references): not checked
console.log(
  `\nadapter ${info.adapter}: median ${seconds[seconds.length >> 1].toFixed(3)} s per arch, ` +
    `total ${seconds.reduce((s, x) => s + x, 0).toFixed(1)} s; ` +
    `${checked - failures}/${checked} first losses within ${fixture.tolerance.first} of ` +
    `lavapipe; τ(${SETTINGS.iterations}-iteration losses, lavapipe's) ${
      Number.isNaN(tau) ? "not checked (< 5 references)" : tau.toFixed(3)
    }${tauOk ? "" : " MISMATCH"}`,
);
if (failures || !tauOk) Deno.exit(1);
