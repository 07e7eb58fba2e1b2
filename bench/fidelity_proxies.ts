/**
 * The `deno task fidelity --only proxies` runs (issue 12): every proxy side by side on the same
 * architectures, in one pass and one journal per space.
 *   proxies-nb201: the first 200 archs of nb201_gennas_sample_0.txt, task combo, CIFAR-10 images,
 *                  ranked against CIFAR-10, then the same journal against CIFAR-100 and
 *                  ImageNet16-120 test accuracy (no rescoring);
 *   proxies-nb101: 100 cells drawn (seed 0) from nb101_naslib_zc_sample.jsonl, task search-N.
 * `--limit N` other than the default 100 sets both counts to N (e.g. --limit 2 to check it runs).
 */
import { join } from "node:path";
import { accuraciesFor, loadTruth } from "../src/eval/truth.ts";
import { PROXY_NAMES } from "../src/proxy/proxies.ts";
import { rankOutcome, type RankRecord, type RankSettings } from "../src/proxy/ranking.ts";
import type { rank, RankReport } from "../src/proxy/run.ts";
import { readJournal } from "../src/util/journal.ts";

/** The shape of bench/fidelity.ts's runs. */
export interface ProxyRun {
  name: string;
  space: string;
  target: string;
  options: Parameters<typeof rank>[0];
}

export const PROXY_RUN_PREFIX = "proxies";

/** Every proxy gennas has, GenNAS first (the headline metric). */
const ALL = [...PROXY_NAMES];

export function proxyRuns(dataDir: string, outDir: string, limit: number): ProxyRun[] {
  const images = join(dataDir, "cifar10_test_first256.bin");
  const custom = limit !== 100;
  return [
    {
      name: `${PROXY_RUN_PREFIX}-nb201`,
      space: "nb201",
      target: "NASWOT/synflow/jacob_cov τ within ±0.05 of 0.57–0.60 / 0.52–0.56 / 0.59–0.62 " +
        "(published, NB-201 C10); ensemble τ ≥ 0.75 and above every single proxy",
      options: {
        space: "nb201",
        task: "combo",
        images,
        truth: join(dataDir, "nb201.csv"),
        dataset: "cifar10",
        archs: join(dataDir, "nb201_gennas_sample_0.txt"),
        limit: custom ? limit : 200,
        proxies: ALL,
        out: join(outDir, "proxies-nb201.jsonl"),
        bootstrap: 1000,
      },
    },
    {
      name: `${PROXY_RUN_PREFIX}-nb101`,
      space: "nb101",
      target: "every proxy beside GenNAS on the same cells",
      options: {
        space: "nb101",
        task: "search-N",
        images,
        truth: join(dataDir, "nb101_naslib_zc_sample.jsonl"),
        metric: "val_acc_mean_of_samples",
        sample: custom ? limit : 100,
        proxies: ALL,
        out: join(outDir, "proxies-nb101.jsonl"),
        bootstrap: 1000,
      },
    },
  ];
}

export function isProxyRun(name: string, only: string | undefined): boolean {
  return only === PROXY_RUN_PREFIX && name.startsWith(`${PROXY_RUN_PREFIX}-`);
}

const ci = (c?: { low: number; high: number }) =>
  c ? `[${c.low.toFixed(3)}, ${c.high.toFixed(3)}]` : "";

function printTable(title: string, proxies: RankReport["proxies"]): void {
  console.log(`  ${title}`);
  console.log(
    "    proxy       ρ [95% CI]                  τ [95% CI]                  retr@10%  s/arch",
  );
  for (const p of proxies) {
    const m = p.metrics;
    console.log(
      `    ${p.proxy.padEnd(10)}  ${m.spearman.toFixed(3)} ${ci(m.spearmanCI).padEnd(16)}  ${
        m.kendall.toFixed(3)
      } ${ci(m.kendallCI).padEnd(16)}  ${m.retrieval.toFixed(2).padEnd(8)}  ${
        p.secondsPerArch === undefined ? "—" : p.secondsPerArch.toPrecision(3)
      }`,
    );
  }
}

/** Prints a proxies run's side-by-side table; NB-201 also against CIFAR-100 and ImageNet16-120. */
export async function reportProxyRun(run: ProxyRun, report: RankReport): Promise<void> {
  printTable(`${report.truthMetric}:`, report.proxies);
  if (run.space !== "nb201" || !report.journal) return;
  const { header, records } = await readJournal<RankRecord>(report.journal);
  const settings = header.settings as RankSettings;
  const scored = new Map(
    records.filter((r) => r.type === "score").map((r) => [r.index, r] as [number, RankRecord]),
  );
  for (const dataset of ["cifar100", "imagenet16_120"]) {
    const table = await loadTruth("nb201", run.options.truth, { dataset });
    const accuracies: number[] = [];
    for (const [index, r] of scored) accuracies[index] = accuraciesFor(table, [r.key])[0];
    const outcome = await rankOutcome({
      settings,
      adapter: "",
      accuracies,
      scored,
      bootstrap: run.options.bootstrap,
    });
    printTable(`${table.metric} (same journal):`, outcome.proxies);
  }
}
