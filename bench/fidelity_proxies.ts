/**
 * The `deno task fidelity --only proxies` runs (issue 12): every proxy side by side on the same
 * architectures.
 *   proxies-nb201: the first 200 archs of nb201_gennas_sample_0.txt, task combo, CIFAR-10 images,
 *                  ranked against CIFAR-10, then the same scores against CIFAR-100 and
 *                  ImageNet16-120 test accuracy (no rescoring);
 *   proxies-nb101: 100 cells drawn (seed 0) from nb101_gennaszero_2500_cifar10.jsonl (the first
 *                  100 of the nb101-500 run's cells), task search-N, against `acc`.
 * Each run keeps one journal for GenNAS (<run>-gennas.jsonl, the same settings as a plain
 * `gennas rank`) and one per zero-cost pass (<run>-<proxies>.jsonl), so adding a proxy scores
 * only that proxy, and a GenNAS journal from another run with the same settings can be reused.
 * The table joins them on the architectures every journal has scored.
 * `--limit N` other than the default 100 sets both counts to N (e.g. --limit 2 to check it runs).
 */
import { join } from "node:path";
import { accuraciesFor, loadTruth } from "../src/eval/truth.ts";
import { PROXY_NAMES } from "../src/proxy/proxies.ts";
import { rankOutcome, type RankRecord, type RankSettings } from "../src/proxy/ranking.ts";
import { rank, type RankEvent, type RankReport } from "../src/proxy/run.ts";
import { ZERO_COST_GROUPS } from "../src/proxy/zero_cost.ts";
import { besideJournal, readJournal } from "../src/util/journal.ts";

/** The shape of bench/fidelity.ts's runs, plus how to execute this one. */
export interface ProxyRun {
  name: string;
  space: string;
  target: string;
  options: Parameters<typeof rank>[0];
  execute: (onEvent: (e: RankEvent) => void) => Promise<RankReport>;
}

export const PROXY_RUN_PREFIX = "proxies";

/** Every proxy gennas has, GenNAS first (the headline metric). */
const ALL = [...PROXY_NAMES];

/** The journals of a run: GenNAS's, then one per zero-cost pass. */
export function proxyRunParts(options: ProxyRun["options"]): { proxies: string[]; out: string }[] {
  const stem = options.out!.replace(/\.jsonl$/, "");
  return [["gennas"], ...ZERO_COST_GROUPS].map((names) => ({
    proxies: [...names],
    out: `${stem}-${names.join("+")}.jsonl`,
  }));
}

/** The scores of every part joined by position (only positions all parts have, same arch). */
export async function joinedScores(
  options: ProxyRun["options"],
): Promise<{ settings: RankSettings; scored: Map<number, RankRecord> }> {
  let settings: RankSettings | undefined;
  let scored: Map<number, RankRecord> | undefined;
  for (const part of proxyRunParts(options)) {
    const { header, records } = await readJournal<RankRecord>(part.out);
    const here = new Map(
      records.filter((r) => r.type === "score").map((r) => [r.index, r] as [number, RankRecord]),
    );
    if (!settings || !scored) {
      settings = { ...(header.settings as RankSettings), proxies: ALL };
      scored = here;
      continue;
    }
    for (const [index, r] of scored) {
      const other = here.get(index);
      if (!other || other.arch !== r.arch) {
        scored.delete(index);
        continue;
      }
      r.proxies = { ...r.proxies, ...other.proxies };
      r.proxySeconds = { ...r.proxySeconds, ...other.proxySeconds };
    }
  }
  return { settings: settings!, scored: scored! };
}

/** Scores every part (each resumes its journal), then ranks the joined scores. */
async function execute(
  options: ProxyRun["options"],
  onEvent: (e: RankEvent) => void,
): Promise<RankReport> {
  let first: RankReport | undefined;
  for (const part of proxyRunParts(options)) {
    const r = await rank({ ...options, ...part, bootstrap: 0, onEvent });
    first ??= r;
  }
  const { settings, scored } = await joinedScores(options);
  const accuracies: number[] = [];
  for (const a of first!.archs) accuracies[a.index] = a.accuracy;
  const report = besideJournal(options.out!, ".html");
  const outcome = await rankOutcome({
    settings,
    adapter: "(joined journals)",
    accuracies,
    scored,
    bootstrap: options.bootstrap,
    report,
  });
  return { ...first!, ...outcome, journal: undefined, report };
}

export function proxyRuns(dataDir: string, outDir: string, limit: number): ProxyRun[] {
  const images = join(dataDir, "cifar10_test_first256.bin");
  const custom = limit !== 100;
  const runs: Omit<ProxyRun, "execute">[] = [
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
        out: join(outDir, "proxies-nb201.jsonl"),
        bootstrap: 1000,
      },
    },
    {
      name: `${PROXY_RUN_PREFIX}-nb101`,
      space: "nb101",
      target: "the ensemble above every single proxy on the same cells",
      options: {
        space: "nb101",
        task: "search-N",
        images,
        truth: join(dataDir, "nb101_gennaszero_2500_cifar10.jsonl"),
        metric: "acc",
        sample: custom ? limit : 100,
        out: join(outDir, "proxies-nb101.jsonl"),
        bootstrap: 1000,
      },
    },
  ];
  return runs.map((run) => ({ ...run, execute: (onEvent) => execute(run.options, onEvent) }));
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
export async function reportProxyRun(
  run: Pick<ProxyRun, "space" | "options">,
  report: RankReport,
): Promise<void> {
  printTable(`${report.truthMetric}:`, report.proxies);
  if (run.space !== "nb201") return;
  const { settings, scored } = await joinedScores(run.options);
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
    printTable(`${table.metric} (same scores):`, outcome.proxies);
  }
}
