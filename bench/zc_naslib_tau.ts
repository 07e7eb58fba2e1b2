/**
 * Kendall τ and Spearman ρ of a per-arch proxy table written from a bench/zc_naslib.ts run
 * (bench/results/proxies/zc_naslib-725-jacob_cov-synflow.jsonl: arch, our values, NASLib's values
 * and val accuracy), against NASLib's CIFAR-10 val accuracy and nb201.csv's cifar10_test. Not in CI.
 *
 *   deno run -A bench/zc_naslib_tau.ts [TABLE.jsonl]
 */
import { join } from "node:path";
import { kendallTauB, spearman } from "../src/eval/metrics.ts";
import { loadNb201Truth } from "../src/eval/truth.ts";

const path = Deno.args[0] ??
  new URL("results/proxies/zc_naslib-725-jacob_cov-synflow.jsonl", import.meta.url).pathname;
const dataDir = Deno.env.get("GENNAS_DATA") ??
  new URL("../../shared/data/", import.meta.url).pathname;
// deno-lint-ignore no-explicit-any
const rows: any[] = (await Deno.readTextFile(path)).trim().split("\n").map((l) => JSON.parse(l));
const test = await loadNb201Truth(join(dataDir, "nb201.csv"), "cifar10");
const finite = (v: number | null) => v !== null && Number.isFinite(v) ? v : -1e300;
const val = rows.map((r) => r.naslib_val_accuracy);
const tst = rows.map((r) => test.accuracy.get(r.arch) ?? NaN);
for (const [name, key] of [["jacob_cov", "naslib_jacov"], ["synflow", "naslib_synflow"]]) {
  const ours = rows.map((r) => finite(r[name]));
  const theirs = rows.map((r) => finite(r[key]));
  console.log(
    `${name} (${rows.length} cells): ρ(ours, NASLib) ${spearman(ours, theirs).toFixed(3)} · ` +
      `τ vs val: ours ${kendallTauB(ours, val).toFixed(3)}, NASLib ${
        kendallTauB(theirs, val).toFixed(3)
      } · τ vs test: ours ${kendallTauB(ours, tst).toFixed(3)}, NASLib ${
        kendallTauB(theirs, tst).toFixed(3)
      }`,
  );
}
