/**
 * Cross-check of gennas' zero-cost proxies against NASLib's values (NAS-Bench-Suite-Zero), and
 * their seconds per architecture on this machine. Not in CI.
 *
 *   deno run -A bench/zc_naslib.ts [--space nb201|nb101] [--n 30] [--seed 0]
 *     [--proxies params,flops,grad_norm,snip,synflow,jacob_cov]
 *
 * Draws --n architectures (seeded) from nb201_naslib_zc_725.jsonl or nb101_naslib_zc_sample.jsonl
 * and prints, per proxy, Spearman(ours, NASLib's) on them, both proxies' Spearman and Kendall τ
 * with the table's accuracy (NASLib's val_accuracy on CIFAR-10 / val_acc_mean_of_samples), and
 * the median seconds per architecture after the first two (which compile the shaders).
 */
import { benchArgs } from "./args.ts";
import process from "node:process";
import { join } from "node:path";
import { kendallTauB, spearman } from "../src/eval/metrics.ts";
import { archCost } from "../src/proxy/cost.ts";
import { parseProxies } from "../src/proxy/proxies.ts";
import { prepareBase } from "../src/proxy/run.ts";
import { NASWOT_BATCH, scoreZeroCost, ZERO_COST_BATCH } from "../src/proxy/zero_cost.ts";
import { Rng } from "../src/util/rng.ts";

const { values } = benchArgs(
  {
    options: {
      space: { type: "string", default: "nb201" },
      n: { type: "string", default: "30" },
      seed: { type: "string", default: "0" },
      proxies: { type: "string", default: "params,flops,grad_norm,snip,synflow,jacob_cov" },
    },
  },
  `deno run -A bench/zc_naslib.ts [--space nb201|nb101] [--n 30] [--seed 0] [--proxies params,flops,grad_norm,snip,synflow,jacob_cov]`,
);
const dataDir = Deno.env.get("GENNAS_DATA") ??
  new URL("../../shared/data/", import.meta.url).pathname;
const NASLIB_KEY: Record<string, string> = {
  params: "params",
  flops: "flops",
  grad_norm: "grad_norm",
  snip: "snip",
  synflow: "synflow",
  jacob_cov: "jacov",
  naswot: "nwot",
  fisher: "fisher",
  grasp: "grasp",
};

const space = values.space!;
const file = space === "nb201" ? "nb201_naslib_zc_725.jsonl" : "nb101_naslib_zc_sample.jsonl";
const rows = (await Deno.readTextFile(join(dataDir, file))).trim().split("\n")
  .map((l) => JSON.parse(l.replace(/-Infinity/g, "-1e308").replace(/\bNaN\b/g, "null")));
const picked = new Rng(Number(values.seed)).fork("zc-naslib").sample(rows, Number(values.n));
const names = parseProxies({ proxies: values.proxies });
const ctx = await prepareBase({
  space,
  images: join(dataDir, "cifar10_test_first256.bin"),
  settings: { seed: Number(values.seed) },
});

// deno-lint-ignore no-explicit-any
type Row = Record<string, any>;
const naslib = (row: Row, name: string): number => {
  if (space === "nb201") return row.cifar10.zc[NASLIB_KEY[name]];
  if (name === "params") return row.params_M;
  if (name === "flops") return row.flops_M;
  return row.zc_naslib[NASLIB_KEY[name]];
};
const accuracy = (row: Row) =>
  space === "nb201" ? row.cifar10.val_accuracy : row.val_acc_mean_of_samples;

const ours = new Map(names.map((n) => [n, [] as number[]]));
const seconds = new Map(names.map((n) => [n, [] as number[]]));
// CPU seconds of the whole process (all lavapipe threads) per arch: less sensitive than wall
// time to other load on a shared machine.
const cpuSeconds: number[] = [];
for (const [i, row] of picked.entries()) {
  const arch = space === "nb201"
    ? ctx.space.parse(row.arch)
    : ctx.space.fromTable(row.hash, { matrix: row.matrix, ops: row.ops });
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  const cost = archCost(ctx.space, arch, ctx.settings);
  const counted = (performance.now() - started) / 1000;
  const zc = await scoreZeroCost(ctx, arch, names.filter((n) => !["params", "flops"].includes(n)));
  for (const name of names) {
    const value = name === "params" ? cost.params : name === "flops" ? cost.macs : zc.values[name];
    ours.get(name)!.push(value ?? NaN);
    seconds.get(name)!.push(name === "params" || name === "flops" ? counted : zc.seconds[name]!);
  }
  const cpu = process.cpuUsage(cpuStart);
  cpuSeconds.push((cpu.user + cpu.system) / 1e6);
  console.error(
    `${i + 1}/${picked.length} ${JSON.stringify(zc.values)} ${JSON.stringify(zc.seconds)}`,
  );
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};
const acc = picked.map(accuracy);
const finite = (v: number) => Number.isFinite(v) ? v : -Infinity;
console.log(
  `${space}: ${picked.length} archs (seed ${values.seed}), batch ${ZERO_COST_BATCH} (naswot ${NASWOT_BATCH}), ` +
    `init channels ${ctx.settings.initChannels}, ${ctx.gpu.adapterInfo.description}`,
);
console.log(
  `CPU seconds per arch, all requested proxies together: ${
    median(cpuSeconds.slice(2)).toPrecision(3)
  } (median, warm; load average ${Deno.loadavg()[0].toFixed(1)})`,
);
console.log(
  "proxy      ρ(ours, NASLib)  ρ(ours, acc)  ρ(NASLib, acc)  τ(ours, acc)  τ(NASLib, acc)  " +
    "s/arch (median, warm)",
);
for (const name of names) {
  const mine = ours.get(name)!.map(finite);
  const theirs = picked.map((r) => finite(naslib(r, name)));
  const warm = seconds.get(name)!.slice(2);
  console.log(
    `${name.padEnd(10)} ${spearman(mine, theirs).toFixed(3).padStart(15)}  ${
      spearman(mine, acc).toFixed(3).padStart(12)
    }  ${spearman(theirs, acc).toFixed(3).padStart(14)}  ${
      kendallTauB(mine, acc).toFixed(3).padStart(12)
    }  ${kendallTauB(theirs, acc).toFixed(3).padStart(14)}  ${median(warm).toPrecision(3)}`,
  );
}
