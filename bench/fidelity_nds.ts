/**
 * Fidelity runs of the NDS cell spaces (`deno task fidelity --only nds`, or `--only
 * nds-darts_in-combo` for one): 60 seeded records of each ImageNet table (DARTS, Amoeba, ENAS,
 * PNAS, NASNet; the fix-w-d table too), full proxy settings, tasks combo and search-D (the
 * paper's Table 2 GenNAS columns), Kendall τ against `test_acc`. `ndsBaselines` gives the τ of the
 * table's own params and flops on the same records, printed beside.
 *
 * Group `nds-scaled` (`--only nds-scaled`): the combo and search-D runs again under
 * --width-scale 0.25 (every network at a quarter of its width, ≈ 1/16 of the MACs), on the same
 * seeded records, so the fidelity the cost control gives up can be read off beside the full-width
 * runs.
 */
import { join } from "node:path";
import { kendallTauB } from "../src/eval/metrics.ts";
import { loadNdsCellTruth } from "../src/eval/truth_nds_cell.ts";
import type { rank, RankReport } from "../src/proxy/run.ts";
import type { NdsSpaceName } from "../src/spaces/nds.ts";

export interface NdsRun {
  name: string;
  /** `--only` selects every run of the group. */
  group: string;
  space: NdsSpaceName;
  target: string;
  options: Parameters<typeof rank>[0];
  /** The table's own params/flops τ on the ranked records. */
  baselines: (r: RankReport) => Promise<string[]>;
}

/** Paper Table 2, GenNAS on the ImageNet tables: Kendall τ single / combo / search-D. */
const PAPER: Record<string, [string, number, number, number]> = {
  darts_in: ["nds_DARTS_in.jsonl", 0.43, 0.52, 0.66],
  amoeba_in: ["nds_Amoeba_in.jsonl", 0.46, 0.53, 0.62],
  enas_in: ["nds_ENAS_in.jsonl", 0.40, 0.47, 0.63],
  pnas_in: ["nds_PNAS_in.jsonl", 0.19, 0.27, 0.45],
  nasnet_in: ["nds_NASNet_in.jsonl", 0.36, 0.42, 0.50],
  "darts-fix-w-d_in": ["nds_DARTS_fix-w-d_in.jsonl", 0.49, 0.57, 0.51],
};

export const NDS_FIDELITY_SAMPLE = 60;

/** --width-scale of the `nds-scaled` runs. */
export const NDS_SCALED_WIDTH = 0.25;

export function ndsRuns(dataDir: string, limit: number, outDir: string): NdsRun[] {
  const images = join(dataDir, "cifar10_test_first256.bin");
  const full = Object.entries(PAPER).flatMap(([space, [file, , combo, searchD]]) =>
    (["combo", "search-D"] as const).map((task) => ({
      name: `nds-${space}-${task}`,
      group: "nds",
      space: space as NdsSpaceName,
      target: `paper τ ${task === "combo" ? combo : searchD} (${task}); combo τ within ` +
        `the bootstrap interval of ${combo} or above${
          space === "darts_in" ? ", search-D ≥ combo" : ""
        }`,
      options: {
        space,
        task,
        images,
        truth: join(dataDir, file),
        sample: Math.min(limit, NDS_FIDELITY_SAMPLE),
        out: join(outDir, `nds-${space}-${task}.jsonl`),
        bootstrap: 1000,
      },
      baselines: async (r: RankReport) => [
        `  table baselines       ${await ndsBaselines(
          space as NdsSpaceName,
          join(dataDir, file),
          r,
        )}`,
      ],
    }))
  );
  const scaled = scaledCopies(full, NDS_SCALED_WIDTH, "nds-scaled", outDir, ["combo", "search-D"]);
  return [...full, ...scaled];
}

/**
 * The runs of `runs` whose task is in `tasks` again at --width-scale `scale`, in group `group`
 * (named `<run>-w<scale>`, journals beside): what the cost control keeps of the fidelity.
 */
export function scaledCopies<
  R extends { name: string; group?: string; target: string; options: Parameters<typeof rank>[0] },
>(
  runs: readonly R[],
  scale: number,
  group: string,
  outDir: string,
  tasks: readonly string[] = ["combo"],
): R[] {
  return runs.filter((r) => tasks.includes(r.options.task ?? "")).map((r) => {
    const name = `${r.name}-w${scale}`;
    return {
      ...r,
      name,
      group,
      target: `no target: the fidelity --width-scale ${scale} keeps, beside ${r.name}`,
      options: {
        ...r.options,
        settings: { widthScale: scale },
        out: join(outDir, `${name}.jsonl`),
      },
    };
  });
}

/** Kendall τ of the table's params and flops against test_acc over the ranked records. */
export async function ndsBaselines(
  space: NdsSpaceName,
  truth: string,
  report: RankReport,
): Promise<string> {
  const table = await loadNdsCellTruth(space, truth);
  const keys = report.archs.map((a) => a.key);
  const acc = keys.map((k) => table.accuracy.get(k)!);
  const tau = (m: Map<string, number>) => kendallTauB(keys.map((k) => m.get(k)!), acc).toFixed(3);
  return `params τ ${tau(table.params)}, flops τ ${tau(table.flops)} (same ${keys.length} records)`;
}
