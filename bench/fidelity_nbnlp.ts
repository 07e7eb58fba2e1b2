/**
 * Fidelity run of the NAS-Bench-NLP space (bench/fidelity.ts `--only nbnlp`): `limit` (100)
 * seeded OK cells of the PTB table, task nlp-search (CONF_NLP: Adam lr 1e-3, 100 iterations,
 * batch 16), ranked against final_test_loss (lower is better, ranked as −loss). On the same cells
 * it also prints the paper's "ppl@ep3" baseline (test_losses[2]) and the parameter count
 * (num_params, more = better, as a zero-cost baseline) against the same truth.
 */
import { join } from "node:path";
import { kendallTauB, spearman } from "../src/eval/metrics.ts";
import { loadNbNlpTruth } from "../src/eval/truth_nbnlp.ts";
import type { rank, RankReport } from "../src/proxy/run.ts";

export interface NbNlpRun {
  name: string;
  space: "nbnlp";
  target: string;
  options: Parameters<typeof rank>[0];
  /** Extra lines printed under the run's metrics (baselines on the same cells). */
  baselines: (report: RankReport) => Promise<string[]>;
}

export function nbnlpRuns(dataDir: string, out: string, limit: number): NbNlpRun[] {
  const truth = join(dataDir, "nbnlp_ptb.jsonl");
  return [{
    name: "nbnlp",
    space: "nbnlp",
    target: "ρ ≥ 0.80 and τ ≥ 0.60 (authors' code here on 40 OK PTB cells: ρ 0.84, τ 0.65, " +
      "17 s/cell PyTorch CPU one thread; ppl@ep3 ρ 0.73, params ρ −0.11)",
    options: {
      space: "nbnlp",
      task: "nlp-search",
      truth,
      sample: limit,
      out: join(out, "nbnlp.jsonl"),
      bootstrap: 1000,
    },
    baselines: (report) => Promise.resolve(nbnlpBaselines(truth, report)),
  }];
}

/** ρ and τ of the ppl@ep3 and parameter-count baselines on the cells of `report`. */
export function nbnlpBaselines(truthPath: string, report: RankReport): string[] {
  const truth = loadNbNlpTruth(truthPath);
  const keys = report.archs.map((a) => a.key);
  const goodness = keys.map((k) => truth.accuracy.get(k)!);
  const mean = (
    k: string,
    f: (r: NonNullable<ReturnType<typeof truth.rows.get>>[number]) => number,
  ) => {
    const rows = truth.rows.get(k)!;
    return rows.reduce((s, r) => s + f(r), 0) / rows.length;
  };
  const ep3 = keys.map((k) => -mean(k, (r) => r.test_losses[2] ?? NaN));
  const params = keys.map((k) => mean(k, (r) => r.num_params ?? NaN));
  const line = (label: string, x: number[]) =>
    `  ${label.padEnd(22)}ρ ${spearman(x, goodness).toFixed(3)} · τ ${
      kendallTauB(x, goodness).toFixed(3)
    }`;
  return [
    line("baseline ppl@ep3", ep3),
    line("baseline num_params", params),
  ];
}
