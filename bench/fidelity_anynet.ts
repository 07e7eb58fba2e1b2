/**
 * Fidelity runs of the AnyNet spaces and NAS-Bench-Macro (issue 11), included by bench/fidelity.ts:
 *   resnext-a_in-combo, resnext-a_in-search-R, resnext-b_in-combo, resnext-b_in-search-R:
 *     60 records drawn (seed 0) from nds_ResNeXt-{A,B}_in.jsonl, against test_acc;
 *   nbmacro: 300 archs drawn (seed 0) from nbmacro_cifar10.jsonl, task combo, against mean_acc;
 *   anynet-scaled (group): the four runs above at --width-scale 0.25.
 * Beside GenNAS each prints Kendall τ and Spearman ρ of the table's own `params` and `flops`
 * columns on the same records (on the whole tables params alone gives τ 0.80 on ResNeXt-A and
 * 0.75 on ResNeXt-B; FLOPs τ 0.56 on NAS-Bench-Macro). `--limit N` caps each run at N.
 */
import { join } from "node:path";
import { kendallTauB, spearman } from "../src/eval/metrics.ts";
import type { rank, RankReport } from "../src/proxy/run.ts";
import { loadTruth, type TruthSpace } from "../src/eval/truth.ts";
import { scaledCopies } from "./fidelity_nds.ts";

export interface ExtraRun {
  name: string;
  /** `--only GROUP` runs every run of the group. */
  group?: string;
  space: string;
  target: string;
  options: Parameters<typeof rank>[0];
  /** Lines printed under the run's metrics: the table's baselines on the same records. */
  baselines: (r: RankReport) => Promise<string[]>;
}

/** Kendall τ and Spearman ρ of the table's own params and flops columns on the ranked records. */
async function baselineLines(r: RankReport, space: TruthSpace, truth: string): Promise<string[]> {
  const table = await loadTruth(space, truth);
  const acc = r.archs.map((a) => a.accuracy);
  return (["params", "flops"] as const).map((column) => {
    const values = r.archs.map((a) => table[column]?.get(a.key) ?? NaN);
    if (!values.every(Number.isFinite)) {
      return `  ${column.padEnd(6)} baseline      n/a (the table lacks it)`;
    }
    return `  ${column.padEnd(6)} baseline      τ ${kendallTauB(values, acc).toFixed(3)} · ρ ${
      spearman(values, acc).toFixed(3)
    } (the table's ${column} column on the same ${acc.length} records)`;
  });
}

/** --width-scale of the `anynet-scaled` runs. */
const ANYNET_SCALED_WIDTH = 0.25;

export function anynetFidelityRuns(
  dataDir: string,
  outDir: string,
  images: string,
  limit: number | undefined,
): ExtraRun[] {
  const size = (full: number) => limit === undefined ? full : Math.min(full, limit);
  const runs: ExtraRun[] = [];
  const paper: Record<string, string> = {
    "resnext-a_in": "paper τ single / combo / search-R 0.61 / 0.70 / 0.69; params alone τ 0.80",
    "resnext-b_in": "paper τ single / combo / search-R 0.53 / 0.65 / 0.67; params alone τ 0.75",
  };
  for (const [space, file] of [["resnext-a_in", "A"], ["resnext-b_in", "B"]] as const) {
    const truth = join(dataDir, `nds_ResNeXt-${file}_in.jsonl`);
    for (const task of ["combo", "search-R"]) {
      runs.push({
        name: `${space}-${task}`,
        space,
        target: paper[space],
        options: {
          space,
          task,
          images,
          truth,
          sample: size(60),
          out: join(outDir, `${space}-${task}.jsonl`),
          bootstrap: 1000,
        },
        baselines: (r) => baselineLines(r, space, truth),
      });
    }
  }
  // Every run again at a quarter width (`--only anynet-scaled`): a ResNeXt-A record costs
  // ≈ 30 min at full width here; what the cost control keeps of the fidelity, not the acceptance.
  runs.push(
    ...scaledCopies(runs, ANYNET_SCALED_WIDTH, "anynet-scaled", outDir, ["combo", "search-R"]),
  );
  const macro = join(dataDir, "nbmacro_cifar10.jsonl");
  runs.push({
    name: "nbmacro",
    space: "nbmacro",
    target: "FLOPs alone give τ 0.56 on the whole table",
    options: {
      space: "nbmacro",
      task: "combo",
      images,
      truth: macro,
      sample: size(300),
      out: join(outDir, "nbmacro.jsonl"),
      bootstrap: 1000,
    },
    baselines: (r) => baselineLines(r, "nbmacro", macro),
  });
  return runs;
}
