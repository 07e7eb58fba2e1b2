/**
 * Ranking metrics of the scores a rank journal holds so far (a fidelity run stopped part-way and
 * to be resumed later): ρ, τ with bootstrap intervals and median seconds, against the truth table
 * named in the journal's header, beside the counted parameters and MACs of the same archs (for
 * nbnlp the table's ppl@ep3 and num_params baselines instead). Not in CI.
 *
 *   deno run -A bench/journal_metrics.ts JOURNAL.jsonl
 */
import { loadTruth, type TruthSpace } from "../src/eval/truth.ts";
import { kendallTauB, rankingMetrics, spearman } from "../src/eval/metrics.ts";
import { archCost } from "../src/proxy/cost.ts";
import { costBackbone, type RankSettings } from "../src/proxy/ranking.ts";
import { getSpace } from "../src/spaces/index.ts";
import { Rng } from "../src/util/rng.ts";
import { readJournal } from "../src/util/journal.ts";
import type { RankReport } from "../src/proxy/run.ts";
import { nbnlpBaselines } from "./fidelity_nbnlp.ts";

const path = Deno.args[0];
if (!path) {
  console.error("usage: deno run -A bench/journal_metrics.ts JOURNAL.jsonl");
  Deno.exit(2);
}
interface ScoreRecord {
  type: string;
  arch: string;
  key: string;
  loss: number;
  seconds: number;
}
const { header, records } = await readJournal<ScoreRecord>(path);
const scores = records.filter((r) => r.type === "score");
const { space, truth: truthPath, sample } = header.settings as {
  space: string;
  truth: string;
  sample?: number;
};
const truth = await loadTruth(space as TruthSpace, truthPath);
const keys: string[] = scores.map((s) => s.key);
const accuracies = keys.map((k) => truth.accuracy.get(k) ?? NaN);
const losses = scores.map((s) => Number.isFinite(s.loss) ? s.loss : Infinity);
const m = rankingMetrics(losses, accuracies, {
  bootstrap: { samples: 1000, rng: new Rng(0) },
});
const seconds = scores.map((s) => s.seconds).sort((a, b) => a - b);
const ci = (i?: { low: number; high: number }) =>
  i ? ` (${i.low.toFixed(3)}–${i.high.toFixed(3)})` : "";
console.log(
  `${path}: ${scores.length} of ${sample ?? "?"} archs scored (${space}, ${truth.metric})`,
);
console.log(
  `  gennas                ρ ${m.spearman.toFixed(3)}${ci(m.spearmanCI)} · τ ${
    m.kendall.toFixed(3)
  }${ci(m.kendallCI)} · median ${seconds[Math.floor(seconds.length / 2)].toFixed(1)} s/arch`,
);
if (space === "nbnlp") {
  for (const line of nbnlpBaselines(truthPath, { archs: scores } as unknown as RankReport)) {
    console.log(line);
  }
} else {
  const net = getSpace(space);
  // The journal's proxy settings (width scale, init channels), as `rank` counts them.
  const backbone = costBackbone(header.settings as unknown as RankSettings);
  const costs = scores.map((s) => archCost(net, net.parse(s.arch), backbone));
  for (
    const [label, x] of [["params", costs.map((c) => c.params)], [
      "MACs",
      costs.map((c) => c.macs),
    ]] as const
  ) {
    console.log(
      `  baseline ${label.padEnd(13)}ρ ${spearman(x, accuracies).toFixed(3)} · τ ${
        kendallTauB(x, accuracies).toFixed(3)
      } (counted)`,
    );
  }
}
