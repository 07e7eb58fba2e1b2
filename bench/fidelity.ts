/**
 * `deno task fidelity` — ranking fidelity on this machine (not in CI; resumable from its journals):
 *   NB-201: the first 100 archs of nb201_gennas_sample_0.txt, task combo, CIFAR-10 images,
 *           Kendall τ / Spearman ρ against CIFAR-10 test accuracy;
 *   NB-101: 100 cells drawn (seed 0) from nb101_naslib_zc_sample.jsonl, task search-N, CIFAR-10
 *           images, against val_acc_mean_of_samples;
 *   nb101-500: 500 cells drawn (seed 0) from nb101_gennaszero_2500_cifar10.jsonl (the paper's
 *           protocol size), task search-N, against `acc`.
 * Prints ρ and τ with bootstrap 95 % intervals and seconds per architecture. Journals and HTML
 * reports go to out/fidelity/ (override with --out DIR); the data folder is ../shared/data next to
 * the repository, or $GENNAS_DATA.
 *
 * More runs come from bench/fidelity_anynet.ts (AnyNet, NAS-Bench-Macro) and
 * bench/fidelity_nbnlp.ts (NAS-Bench-NLP) and
 * bench/fidelity_nds.ts (NDS cell spaces: `--only nds`, or one run by name).
 *
 *   deno task fidelity [--only nb201|nb101|nb101-500|nds|nds-scaled|anynet-scaled|proxies|<run name>] [--limit N] [--out DIR] [--workers N] [--max-memory MiB]
 *
 * --limit caps every run (default: 100 for nb201/nb101; each other run's own size). --workers
 * scores N architectures at a time (rank --workers; the same scores, per-arch seconds then
 * measured beside each other); --max-memory replaces a worker when the RSS is above it.
 */
import { benchArgs } from "./args.ts";
import { join } from "node:path";
import { rank, type RankEvent, type RankReport } from "../src/proxy/run.ts";
import { createProgress, type Progress } from "../src/util/progress.ts";
import { anynetFidelityRuns } from "./fidelity_anynet.ts";
import { nbnlpRuns } from "./fidelity_nbnlp.ts";
import { isProxyRun, proxyRuns, reportProxyRun } from "./fidelity_proxies.ts";
import { ndsRuns } from "./fidelity_nds.ts";

const { values } = benchArgs(
  {
    options: {
      only: { type: "string" },
      limit: { type: "string" },
      out: { type: "string", default: "out/fidelity" },
      workers: { type: "string", default: "1" },
      "max-memory": { type: "string" },
    },
  },
  `deno task fidelity [--only nb201|nb101|nb101-500|nds|nds-scaled|anynet-scaled|proxies|<run name>] [--limit N] [--out DIR] [--workers N] [--max-memory MiB]`,
);
const workers = Number(values.workers);
const maxMemory = values["max-memory"] ? Number(values["max-memory"]) : undefined;
const dataDir = Deno.env.get("GENNAS_DATA") ??
  new URL("../../shared/data/", import.meta.url).pathname;
const limit = Number(values.limit ?? 100);

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

interface Run {
  name: string;
  group?: string;
  space: string;
  target: string;
  options: Parameters<typeof rank>[0];
  /** Extra lines under the metrics (e.g. the table's params/FLOPs τ on the same records). */
  baselines?: (r: RankReport) => Promise<string[]>;
  /** Runs made of several journals (the proxies runs); a plain rank of `options` otherwise. */
  execute?: (onEvent: (e: RankEvent) => void) => Promise<RankReport>;
}

const images = join(dataDir, "cifar10_test_first256.bin");
const runsBefore: Run[] = [
  {
    name: "nb201",
    space: "nb201",
    target: "Kendall τ ≥ 0.55 (reference implementation here: τ 0.66, ρ 0.84)",
    options: {
      space: "nb201",
      task: "combo",
      images,
      truth: join(dataDir, "nb201.csv"),
      dataset: "cifar10",
      archs: join(dataDir, "nb201_gennas_sample_0.txt"),
      limit,
      out: join(values.out!, "nb201.jsonl"),
      bootstrap: 1000,
    },
  },
  {
    name: "nb101",
    space: "nb101",
    target:
      "Kendall τ ≥ 0.65 (reference implementation: τ 0.75 with search-N on 259 of these cells)",
    options: {
      space: "nb101",
      task: "search-N",
      images,
      truth: join(dataDir, "nb101_naslib_zc_sample.jsonl"),
      metric: "val_acc_mean_of_samples",
      sample: limit,
      out: join(values.out!, "nb101.jsonl"),
      bootstrap: 1000,
    },
  },
  {
    name: "nb101-500",
    space: "nb101",
    target:
      "Spearman ρ ≥ 0.85 with search-N (paper: ρ 0.85 combo / 0.87 search-N on its 500 cells)",
    options: {
      space: "nb101",
      task: "search-N",
      images,
      truth: join(dataDir, "nb101_gennaszero_2500_cifar10.jsonl"),
      metric: "acc",
      sample: Number(values.limit ?? 500),
      out: join(values.out!, "nb101-500.jsonl"),
      bootstrap: 1000,
    },
  },
];
const runs: Run[] = [
  ...runsBefore,
  // The reference HEAD's NB-101 pair (train weights [0.25, 0.5, 1], Kaiming fan-out init; spec
  // Appendix A's alternatives, not the defaults): first on the NASLib sample, then on nb101-500.
  ...["nb101", "nb101-500"].map((base) => {
    const run = runsBefore.find((r) => r.name === base)!;
    return {
      ...run,
      name: `${base}-head`,
      target: `beside ${base}, with the reference HEAD's train weights and NB-101 init`,
      options: {
        ...run.options,
        settings: {
          trainWeights: [0.25, 0.5, 1] as [number, number, number],
          nb101Init: "kaiming-fan-out" as const,
        },
        out: join(values.out!, `${base}-head.jsonl`),
      },
    };
  }),
  ...nbnlpRuns(dataDir, values.out!, limit),
  ...ndsRuns(dataDir, limit, values.out!),
];

const limitGiven = Deno.args.some((a) => a === "--limit" || a.startsWith("--limit="));
runs.push(...anynetFidelityRuns(dataDir, values.out!, images, limitGiven ? limit : undefined));
runs.push(...proxyRuns(dataDir, values.out!, limit));

if (!exists(join(dataDir, "nb201.csv"))) {
  console.error(`fidelity: the shared data folder ${dataDir} is missing (set GENNAS_DATA)`);
  Deno.exit(2);
}
await Deno.mkdir(values.out!, { recursive: true });

const results: [Run, RankReport, number][] = [];
for (const run of runs) {
  if (
    values.only && values.only !== run.name && values.only !== run.group &&
    !isProxyRun(run.name, values.only)
  ) continue;
  if (!values.only && isProxyRun(run.name, "proxies")) continue; // only with --only proxies
  let progress: Progress | undefined;
  const onEvent = (e: RankEvent) => {
    if (e.type === "start") {
      progress?.stop();
      console.error(`${run.name}: ${e.done}/${e.total} already in ${e.journal}`);
      progress = createProgress({ total: e.total, label: run.name, initial: e.done });
    } else progress?.tick(e.done, Number.isNaN(e.loss) ? {} : { loss: e.loss.toPrecision(4) });
  };
  const report = run.execute
    ? await run.execute(onEvent)
    : await rank({ ...run.options, workers, maxMemory, onEvent });
  progress?.stop();
  // Seconds per arch over every journaled score (resumed runs included).
  const seconds = report.archs.map((a) => a.seconds).sort((a, b) => a - b);
  results.push([run, report, seconds[Math.floor(seconds.length / 2)]]);
}

const ci = (c?: { low: number; high: number }) =>
  c ? `[${c.low.toFixed(3)}, ${c.high.toFixed(3)}]` : "";
for (const [run, r, seconds] of results) {
  const m = r.metrics;
  console.log(`\n${run.name}: ${m.n} architectures, ground truth ${r.truthMetric}`);
  console.log(`  Spearman ρ(−loss, acc) ${m.spearman.toFixed(3)} ${ci(m.spearmanCI)}`);
  console.log(`  Kendall τ             ${m.kendall.toFixed(3)} ${ci(m.kendallCI)}`);
  console.log(`  retrieval@top10%      ${m.retrieval.toFixed(2)}`);
  console.log(`  seconds per arch      ${seconds.toFixed(1)} (median)`);
  if (r.wallSecondsPerArch !== undefined) {
    console.log(
      `  wall s per arch       ${
        r.wallSecondsPerArch.toFixed(1)
      } (this sitting, ${r.workers} workers)`,
    );
  }
  console.log(`  target                ${run.target}`);
  // The trivial baselines, counted on the same architectures (src/proxy/cost.ts).
  for (const b of r.baselines) {
    console.log(
      `  ${`${b.proxy} (counted)`.padEnd(22)}ρ ${b.metrics.spearman.toFixed(3)} · τ ${
        b.metrics.kendall.toFixed(3)
      }`,
    );
  }
  for (const line of await run.baselines?.(r) ?? []) console.log(line);
  console.log(`  report                ${r.report}`);
  if (isProxyRun(run.name, "proxies")) await reportProxyRun(run, r);
}
