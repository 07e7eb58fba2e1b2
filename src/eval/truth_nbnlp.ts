/**
 * NAS-Bench-NLP ground truth (nbnlp_ptb.jsonl, nbnlp_wikitext2.jsonl): the metric is a loss
 * (final_test_loss, test log-perplexity; lower is better). Sign convention: `accuracy` of a
 * TruthTable is "higher is better" everywhere, so it holds −loss here and the metric is named
 * "-final_test_loss"; Spearman ρ(−proxy loss, −test loss) is then positive for a good proxy, and
 * search regret is (found loss − best loss). `lowerIsBetter` and `rawMetric` keep the original
 * sense explicit. Rows whose status is not OK, and rows whose recipe fails validation, are
 * skipped and counted in `notes`. Cells with the same canonical key (isomorphic recipes) join:
 * their losses are averaged.
 */
import { nbNlpKey } from "../spaces/nbnlp.ts";
import { loadNlpTable, type NlpRow } from "../spaces/nbnlp_table.ts";
import { allowed, InputError } from "../util/errors.ts";

export const NBNLP_METRICS = ["final_test_loss", "min_test_loss", "test_loss_ep3"] as const;
export type NbNlpMetric = typeof NBNLP_METRICS[number];

/** One row's value of a loss metric (test_loss_ep3 = test_losses[2], the "ppl@ep3" baseline). */
export function nlpMetricValue(row: NlpRow, metric: NbNlpMetric): number | null {
  if (metric === "test_loss_ep3") return row.test_losses[2] ?? null;
  if (metric === "min_test_loss") {
    const finite = row.test_losses.filter((v): v is number => Number.isFinite(v));
    return finite.length ? Math.min(...finite) : null;
  }
  return row.final_test_loss;
}

export interface NbNlpTruth {
  source: string;
  metric: string;
  accuracy: Map<string, number>;
  extra: Map<string, unknown>;
  lowerIsBetter: true;
  rawMetric: NbNlpMetric;
  /** Lines for the user: rows skipped and cells joined. */
  notes: string[];
  /** key → the table rows that share it (for baselines such as num_params). */
  rows: Map<string, NlpRow[]>;
}

export function loadNbNlpTruth(path: string, o: { metric?: string } = {}): NbNlpTruth {
  const metric = (o.metric ?? "final_test_loss") as NbNlpMetric;
  if (!NBNLP_METRICS.includes(metric)) {
    throw new InputError(
      `metric: "${metric}" is not a NAS-Bench-NLP loss; allowed: ${allowed(NBNLP_METRICS)}`,
    );
  }
  const all = loadNlpTable(path);
  const notOk = all.filter((r) => r.status !== "OK").length;
  const invalid = all.filter((r) => r.status === "OK" && !r.cell).length;
  const rows = new Map<string, NlpRow[]>();
  let missing = 0;
  for (const row of all) {
    if (row.status !== "OK" || !row.cell) continue;
    const value = nlpMetricValue(row, metric);
    if (value === null || !Number.isFinite(value)) {
      missing++;
      continue;
    }
    const key = nbNlpKey({ cell: row.cell, args: row.args });
    rows.set(key, [...rows.get(key) ?? [], row]);
  }
  const accuracy = new Map<string, number>();
  const extra = new Map<string, unknown>();
  let joined = 0;
  for (const [key, group] of rows) {
    const mean = group.reduce((s, r) => s + nlpMetricValue(r, metric)!, 0) / group.length;
    accuracy.set(key, -mean);
    extra.set(key, { cell: group[0].cell, args: group[0].args });
    joined += group.length - 1;
  }
  if (accuracy.size === 0) throw new InputError(`${path}: no OK rows with a finite ${metric}`);
  const notes = [
    `truth ${metric} (lower is better; ranked as -${metric}, so ρ > 0 means lower proxy loss ↔ lower test loss)`,
    `skipped ${notOk} rows whose status is not OK, ${invalid} OK rows with an invalid recipe` +
    (missing ? `, ${missing} without a finite ${metric}` : ""),
  ];
  if (joined) {
    notes.push(
      `joined ${joined} rows into isomorphic cells (losses averaged): ${accuracy.size} cells`,
    );
  }
  return {
    source: path,
    metric: `-${metric}`,
    accuracy,
    extra,
    lowerIsBetter: true,
    rawMetric: metric,
    notes,
    rows,
  };
}
