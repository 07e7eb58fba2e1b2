/** Human-readable output of the CLI commands (stdout); progress goes to stderr. */
import type { GpuInfo } from "../gpu/device.ts";
import type { ProxyMetrics, RankReport, ScoreReport } from "../proxy/run.ts";
import type { ArchSearchReport } from "../search/arch_search.ts";
import type { TaskSearchReport } from "../search/task_search.ts";
import { formatDuration } from "../util/progress.ts";

function fmt(x: number | undefined, digits = 4): string {
  if (x === undefined) return "—";
  return Number.isFinite(x) ? x.toFixed(digits) : String(x);
}

function interval(ci: { low: number; high: number } | undefined): string {
  return ci ? ` (95% CI ${fmt(ci.low, 3)} … ${fmt(ci.high, 3)})` : "";
}

export function printInfo(info: GpuInfo): void {
  console.log(
    `adapter       ${info.adapter}${info.isFallbackAdapter ? " (software fallback)" : ""}`,
  );
  console.log(`vendor        ${info.vendor || "—"}  architecture ${info.architecture || "—"}`);
  console.log(`backend       ${info.backend} (DENO_WEBGPU_BACKEND)`);
  console.log(`device class  ${info.deviceClass} (kernel tilings)`);
  console.log(`features      ${info.features.join(", ") || "—"}`);
  console.log("limits");
  for (const [key, value] of Object.entries(info.limits)) {
    console.log(`  ${key.padEnd(36)} ${value}`);
  }
}

export function printScore(r: ScoreReport, json: boolean): void {
  if (json) {
    console.log(JSON.stringify(r, null, 2));
    return;
  }
  console.log(`space       ${r.space}`);
  console.log(`arch        ${r.arch}`);
  if (r.key !== r.arch) console.log(`key         ${r.key}`);
  console.log(`task        ${r.task} · images ${r.images} · seed ${r.seed}`);
  const gennas = r.proxies.gennas !== undefined;
  if (gennas) {
    console.log(`loss        ${fmt(r.loss, 6)} (eval loss after training; lower is better)`);
    console.log(
      `training    ${r.trainLosses.length} iterations, train loss ${fmt(r.trainLosses[0])} → ${
        fmt(r.trainLosses.at(-1))
      }`,
    );
  }
  for (const [name, value] of Object.entries(r.proxies)) {
    if (name === "gennas") continue;
    const seconds = r.proxySeconds[name as keyof typeof r.proxySeconds] ?? NaN;
    console.log(
      `${name.padEnd(11)} ${fmt(value, 6)} (higher predicts better; ${seconds.toPrecision(3)} s)`,
    );
  }
  if (r.widthScale !== undefined) console.log(`width scale ${r.widthScale} (${WIDTH_SCALE_NOTE})`);
  if (r.convBlocks) console.log(`conv blocks ${r.convBlocks} (${CONV_BLOCKS_NOTE})`);
  if (gennas && r.graph) {
    console.log(
      `cost        ${r.seconds.toFixed(2)} s · ${r.parameters.toLocaleString("en")} parameters · ` +
        `${(r.macs / 1e6).toFixed(1)} M MACs (flops) · ${r.graph.dispatchesPerIteration} ` +
        `dispatches per iteration`,
    );
  }
}

const CONV_BLOCKS_NOTE = "small register blocks: faster first compile, other summation order";

const WIDTH_SCALE_NOTE =
  "every network built at that fraction of its width; scores differ from unscaled ones";

export function printRank(r: RankReport): void {
  if (r.shard) return printShard(r);
  const m = r.metrics;
  console.log(`ranked ${m.n} architectures against ${r.truthMetric}`);
  for (const note of r.truthNotes ?? []) console.log(`truth            ${note}`);
  if (r.budget) {
    console.log(
      `budget           --max-flops ${r.budget.maxFlops} M MACs: ${r.budget.overBudget} ` +
        `archs over it not scored (the ranked sample is no longer the drawn one)`,
    );
  }
  if (r.widthScale !== undefined) {
    console.log(`width scale      ${r.widthScale} (${WIDTH_SCALE_NOTE})`);
  }
  if (r.convBlocks) console.log(`conv blocks      ${r.convBlocks} (${CONV_BLOCKS_NOTE})`);
  const primary = r.proxies[0]?.proxy ?? "gennas";
  if (primary === "gennas") {
    console.log(`sign convention  ${m.convention} (positive = lower loss ranks higher accuracy)`);
  } else {
    console.log(`proxy            ${primary} (ρ(score, accuracy): higher score predicts better)`);
  }
  console.log(`Spearman ρ       ${fmt(m.spearman)}${interval(m.spearmanCI)}`);
  console.log(`Kendall τ        ${fmt(m.kendall)}${interval(m.kendallCI)}`);
  console.log(`retrieval@top${Math.round(m.topFraction * 100)}%  ${fmt(m.retrieval, 3)}`);
  if (r.secondsPerArch > 0) {
    console.log(
      `seconds per arch ${r.secondsPerArch.toFixed(2)} (median of this run)${throughput(r)}`,
    );
  }
  printProxyTable(r.proxies);
  const withLoss = r.proxies.some((p) => p.proxy === "gennas");
  const failed = withLoss ? r.archs.filter((a) => !Number.isFinite(a.loss)).length : 0;
  if (failed) console.log(`non-finite       ${failed} losses (ranked last)`);
  if (r.journal) console.log(`journal          ${r.journal}`);
  if (r.report) console.log(`report           ${r.report}`);
}

function ciText(value: number, ci: { low: number; high: number } | undefined): string {
  return fmt(value) + (ci ? ` [${fmt(ci.low, 3)}, ${fmt(ci.high, 3)}]` : "");
}

/** The proxies side by side on the same architectures (params/flops beside GenNAS at least). */
export function printProxyTable(rows: readonly ProxyMetrics[]): void {
  const top = Math.round(rows[0].metrics.topFraction * 100);
  const table = [
    ["proxy", "Spearman ρ [95% CI]", "Kendall τ [95% CI]", `retr@${top}%`, "s/arch"],
    ...rows.map((p) => [
      p.proxy,
      ciText(p.metrics.spearman, p.metrics.spearmanCI),
      ciText(p.metrics.kendall, p.metrics.kendallCI),
      fmt(p.metrics.retrieval, 3),
      p.secondsPerArch !== undefined && Number.isFinite(p.secondsPerArch)
        ? p.secondsPerArch.toPrecision(3)
        : "—",
    ]),
  ];
  const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
  console.log("proxies side by side (same archs; gennas: −loss, others: higher predicts better)");
  for (const row of table) {
    console.log("  " + row.map((cell, c) => cell.padEnd(widths[c])).join("  ").trimEnd());
  }
}

function printShard(r: RankReport): void {
  const { index, count } = r.shard!;
  console.log(
    `shard ${index}/${count}: ${r.archs.length} architectures scored (positions ≡ ${index} mod ${count})`,
  );
  if (Number.isFinite(r.secondsPerArch)) {
    console.log(
      `seconds per arch ${r.secondsPerArch.toFixed(2)} (median of this run)${throughput(r)}`,
    );
  }
  if (r.journal) console.log(`journal          ${r.journal}`);
  console.log(
    `next             gennas merge <the ${count} shard journals> for the ranking and report`,
  );
}

export function printSearch(r: ArchSearchReport): void {
  const seconds = r.history.reduce((s, h) => s + h.seconds, 0);
  console.log(
    `${r.history.length} evaluations (${r.stoppedBy}) in ${formatDuration(seconds)} of scoring` +
      workersNote(r),
  );
  console.log(`best arch   ${r.best.arch}`);
  console.log(`best loss   ${fmt(r.best.loss, 6)} (evaluation ${r.best.index})`);
  if (r.widthScale !== undefined) {
    console.log(
      `width scale ${r.widthScale} (every network scored at that fraction of the width printed)`,
    );
  }
  if (r.convBlocks) console.log(`conv blocks ${r.convBlocks} (${CONV_BLOCKS_NOTE})`);
  if (r.truthMetric) {
    console.log(`accuracy    ${fmt(r.best.accuracy, 2)} (${r.truthMetric})`);
    console.log(
      `optimum     ${fmt(r.optimumAccuracy, 2)} in the table · regret ${fmt(r.regret, 2)}` +
        (r.trueRank ? ` · rank ${r.trueRank} of ${r.tableSize}` : ""),
    );
  }
  if (r.journal) console.log(`journal     ${r.journal}`);
  if (r.report) console.log(`report      ${r.report}`);
}

/** ", N workers at a time[ (asynchronous)][, K replaced over --max-memory]" for a search. */
function workersNote(
  r: { workers?: number; asynchronous?: boolean; recycledWorkers?: number },
): string {
  if (r.workers === undefined) return "";
  return `, ${r.workers} worker${r.workers === 1 ? "" : "s"} at a time` +
    (r.asynchronous ? " (asynchronous)" : "") +
    (r.recycledWorkers ? `, ${r.recycledWorkers} replaced over --max-memory` : "");
}

export function printTaskSearch(r: TaskSearchReport): void {
  console.log(
    `${r.history.length} task configs (${r.stoppedBy}) on ${r.labelled} labelled architectures` +
      workersNote(r),
  );
  console.log(
    `best ρ(−loss, accuracy) ${fmt(r.best.rho)} · Kendall τ ${
      fmt(r.best.kendall)
    } (config ${r.best.index})`,
  );
  if (r.bestPath) console.log(`best task   ${r.bestPath} (use with --task)`);
  if (r.journal) console.log(`journal     ${r.journal}`);
  if (r.report) console.log(`report      ${r.report}`);
}

/** ", X s of wall time per arch with N workers" when the run scored in workers. */
function throughput(r: RankReport): string {
  return r.wallSecondsPerArch === undefined
    ? ""
    : `; ${r.wallSecondsPerArch.toFixed(2)} s of wall time per arch with ${r.workers} ` +
      `worker${r.workers === 1 ? "" : "s"}` +
      (r.recycledWorkers ? `, ${r.recycledWorkers} replaced over --max-memory` : "");
}
