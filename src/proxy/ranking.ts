/**
 * What `gennas rank` and `gennas merge` make of scored architectures: the ranking, its metrics
 * (every requested proxy side by side, with the trivial baselines params and flops) and the HTML
 * report. One function for both, so a merged run reports exactly what an unsharded run with the
 * same settings reports.
 */
import { median, rankAverage, type RankingMetrics, rankingMetrics } from "../eval/metrics.ts";
import { renderRankReport, writeReport } from "../eval/report.ts";
import { getSpace } from "../spaces/index.ts";
import { Rng } from "../util/rng.ts";
import { archCost } from "./cost.ts";
import { COUNTED_PROXIES, DEFAULT_PROXIES, ENSEMBLE_MEMBERS, type ProxyName } from "./proxies.ts";

/** A journal line of a rank run. */
export interface RankRecord {
  type: "score";
  index: number;
  arch: string;
  key: string;
  /** The GenNAS loss (null: not finite, or gennas was not among the run's proxies). */
  loss: number | null;
  /** Seconds of the GenNAS score (0 when gennas was not requested). */
  seconds: number;
  trainLossFinal?: number | null;
  /** Zero-cost proxy values (higher predicts better; null: not finite), when requested. */
  proxies?: Record<string, number | null>;
  /** Seconds of each zero-cost proxy. */
  proxySeconds?: Record<string, number>;
}

export interface RankedArch {
  index: number;
  arch: string;
  key: string;
  loss: number;
  accuracy: number;
  seconds: number;
  /** Trivial baselines of the arch's classification network (see cost.ts). */
  params: number;
  /** Conv + linear multiply-accumulates for one 32×32 sample. */
  flops: number;
  /** Values of the run's zero-cost proxies (NaN: not finite). */
  scores: Record<string, number>;
}

/** Ranking metrics of one proxy on the ranked archs. */
export interface ProxyMetrics {
  proxy: string;
  metrics: RankingMetrics;
  /** Median seconds per architecture (undefined: not timed, e.g. counted without a GPU). */
  secondsPerArch?: number;
}

/** The settings a rank journal's header records (those read here, and any others). */
export interface RankSettings extends Record<string, unknown> {
  space: string;
  task: string;
  taskConfig: unknown;
  proxy: {
    seed: number;
    initChannels?: number;
    nb101Init?: "pytorch" | "kaiming-fan-out";
    widthScale?: number;
  };
  /** The requested proxies, recorded only when they are not the default ["gennas"]. */
  proxies?: ProxyName[];
}

export interface RankOutcome {
  archs: RankedArch[];
  /** Metrics of the first requested proxy (gennas by default). */
  metrics: RankingMetrics;
  /** Every requested proxy, then params and flops unless requested: the side-by-side table. */
  proxies: ProxyMetrics[];
  /** The trivial baselines params and flops on the same archs. */
  baselines: ProxyMetrics[];
}

/** The proxies of a run's table: the requested ones, then the counted baselines. */
export function tableProxies(requested: readonly ProxyName[] | undefined): ProxyName[] {
  const list = [...(requested ?? DEFAULT_PROXIES)];
  for (const name of COUNTED_PROXIES) if (!list.includes(name)) list.push(name);
  return list;
}

/** A proxy's value as the −"loss" rankingMetrics ranks by: lower loss = higher score. */
function asLoss(a: RankedArch, proxy: ProxyName): number {
  if (proxy === "gennas") return a.loss;
  if (proxy === "ensemble") return -a.scores.ensemble;
  const value = proxy === "params" || proxy === "flops" ? a[proxy] : a.scores[proxy] ?? NaN;
  return Number.isFinite(value) ? -value : NaN;
}

/**
 * The ensemble score of every arch: Σ_m log(rank_m / n) over ENSEMBLE_MEMBERS, rank_m the
 * average rank (1 worst … n best, non-finite values tied worst) of the arch by member m.
 */
export function ensembleScores(archs: readonly RankedArch[]): number[] {
  const n = archs.length;
  const total = new Array<number>(n).fill(0);
  for (const m of ENSEMBLE_MEMBERS) {
    const higherBetter = archs.map((a) => {
      const v = -asLoss(a, m);
      return Number.isFinite(v) ? v : -Infinity;
    });
    rankAverage(higherBetter).forEach((r, i) => total[i] += Math.log(r / n));
  }
  return total;
}

function secondsOf(records: readonly RankRecord[], proxy: ProxyName): number | undefined {
  if (proxy === "params" || proxy === "flops" || proxy === "ensemble") return undefined;
  const values = records.map((r) => proxy === "gennas" ? r.seconds : r.proxySeconds?.[proxy])
    .filter((s): s is number => typeof s === "number");
  return values.length > 0 ? median(values) : undefined;
}

/**
 * Ranks the scored positions (ascending) of the candidate list against their accuracies, with
 * `bootstrap` resamples seeded by the run's seed, and writes the report when `report` is given.
 */
/** The backbone the params/flops baselines are counted on: the journal's own proxy settings
 * (width scale, init channels), so a scaled run's baselines are the scaled networks'. */
export function costBackbone(settings: Pick<RankSettings, "space" | "proxy">) {
  const space = getSpace(settings.space);
  return {
    ...settings.proxy,
    initChannels: settings.proxy.initChannels ?? space.defaultInitChannels ?? 16,
  };
}

export async function rankOutcome(o: {
  settings: RankSettings;
  /** The adapter the scores came from, as the report names it. */
  adapter: string;
  accuracies: readonly number[];
  scored: ReadonlyMap<number, RankRecord>;
  bootstrap?: number;
  report?: string;
}): Promise<RankOutcome> {
  const space = getSpace(o.settings.space);
  const backbone = costBackbone(o.settings);
  const positions = [...o.scored.keys()].sort((a, b) => a - b);
  const records = positions.map((index) => o.scored.get(index)!);
  const archs: RankedArch[] = records.map((r) => {
    const cost = archCost(space, space.parse(r.arch), backbone);
    const scores: Record<string, number> = {};
    for (const [name, value] of Object.entries(r.proxies ?? {})) scores[name] = value ?? NaN;
    return {
      index: r.index,
      arch: r.arch,
      key: r.key,
      loss: r.loss ?? NaN,
      accuracy: o.accuracies[r.index],
      seconds: r.seconds,
      params: cost.params,
      flops: cost.macs,
      scores,
    };
  });
  if (o.settings.proxies?.includes("ensemble")) {
    ensembleScores(archs).forEach((score, i) => archs[i].scores.ensemble = score);
  }
  const accuracies = archs.map((r) => r.accuracy);
  // Same seed for every proxy: all intervals come from the same resamples (paired comparison).
  const options = () => ({
    bootstrap: o.bootstrap
      ? { samples: o.bootstrap, rng: new Rng(o.settings.proxy.seed) }
      : undefined,
  });
  const proxies: ProxyMetrics[] = tableProxies(o.settings.proxies).map((proxy) => ({
    proxy,
    metrics: rankingMetrics(archs.map((a) => asLoss(a, proxy)), accuracies, options()),
    secondsPerArch: secondsOf(records, proxy),
  }));
  const metrics = proxies[0].metrics;
  const baselines = proxies.filter((p) => (COUNTED_PROXIES as string[]).includes(p.proxy));
  if (o.report) {
    // As the journal holds them, so a merge (which reads them back) renders the same table.
    const { taskConfig: _inJournal, ...shown } = JSON.parse(JSON.stringify(o.settings));
    await writeReport(
      o.report,
      renderRankReport({
        title: `GenNAS ranking — ${o.settings.space}, task ${o.settings.task}`,
        settings: { ...shown, gpu: o.adapter },
        metrics,
        points: archs.map((r) => ({ label: r.arch, loss: r.loss, accuracy: r.accuracy })),
        proxies,
        scatters: proxies.filter((p) => p.proxy !== "gennas").map((p) => ({
          proxy: p.proxy,
          points: archs.map((a) => ({
            label: a.arch,
            loss: -asLoss(a, p.proxy as ProxyName),
            accuracy: a.accuracy,
          })),
        })),
        showLoss: tableProxies(o.settings.proxies).includes("gennas"),
      }),
    );
  }
  return { archs, metrics, proxies, baselines };
}
