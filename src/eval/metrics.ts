/**
 * Ranking metrics for GenNAS (spec §6.2): Spearman ρ and Kendall τ-b between proxy scores and
 * ground-truth accuracy, the retrieving rate of the top-K, and percentile-bootstrap intervals.
 *
 * Conventions shared by every function here:
 * - A correlation that is undefined (n < 2, a constant input, or a NaN in either input) is NaN,
 *   as scipy.stats returns it; callers print it as undefined rather than failing.
 * - Comparisons use `<`/`>` (never subtraction), so ±Infinity sorts and ties like any number.
 * - The proxy score of a GenNAS loss is −loss (lower loss predicts higher accuracy); a non-finite
 *   loss (a diverged run) scores −Infinity, so such archs rank last, tied among themselves.
 */
import type { Rng } from "../util/rng.ts";

/** The sign convention every reported correlation follows. */
export const SIGN_CONVENTION = "ρ(−loss, accuracy)" as const;

export interface Interval {
  low: number;
  high: number;
}

export interface RankingMetrics {
  n: number;
  spearman: number;
  kendall: number;
  /** |top-K by score ∩ top-K by accuracy| / K, K = round(topFraction·n) ≥ 1. */
  retrieval: number;
  topFraction: number;
  kendallCI?: Interval;
  spearmanCI?: Interval;
  convention: typeof SIGN_CONVENTION;
}

/** Proxy score of a loss: −loss; NaN and ±Infinity (diverged runs) become −Infinity. */
export function scoreFromLoss(loss: number): number {
  return Number.isFinite(loss) ? -loss : -Infinity;
}

/**
 * 1-based ranks, ties sharing the average of the ranks they span (scipy rankdata "average").
 * NaN has no rank: it throws RangeError (map it first, e.g. with scoreFromLoss).
 */
export function rankAverage(values: readonly number[]): number[] {
  const nanAt = values.findIndex(Number.isNaN);
  if (nanAt >= 0) throw new RangeError(`rankAverage: NaN at index ${nanAt} has no rank`);
  const order = ascendingOrder(values);
  const ranks = new Array<number>(values.length);
  let start = 0;
  while (start < order.length) {
    let end = start + 1;
    while (end < order.length && values[order[end]] === values[order[start]]) end++;
    const averageRank = (start + 1 + end) / 2;
    for (let k = start; k < end; k++) ranks[order[k]] = averageRank;
    start = end;
  }
  return ranks;
}

/** Spearman ρ: Pearson correlation of the average ranks. NaN when undefined (see module doc). */
export function spearman(x: readonly number[], y: readonly number[]): number {
  assertPaired(x, y, "spearman");
  if (x.length < 2 || hasNaN(x) || hasNaN(y)) return NaN;
  return pearson(rankAverage(x), rankAverage(y));
}

/** Pearson correlation; NaN when either input has zero variance or n < 2. */
export function pearson(x: readonly number[], y: readonly number[]): number {
  assertPaired(x, y, "pearson");
  const n = x.length;
  if (n < 2) return NaN;
  const meanX = mean(x);
  const meanY = mean(y);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - meanX;
    const dy = y[i] - meanY;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return NaN;
  return clampUnit(sxy / Math.sqrt(sxx * syy));
}

/**
 * Kendall τ-b with tie correction (scipy.stats.kendalltau), in O(n log n) by Knight's algorithm:
 * sort pairs by (x, y), count ties, then count the inversions of y with a merge sort.
 * NaN when undefined (see module doc).
 */
export function kendallTauB(x: readonly number[], y: readonly number[]): number {
  assertPaired(x, y, "kendallTauB");
  const n = x.length;
  if (n < 2 || hasNaN(x) || hasNaN(y)) return NaN;

  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) =>
    compare(x[a], x[b]) || compare(y[a], y[b])
  );
  const xs = Float64Array.from(order, (i) => x[i]);
  const ys = Float64Array.from(order, (i) => y[i]);

  const xTies = tiedPairs(n, (i) => xs[i] === xs[i - 1]);
  const jointTies = tiedPairs(n, (i) => xs[i] === xs[i - 1] && ys[i] === ys[i - 1]);
  const discordant = countInversionsAndSort(ys);
  const yTies = tiedPairs(n, (i) => ys[i] === ys[i - 1]);

  const totalPairs = (n * (n - 1)) / 2;
  const numerator = totalPairs - xTies - yTies + jointTies - 2 * discordant;
  const denominator = Math.sqrt(totalPairs - xTies) * Math.sqrt(totalPairs - yTies);
  if (denominator === 0) return NaN;
  return clampUnit(numerator / denominator);
}

/**
 * Retrieving rate (spec §6.2): |top-K by predScore ∩ top-K by truth| / K with
 * K = max(1, round(topFraction·n)). Higher is better for both inputs. Ties at the K-th place are
 * broken by the lower index, so the result is deterministic; NaN counts as −Infinity.
 */
export function retrievalRate(
  predScore: readonly number[],
  truth: readonly number[],
  topFraction: number,
): number {
  assertPaired(predScore, truth, "retrievalRate");
  if (!(topFraction > 0 && topFraction <= 1)) {
    throw new RangeError(`retrievalRate: topFraction must be in (0, 1], got ${topFraction}`);
  }
  const n = predScore.length;
  if (n === 0) return NaN;
  const k = topCount(n, topFraction);
  const predTop = new Set(descendingOrder(predScore).slice(0, k));
  const hits = descendingOrder(truth).slice(0, k).filter((i) => predTop.has(i)).length;
  return hits / k;
}

/** K of the retrieving rate: max(1, round(topFraction·n)). */
export function topCount(n: number, topFraction: number): number {
  return Math.max(1, Math.round(topFraction * n));
}

/**
 * Percentile bootstrap: `samples` times, draw n indices with replacement and evaluate `stat` on
 * them; the interval is the (1−level)/2 and (1+level)/2 quantiles (linear interpolation, numpy's
 * default). Resamples where the statistic is NaN (e.g. a constant resample) are dropped; if all
 * are, the interval is NaN..NaN.
 */
export function bootstrapInterval(
  n: number,
  stat: (idx: number[]) => number,
  o: { samples: number; rng: Rng; level?: number },
): Interval {
  const level = o.level ?? 0.95;
  if (!(level > 0 && level < 1)) {
    throw new RangeError(`bootstrapInterval: level must be in (0, 1), got ${level}`);
  }
  if (!(Number.isInteger(o.samples) && o.samples >= 1)) {
    throw new RangeError(`bootstrapInterval: samples must be a positive integer, got ${o.samples}`);
  }
  if (!(Number.isInteger(n) && n >= 1)) {
    throw new RangeError(`bootstrapInterval: n must be a positive integer, got ${n}`);
  }
  const values: number[] = [];
  for (let s = 0; s < o.samples; s++) {
    const idx = Array.from({ length: n }, () => o.rng.int(n));
    const value = stat(idx);
    if (!Number.isNaN(value)) values.push(value);
  }
  if (values.length === 0) return { low: NaN, high: NaN };
  values.sort(compare);
  return { low: quantile(values, (1 - level) / 2), high: quantile(values, (1 + level) / 2) };
}

/**
 * All ranking metrics of GenNAS losses against accuracies, with scores = −loss (see
 * scoreFromLoss). Optional bootstrap intervals for ρ and τ use the same resamples for both.
 */
export function rankingMetrics(
  losses: readonly number[],
  accuracies: readonly number[],
  o: { topFraction?: number; bootstrap?: { samples: number; rng: Rng; level?: number } } = {},
): RankingMetrics {
  assertPaired(losses, accuracies, "rankingMetrics");
  const badAccuracy = accuracies.findIndex((a) => !Number.isFinite(a));
  if (badAccuracy >= 0) {
    throw new RangeError(
      `rankingMetrics: accuracy at index ${badAccuracy} is ${accuracies[badAccuracy]}, not finite`,
    );
  }
  const topFraction = o.topFraction ?? 0.1;
  const scores = losses.map(scoreFromLoss);
  const metrics: RankingMetrics = {
    n: scores.length,
    spearman: spearman(scores, accuracies),
    kendall: kendallTauB(scores, accuracies),
    retrieval: retrievalRate(scores, accuracies, topFraction),
    topFraction,
    convention: SIGN_CONVENTION,
  };
  if (o.bootstrap && scores.length > 0) {
    const { samples, rng, level } = o.bootstrap;
    const resampled = (f: typeof spearman) => (idx: number[]) =>
      f(idx.map((i) => scores[i]), idx.map((i) => accuracies[i]));
    // Forking the same label twice yields identical streams: both intervals see the same resamples.
    const options = () => ({ samples, rng: rng.fork("ranking-bootstrap"), level });
    metrics.spearmanCI = bootstrapInterval(scores.length, resampled(spearman), options());
    metrics.kendallCI = bootstrapInterval(scores.length, resampled(kendallTauB), options());
  }
  return metrics;
}

function assertPaired(x: readonly number[], y: readonly number[], what: string): void {
  if (x.length !== y.length) {
    throw new RangeError(`${what}: inputs differ in length (${x.length} vs ${y.length})`);
  }
}

function compare(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function hasNaN(values: readonly number[]): boolean {
  return values.some(Number.isNaN);
}

function mean(values: readonly number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

function clampUnit(r: number): number {
  return Math.min(1, Math.max(-1, r));
}

/** Indices sorted by ascending value; equal values keep index order (Array.sort is stable). */
function ascendingOrder(values: readonly number[]): number[] {
  return Array.from({ length: values.length }, (_, i) => i).sort((a, b) =>
    compare(values[a], values[b])
  );
}

/** Indices by descending value, NaN counted as −Infinity, equal values in index order. */
function descendingOrder(values: readonly number[]): number[] {
  const key = (i: number) => (Number.isNaN(values[i]) ? -Infinity : values[i]);
  return Array.from({ length: values.length }, (_, i) => i).sort((a, b) => compare(key(b), key(a)));
}

/** Σ t(t−1)/2 over runs of consecutive positions i where `sameAsPrevious(i)` holds. */
function tiedPairs(n: number, sameAsPrevious: (i: number) => boolean): number {
  let pairs = 0;
  let run = 1;
  for (let i = 1; i <= n; i++) {
    if (i < n && sameAsPrevious(i)) {
      run++;
    } else {
      pairs += (run * (run - 1)) / 2;
      run = 1;
    }
  }
  return pairs;
}

/** Sorts `values` ascending in place (bottom-up merge sort); returns the strict inversion count. */
function countInversionsAndSort(values: Float64Array): number {
  const n = values.length;
  let source: Float64Array = values;
  let target: Float64Array = new Float64Array(n);
  let inversions = 0;
  for (let width = 1; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) {
        if (source[j] < source[i]) {
          inversions += mid - i;
          target[k++] = source[j++];
        } else {
          target[k++] = source[i++];
        }
      }
      while (i < mid) target[k++] = source[i++];
      while (j < hi) target[k++] = source[j++];
    }
    [source, target] = [target, source];
  }
  if (source !== values) values.set(source);
  return inversions;
}

/** Linear-interpolation quantile of ascending-sorted values (numpy's default method). */
function quantile(sorted: readonly number[], p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** The median (the mean of the two middle values for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
