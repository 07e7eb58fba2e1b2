/** The side-by-side proxy table of a rank report (every proxy on the same architectures). */
import { topCount } from "./metrics.ts";
import type { RankingMetrics } from "./metrics.ts";
import { escapeHtml, formatInterval, formatNumber } from "./format.ts";

/** One row of the side-by-side proxy table: a proxy's metrics on the same architectures. */
export interface ProxyRow {
  proxy: string;
  metrics: RankingMetrics;
  /** Median seconds per architecture; the column is left out when no row has it. */
  secondsPerArch?: number;
}

/** ρ and τ (with intervals), retrieval and seconds per arch, one row per proxy. */
export function proxyTable(rows: readonly ProxyRow[]): string {
  const timed = rows.some((p) => p.secondsPerArch !== undefined);
  const first = rows[0].metrics;
  const k = topCount(first.n, first.topFraction);
  const heads = [
    "proxy",
    "Spearman ρ",
    "Kendall τ-b",
    `retrieval @ top ${formatNumber(first.topFraction * 100, 3)} % (K = ${k})`,
    ...(timed ? ["s / arch"] : []),
  ];
  const cell = (text: string) => `<td class="num">${escapeHtml(text)}</td>`;
  const lines = rows.map((p) => {
    const m = p.metrics;
    const cells = [
      `<th>${escapeHtml(p.proxy)}</th>`,
      cell(formatNumber(m.spearman) + formatInterval(m.spearmanCI)),
      cell(formatNumber(m.kendall) + formatInterval(m.kendallCI)),
      cell(formatNumber(m.retrieval)),
      // Timings differ run to run; the class lets a comparison of two reports skip them.
      ...(timed
        ? [
          `<td class="num secs">${
            p.secondsPerArch === undefined ? "—" : formatNumber(p.secondsPerArch)
          }</td>`,
        ]
        : []),
    ];
    return `<tr>${cells.join("")}</tr>`;
  });
  const head = `<tr>${heads.map((h) => `<th>${escapeHtml(h)}</th>`).join("")}</tr>`;
  const note = `Every row ranks the same ${first.n} architectures against the same accuracies, ` +
    `intervals from the same bootstrap resamples. Score = −loss for gennas; every other proxy ` +
    `is a score where higher predicts higher accuracy (params and flops: parameters and ` +
    `multiply-accumulates per 32×32 sample of the classification network). s / arch: median ` +
    `seconds per architecture; params and flops are counted without a GPU.`;
  return `<table>${head}${lines.join("")}</table>\n<p class="note">${escapeHtml(note)}</p>`;
}
