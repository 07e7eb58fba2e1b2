/**
 * What `gennas rank` and `gennas merge` make of scored architectures: the ranking, its metrics
 * and the HTML report. One function for both, so a merged run reports exactly what an unsharded
 * run with the same settings reports.
 */
import { type RankingMetrics, rankingMetrics } from "../eval/metrics.ts";
import { renderRankReport, writeReport } from "../eval/report.ts";
import { getSpace } from "../spaces/index.ts";
import { Rng } from "../util/rng.ts";
import { archCost } from "./cost.ts";

/** A journal line of a rank run. */
export interface RankRecord {
  type: "score";
  index: number;
  arch: string;
  key: string;
  loss: number | null;
  seconds: number;
  trainLossFinal?: number | null;
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
}

/** Ranking metrics of one proxy (higher score predicts higher accuracy) on the ranked archs. */
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
  proxy: { seed: number; initChannels?: number; nb101Init?: "pytorch" | "kaiming-fan-out" };
}

export interface RankOutcome {
  archs: RankedArch[];
  metrics: RankingMetrics;
  /** The trivial baselines params and flops on the same archs, printed beside GenNAS. */
  baselines: ProxyMetrics[];
}

/**
 * Ranks the scored positions (ascending) of the candidate list against their accuracies, with
 * `bootstrap` resamples seeded by the run's seed, and writes the report when `report` is given.
 */
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
  const backbone = {
    initChannels: o.settings.proxy.initChannels ?? space.defaultInitChannels ?? 16,
    nb101Init: o.settings.proxy.nb101Init,
  };
  const archs: RankedArch[] = [...o.scored.keys()].sort((a, b) => a - b).map((index) => {
    const r = o.scored.get(index)!;
    const cost = archCost(space, space.parse(r.arch), backbone);
    return {
      index,
      arch: r.arch,
      key: r.key,
      loss: r.loss ?? NaN,
      accuracy: o.accuracies[index],
      seconds: r.seconds,
      params: cost.params,
      flops: cost.macs,
    };
  });
  const accuracies = archs.map((r) => r.accuracy);
  // Same seed for every proxy: all intervals come from the same resamples (paired comparison).
  const options = () => ({
    bootstrap: o.bootstrap
      ? { samples: o.bootstrap, rng: new Rng(o.settings.proxy.seed) }
      : undefined,
  });
  const metrics = rankingMetrics(archs.map((r) => r.loss), accuracies, options());
  // rankingMetrics scores −value; a larger network predicts higher accuracy, so pass −count.
  const baselines: ProxyMetrics[] = (["params", "flops"] as const).map((proxy) => ({
    proxy,
    metrics: rankingMetrics(archs.map((r) => -r[proxy]), accuracies, options()),
  }));
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
        // Without timings: a merged run's report equals the unsharded run's byte for byte.
        proxies: [{ proxy: "gennas", metrics }, ...baselines],
      }),
    );
  }
  return { archs, metrics, baselines };
}
