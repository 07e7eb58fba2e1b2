/**
 * Self-contained HTML reports (inline CSS and SVG, no scripts, nothing fetched): a ranking report
 * (GenNAS loss vs ground-truth accuracy) and a search report (best-so-far curve of a search).
 * Every piece of caller text goes through escapeHtml.
 */
import { type RankingMetrics, scoreFromLoss, topCount } from "./metrics.ts";
import { InputError } from "../util/errors.ts";
import { escapeHtml, formatInterval, formatNumber } from "./format.ts";
import { type ProxyRow, proxyTable } from "./report_proxies.ts";

export type { ProxyRow };

export interface RankPoint {
  label: string;
  loss: number;
  accuracy: number;
}

/**
 * One evaluation of a search. `loss` is the quantity the search optimises: the GenNAS loss by
 * default, or e.g. the fitness ρ of a proxy-task search (name it with SearchQuantity).
 */
export interface SearchEvaluation {
  index: number;
  label: string;
  loss: number;
  accuracy?: number;
  /** If absent, the accuracy of the best-`loss` evaluation so far (what the search would return). */
  bestSoFarAccuracy?: number;
}

/** What `SearchEvaluation.loss` holds, e.g. { name: "fitness ρ", higherIsBetter: true }. */
export interface SearchQuantity {
  name: string;
  higherIsBetter: boolean;
}

const DEFAULT_QUANTITY: SearchQuantity = { name: "GenNAS loss", higherIsBetter: false };

export { escapeHtml };

/** Predicted-vs-true scatter, metrics (with the sign convention), proxies side by side, settings. */
export function renderRankReport(o: {
  title: string;
  settings: Record<string, unknown>;
  metrics: RankingMetrics;
  points: RankPoint[];
  /** GenNAS and the baselines (params, flops, …) on the same architectures. */
  proxies?: ProxyRow[];
  /** One scatter per other proxy: `loss` holds the proxy's value (higher predicts better). */
  scatters?: { proxy: string; points: RankPoint[] }[];
  /** Draw the GenNAS-loss scatter and metrics (false when gennas was not computed). */
  showLoss?: boolean;
}): string {
  const body: string[] = [];
  if (o.showLoss ?? true) {
    body.push(
      `<h2>GenNAS loss vs ground-truth accuracy</h2>`,
      rankScatter(o.points),
      `<h2>Ranking metrics</h2>`,
      metricsTable(o.metrics),
    );
  }
  if (o.proxies && o.proxies.length > 0) {
    body.push(`<h2>Proxies side by side (same architectures)</h2>`, proxyTable(o.proxies));
  }
  for (const scatter of o.scatters ?? []) {
    body.push(
      `<h2>${escapeHtml(scatter.proxy)} vs ground-truth accuracy</h2>`,
      rankScatter(scatter.points, scatter.proxy),
    );
  }
  body.push(
    `<h2>Settings</h2>`,
    settingsTable(o.settings),
  );
  return htmlDocument(o.title, body.join("\n"));
}

/**
 * Best-so-far accuracy vs evaluations (when accuracies are known), the optimised quantity of
 * each evaluation, and the regret of `best` against `optimumAccuracy`.
 */
export function renderSearchReport(o: {
  title: string;
  settings: Record<string, unknown>;
  history: SearchEvaluation[];
  best: SearchEvaluation;
  optimumAccuracy?: number;
  quantity?: SearchQuantity;
}): string {
  const quantity = o.quantity ?? DEFAULT_QUANTITY;
  const bestSoFar = bestSoFarAccuracies(o.history, quantity);
  const body = [
    `<h2>Result</h2>`,
    searchSummary(o.history, o.best, quantity, o.optimumAccuracy),
  ];
  if (bestSoFar.some((a) => a !== undefined)) {
    body.push(
      `<h2>Best-so-far accuracy vs evaluations</h2>`,
      bestSoFarChart(o.history, bestSoFar, o.optimumAccuracy),
    );
  }
  body.push(
    `<h2>${escapeHtml(quantity.name)} of each evaluation</h2>`,
    quantityChart(o.history, quantity),
    `<h2>Settings</h2>`,
    settingsTable(o.settings),
  );
  return htmlDocument(o.title, body.join("\n"));
}

/** Writes through a temporary file and a rename, so readers never see a half-written report. */
export async function writeReport(path: string, html: string): Promise<void> {
  const temp = `${path}.${Deno.pid}.${++tempCounter}.tmp`;
  try {
    const dir = parentDirectory(path);
    if (dir !== "") await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(temp, html);
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    const reason = error instanceof Error ? error.message : String(error);
    throw new InputError(`report: cannot write "${path}": ${reason}`);
  }
}

let tempCounter = 0;

function parentDirectory(path: string): string {
  const slash = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return slash <= 0 ? "" : path.slice(0, slash);
}

// ---------------------------------------------------------------------------------------------
// Document and tables

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px auto; max-width: 900px; color: #222; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
p.note { color: #555; }
svg { background: #fff; } svg text { font: 11px system-ui, sans-serif; fill: #333; }
.grid { stroke: #eee; } .axis { stroke: #444; }
.pt { fill: #2b6cb0; fill-opacity: 0.6; } .pt:hover { fill: #c05621; fill-opacity: 1; }
.bad { stroke: #c53030; stroke-width: 1.5; } .strip { fill: #fff5f5; stroke: #c53030; stroke-dasharray: 4 3; }
.curve { fill: none; stroke: #2f855a; stroke-width: 2; } .optimum { stroke: #805ad5; stroke-dasharray: 6 4; }
.faint { fill: #a0aec0; fill-opacity: 0.6; }
`.trim();

function htmlDocument(title: string, body: string): string {
  return [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>\n${STYLE}\n</style>`,
    "</head>",
    "<body>",
    `<h1>${escapeHtml(title)}</h1>`,
    body,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

function table(rows: [string, string][], header?: [string, string]): string {
  const head = header
    ? `<tr><th>${escapeHtml(header[0])}</th><th>${escapeHtml(header[1])}</th></tr>`
    : "";
  const cells = rows.map(([k, v]) => {
    const numeric = /^[-−+]?[\d.∞]/.test(v) ? ' class="num"' : "";
    return `<tr><th>${escapeHtml(k)}</th><td${numeric}>${escapeHtml(v)}</td></tr>`;
  });
  return `<table>${head}${cells.join("")}</table>`;
}

function metricsTable(m: RankingMetrics): string {
  const k = topCount(m.n, m.topFraction);
  const rows: [string, string][] = [
    ["architectures (n)", String(m.n)],
    ["Spearman ρ", formatNumber(m.spearman) + formatInterval(m.spearmanCI)],
    ["Kendall τ-b", formatNumber(m.kendall) + formatInterval(m.kendallCI)],
    [
      `retrieving rate @ top ${formatNumber(m.topFraction * 100, 3)} % (K = ${k})`,
      formatNumber(m.retrieval),
    ],
  ];
  const note = `Sign convention: ${m.convention}. The score of an architecture is −loss, so a ` +
    `positive correlation means lower GenNAS loss predicts higher accuracy. Non-finite losses ` +
    `rank last, tied. NaN means the correlation is undefined (e.g. constant input).`;
  return `${table(rows)}\n<p class="note">${escapeHtml(note)}</p>`;
}

function settingsTable(settings: Record<string, unknown>): string {
  const rows = Object.entries(settings).map(([k, v]): [string, string] => [k, formatSetting(v)]);
  return rows.length > 0 ? table(rows, ["setting", "value"]) : `<p class="note">none</p>`;
}

function formatSetting(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function formatTick(value: number): string {
  return Number(value.toPrecision(3)).toString();
}

// ---------------------------------------------------------------------------------------------
// Search summary and best-so-far accuracies

function isBetter(a: number, b: number, quantity: SearchQuantity): boolean {
  const score = (v: number) =>
    quantity.higherIsBetter ? (Number.isFinite(v) ? v : -Infinity) : scoreFromLoss(v);
  return score(a) > score(b);
}

function bestSoFarAccuracies(
  history: readonly SearchEvaluation[],
  quantity: SearchQuantity,
): (number | undefined)[] {
  let best: SearchEvaluation | undefined;
  return history.map((e) => {
    if (best === undefined || isBetter(e.loss, best.loss, quantity)) best = e;
    return e.bestSoFarAccuracy ?? best.accuracy;
  });
}

function searchSummary(
  history: readonly SearchEvaluation[],
  best: SearchEvaluation,
  quantity: SearchQuantity,
  optimumAccuracy: number | undefined,
): string {
  const rows: [string, string][] = [
    ["evaluations", String(history.length)],
    ["best architecture", best.label],
    ["found at evaluation", String(best.index)],
    [
      `best ${quantity.name} (${quantity.higherIsBetter ? "higher" : "lower"} is better)`,
      formatNumber(best.loss, 6),
    ],
  ];
  if (best.accuracy !== undefined) {
    rows.push(["accuracy of the best (%)", formatNumber(best.accuracy)]);
  }
  if (optimumAccuracy !== undefined) {
    rows.push(["optimum accuracy in the space (%)", formatNumber(optimumAccuracy)]);
    rows.push([
      "regret (optimum − best, points)",
      best.accuracy === undefined
        ? "unknown (no accuracy for the best)"
        : formatNumber(optimumAccuracy - best.accuracy),
    ]);
  }
  return table(rows);
}

// ---------------------------------------------------------------------------------------------
// Charts

interface Axis {
  log: boolean;
  /** domain in transformed (log10 if `log`) units */
  lo: number;
  hi: number;
  pixelLo: number;
  pixelHi: number;
}

interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
  width: number;
  height: number;
}

function chartBox(extraRight = 0): Box {
  const width = 760 + extraRight;
  const height = 440;
  return { left: 70, top: 16, right: width - 24 - extraRight, bottom: height - 50, width, height };
}

/** Log scale when every value is positive and they span more than one decade. */
function makeAxis(
  values: readonly number[],
  pixelLo: number,
  pixelHi: number,
  allowLog: boolean,
): Axis {
  const finite = values.filter(Number.isFinite);
  const min = finite.length > 0 ? Math.min(...finite) : 0;
  const max = finite.length > 0 ? Math.max(...finite) : 1;
  const log = allowLog && min > 0 && max / min > 10;
  let lo = log ? Math.log10(min) : min;
  let hi = log ? Math.log10(max) : max;
  if (hi === lo) {
    lo -= 0.5;
    hi += 0.5;
  }
  const pad = (hi - lo) * 0.05;
  return { log, lo: lo - pad, hi: hi + pad, pixelLo, pixelHi };
}

function project(axis: Axis, value: number): number {
  const t = axis.log ? Math.log10(value) : value;
  return axis.pixelLo + ((t - axis.lo) / (axis.hi - axis.lo)) * (axis.pixelHi - axis.pixelLo);
}

function ticks(axis: Axis): number[] {
  return axis.log ? logTicks(axis.lo, axis.hi) : linearTicks(axis.lo, axis.hi);
}

function linearTicks(lo: number, hi: number): number[] {
  const rough = (hi - lo) / 6;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return out;
}

function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  const multipliers = Math.floor(hi) - Math.ceil(lo) < 2 ? [1, 2, 5] : [1];
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
    for (const m of multipliers) {
      const v = m * 10 ** e;
      if (Math.log10(v) >= lo && Math.log10(v) <= hi) out.push(v);
    }
  }
  return out;
}

function svgText(x: number, y: number, text: string, attrs = ""): string {
  return `<text x="${r(x)}" y="${r(y)}" ${attrs}>${escapeHtml(text)}</text>`;
}

function r(v: number): string {
  return String(Math.round(v * 10) / 10);
}

function frame(box: Box, x: Axis, y: Axis, xLabel: string, yLabel: string): string {
  const parts: string[] = [];
  for (const t of ticks(x)) {
    const px = project(x, t);
    parts.push(
      `<line class="grid" x1="${r(px)}" x2="${r(px)}" y1="${box.top}" y2="${box.bottom}"/>`,
    );
    parts.push(svgText(px, box.bottom + 16, formatTick(t), 'text-anchor="middle"'));
  }
  for (const t of ticks(y)) {
    const py = project(y, t);
    parts.push(
      `<line class="grid" x1="${box.left}" x2="${box.right}" y1="${r(py)}" y2="${r(py)}"/>`,
    );
    parts.push(svgText(box.left - 6, py + 4, formatTick(t), 'text-anchor="end"'));
  }
  parts.push(
    `<rect class="axis" fill="none" x="${box.left}" y="${box.top}" width="${
      box.right - box.left
    }" height="${box.bottom - box.top}"/>`,
  );
  parts.push(
    svgText(
      (box.left + box.right) / 2,
      box.bottom + 38,
      xLabel + (x.log ? " (log scale)" : ""),
      'text-anchor="middle"',
    ),
  );
  const midY = (box.top + box.bottom) / 2;
  parts.push(
    svgText(
      18,
      midY,
      yLabel + (y.log ? " (log scale)" : ""),
      `text-anchor="middle" transform="rotate(-90 18 ${r(midY)})"`,
    ),
  );
  return parts.join("\n");
}

function svg(box: Box, content: string[], description: string): string {
  return `<svg width="${box.width}" height="${box.height}" viewBox="0 0 ${box.width} ${box.height}" role="img" aria-label="${
    escapeHtml(description)
  }">\n${content.join("\n")}\n</svg>`;
}

function circle(cx: number, cy: number, cls: string, title: string): string {
  return `<circle class="${cls}" cx="${r(cx)}" cy="${r(cy)}" r="3.5"><title>${
    escapeHtml(title)
  }</title></circle>`;
}

function cross(cx: number, cy: number, title: string): string {
  const d = 4;
  return `<path class="bad" d="M${r(cx - d)} ${r(cy - d)}L${r(cx + d)} ${r(cy + d)}M${r(cx - d)} ${
    r(cy + d)
  }L${r(cx + d)} ${r(cy - d)}"><title>${escapeHtml(title)}</title></path>`;
}

const STRIP_WIDTH = 90;

/** With `proxy`, `loss` holds that proxy's value (higher predicts better), drawn linearly. */
function rankScatter(points: readonly RankPoint[], proxy?: string): string {
  const finite = points.filter((p) => Number.isFinite(p.loss));
  const nonFinite = points.filter((p) => !Number.isFinite(p.loss));
  const box = chartBox(nonFinite.length > 0 ? STRIP_WIDTH + 10 : 0);
  const x = makeAxis(finite.map((p) => p.loss), box.left, box.right, proxy === undefined);
  const y = makeAxis(points.map((p) => p.accuracy), box.bottom, box.top, false);
  const quantity = proxy ?? "loss";
  const describe = (p: RankPoint) =>
    `${p.label} — ${quantity} ${formatNumber(p.loss, 6)}, accuracy ${formatNumber(p.accuracy)} %`;
  const xLabel = proxy
    ? `${proxy} (higher predicts better)`
    : "GenNAS loss (lower predicts better)";
  const content = [frame(box, x, y, xLabel, "ground-truth accuracy (%)")];
  for (const p of finite) {
    content.push(circle(project(x, p.loss), project(y, p.accuracy), "pt", describe(p)));
  }
  if (nonFinite.length > 0) content.push(nonFiniteStrip(box, y, nonFinite, describe));
  const caption =
    `${points.length} architectures; ${nonFinite.length} with a non-finite ${quantity}` +
    (nonFinite.length > 0 ? " (marked × in the red strip on the right, ranked last)." : ".") +
    " Hover a point for its label.";
  return `${
    svg(box, content, `scatter of ${proxy ?? "GenNAS loss"} against accuracy`)
  }\n<p class="note">${escapeHtml(caption)}</p>`;
}

function nonFiniteStrip(
  box: Box,
  y: Axis,
  points: readonly RankPoint[],
  describe: (p: RankPoint) => string,
): string {
  const left = box.right + 10;
  const center = left + STRIP_WIDTH / 2;
  const parts = [
    `<rect class="strip" x="${left}" y="${box.top}" width="${STRIP_WIDTH}" height="${
      box.bottom - box.top
    }"/>`,
    svgText(center, box.bottom + 16, `non-finite (${points.length})`, 'text-anchor="middle"'),
  ];
  // Deterministic horizontal spread so coincident markers stay visible.
  points.forEach((p, i) => {
    const jitter = ((i * 37) % 61) - 30;
    parts.push(cross(center + jitter, project(y, p.accuracy), describe(p)));
  });
  return parts.join("\n");
}

function bestSoFarChart(
  history: readonly SearchEvaluation[],
  bestSoFar: readonly (number | undefined)[],
  optimumAccuracy: number | undefined,
): string {
  const box = chartBox();
  const accuracies = history.map((e) => e.accuracy).filter((a): a is number => a !== undefined);
  const curveValues = bestSoFar.filter((a): a is number => a !== undefined);
  const yValues = [
    ...accuracies,
    ...curveValues,
    ...(optimumAccuracy === undefined ? [] : [optimumAccuracy]),
  ];
  const x = makeAxis(history.map((e) => e.index), box.left, box.right, false);
  const y = makeAxis(yValues, box.bottom, box.top, false);
  const content = [frame(box, x, y, "evaluations", "accuracy (%)")];
  for (const e of history) {
    if (e.accuracy !== undefined && Number.isFinite(e.accuracy)) {
      content.push(
        circle(
          project(x, e.index),
          project(y, e.accuracy),
          "faint",
          `#${e.index} ${e.label} — accuracy ${formatNumber(e.accuracy)} %`,
        ),
      );
    }
  }
  content.push(`<path class="curve" d="${stepPath(history, bestSoFar, x, y)}"/>`);
  if (optimumAccuracy !== undefined) {
    const py = project(y, optimumAccuracy);
    content.push(
      `<line class="optimum" x1="${box.left}" x2="${box.right}" y1="${r(py)}" y2="${r(py)}"/>`,
    );
    content.push(
      svgText(
        box.right - 4,
        py - 4,
        `optimum ${formatNumber(optimumAccuracy)} %`,
        'text-anchor="end"',
      ),
    );
  }
  const caption =
    "Green: accuracy of the architecture the search would return after each evaluation " +
    "(best-so-far). Grey: accuracy of each evaluated architecture." +
    (optimumAccuracy === undefined ? "" : " Dashed: best accuracy in the space.");
  return `${svg(box, content, "best-so-far accuracy against evaluations")}\n<p class="note">${
    escapeHtml(caption)
  }</p>`;
}

function stepPath(
  history: readonly SearchEvaluation[],
  values: readonly (number | undefined)[],
  x: Axis,
  y: Axis,
): string {
  const commands: string[] = [];
  history.forEach((e, i) => {
    const v = values[i];
    if (v === undefined || !Number.isFinite(v)) return;
    const px = r(project(x, e.index));
    const py = r(project(y, v));
    commands.push(commands.length === 0 ? `M${px} ${py}` : `H${px}V${py}`);
  });
  return commands.join("");
}

function quantityChart(history: readonly SearchEvaluation[], quantity: SearchQuantity): string {
  const box = chartBox();
  const finite = history.filter((e) => Number.isFinite(e.loss));
  const x = makeAxis(history.map((e) => e.index), box.left, box.right, false);
  const y = makeAxis(finite.map((e) => e.loss), box.bottom, box.top, true);
  const content = [frame(box, x, y, "evaluations", quantity.name)];
  for (const e of finite) {
    const acc = e.accuracy === undefined ? "" : `, accuracy ${formatNumber(e.accuracy)} %`;
    content.push(
      circle(
        project(x, e.index),
        project(y, e.loss),
        "pt",
        `#${e.index} ${e.label} — ${quantity.name} ${formatNumber(e.loss, 6)}${acc}`,
      ),
    );
  }
  content.push(
    `<path class="curve" d="${stepPath(history, bestSoFarQuantity(history, quantity), x, y)}"/>`,
  );
  const omitted = history.length - finite.length;
  const caption =
    `Blue: ${quantity.name} of each evaluation (${
      quantity.higherIsBetter ? "higher" : "lower"
    } is better). ` +
    `Green: best so far.` +
    (omitted > 0 ? ` ${omitted} evaluation(s) with a non-finite value are not drawn.` : "");
  return `${svg(box, content, `${quantity.name} against evaluations`)}\n<p class="note">${
    escapeHtml(caption)
  }</p>`;
}

function bestSoFarQuantity(
  history: readonly SearchEvaluation[],
  quantity: SearchQuantity,
): (number | undefined)[] {
  let best: number | undefined;
  return history.map((e) => {
    if (Number.isFinite(e.loss) && (best === undefined || isBetter(e.loss, best, quantity))) {
      best = e.loss;
    }
    return best;
  });
}
