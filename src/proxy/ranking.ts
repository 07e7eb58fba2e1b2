/**
 * What `gennas rank` and `gennas merge` make of scored architectures: the ranking, its metrics
 * and the HTML report. One function for both, so a merged run reports exactly what an unsharded
 * run with the same settings reports.
 */
import { type RankingMetrics, rankingMetrics } from "../eval/metrics.ts";
import { renderRankReport, writeReport } from "../eval/report.ts";
import { Rng } from "../util/rng.ts";

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
}

/** The settings a rank journal's header records (those read here, and any others). */
export interface RankSettings extends Record<string, unknown> {
  space: string;
  task: string;
  taskConfig: unknown;
  proxy: { seed: number };
}

export interface RankOutcome {
  archs: RankedArch[];
  metrics: RankingMetrics;
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
  const archs: RankedArch[] = [...o.scored.keys()].sort((a, b) => a - b).map((index) => {
    const r = o.scored.get(index)!;
    return {
      index,
      arch: r.arch,
      key: r.key,
      loss: r.loss ?? NaN,
      accuracy: o.accuracies[index],
      seconds: r.seconds,
    };
  });
  const metrics = rankingMetrics(archs.map((r) => r.loss), archs.map((r) => r.accuracy), {
    bootstrap: o.bootstrap
      ? { samples: o.bootstrap, rng: new Rng(o.settings.proxy.seed) }
      : undefined,
  });
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
      }),
    );
  }
  return { archs, metrics };
}
