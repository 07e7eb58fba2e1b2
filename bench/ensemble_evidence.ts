/**
 * Evidence for the label-free ensemble's recipe (issue 12): joins journals of `gennas rank` on
 * the same NB-201 archs (one with the GenNAS loss, others with zero-cost proxies), and prints
 * Kendall τ / Spearman ρ of every proxy and of rank-aggregation ensembles over several member
 * sets, against each NB-201 dataset. Params and FLOPs are counted here (src/proxy/cost.ts).
 * Use it on nb201_gennas_sample_0.txt archs only: the recipe is chosen there (never _1 or _2).
 *
 *   deno run -A bench/ensemble_evidence.ts JOURNAL... [--truth ../shared/data/nb201.csv]
 */
import { benchArgs } from "./args.ts";
import { kendallTauB, rankAverage, spearman } from "../src/eval/metrics.ts";
import { loadNb201Truth, NB201_DATASETS } from "../src/eval/truth.ts";
import { archCost } from "../src/proxy/cost.ts";
import { getSpace } from "../src/spaces/index.ts";
import { readJournal } from "../src/util/journal.ts";

const { values, positionals } = benchArgs({
  allowPositionals: true,
  options: { truth: { type: "string" }, "init-channels": { type: "string", default: "16" } },
}, `deno run -A bench/ensemble_evidence.ts JOURNAL... [--truth ../shared/data/nb201.csv]`);
const truthPath = values.truth ??
  new URL("../../shared/data/nb201.csv", import.meta.url).pathname;

interface Record {
  type: string;
  key: string;
  arch: string;
  loss: number | null;
  proxies?: { [name: string]: number };
}

// key → proxy → value (higher predicts better; gennas as −loss)
const table = new Map<string, Map<string, number>>();
for (const path of positionals) {
  const { records } = await readJournal<Record>(path);
  for (const r of records) {
    if (r.type !== "score") continue;
    const row = table.get(r.key) ?? new Map<string, number>();
    if (typeof r.loss === "number") row.set("gennas", -r.loss);
    for (const [name, v] of Object.entries(r.proxies ?? {})) row.set(name, v);
    table.set(r.key, row);
  }
}
const space = getSpace("nb201");
for (const [key, row] of table) {
  const cost = archCost(space, space.parse(key), {
    initChannels: Number(values["init-channels"]),
  });
  row.set("params", cost.params);
  row.set("flops", cost.macs);
}
const names = [...new Set([...table.values()].flatMap((r) => [...r.keys()]))];
const keys = [...table.keys()].filter((k) => names.every((n) => table.get(k)!.has(n)));
console.log(`${keys.length} archs carry every proxy (${names.join(", ")})`);

const value = (name: string) =>
  keys.map((k) => {
    const v = table.get(k)!.get(name)!;
    return Number.isFinite(v) ? v : -Infinity;
  });
/** Σ_m log(rank_m / n), rank 1 = worst (as src/proxy/ranking.ts ensembleScores). */
function ensemble(members: string[]): number[] {
  const n = keys.length;
  const total = new Array<number>(n).fill(0);
  for (const m of members) rankAverage(value(m)).forEach((r, i) => total[i] += Math.log(r / n));
  return total;
}

const candidates: [string, number[]][] = names.map((n) => [n, value(n)]);
const sets = [
  ["gennas", "synflow", "jacob_cov", "flops"],
  ["gennas", "synflow", "flops"],
  ["gennas", "synflow", "jacob_cov"],
  ["gennas", "jacob_cov", "flops"],
  ["gennas", "flops"],
  ["gennas", "synflow"],
  ["synflow", "jacob_cov", "flops"],
  ["gennas", "synflow", "jacob_cov", "snip", "flops"],
].filter((s) => s.every((m) => names.includes(m)));
for (const s of sets) candidates.push([`ens(${s.join("+")})`, ensemble(s)]);

const finite = (xs: number[]) => xs.map((x) => (Number.isFinite(x) ? x : -1e300));
for (const dataset of NB201_DATASETS) {
  const truth = await loadNb201Truth(truthPath, dataset);
  const acc = keys.map((k) => truth.accuracy.get(k)!);
  console.log(`\n${dataset} (${keys.length} archs)`);
  console.log(`  ${"proxy".padEnd(46)} Kendall τ  Spearman ρ`);
  for (const [name, xs] of candidates) {
    const x = finite(xs);
    console.log(
      `  ${name.padEnd(46)} ${kendallTauB(x, acc).toFixed(3).padStart(9)}  ${
        spearman(x, acc).toFixed(3).padStart(10)
      }`,
    );
  }
}
