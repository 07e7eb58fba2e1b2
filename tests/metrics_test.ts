import assert from "node:assert/strict";
import {
  bootstrapInterval,
  kendallTauB,
  median,
  rankAverage,
  rankingMetrics,
  retrievalRate,
  scoreFromLoss,
  spearman,
  topCount,
} from "../src/eval/metrics.ts";
import { Rng } from "../src/util/rng.ts";

function assertNear(actual: number, expected: number, tol = 1e-12, what = ""): void {
  assert.ok(
    Math.abs(actual - expected) <= tol,
    `${what} expected ${expected}, got ${actual} (tol ${tol})`,
  );
}

/**
 * Reference values from scipy 1.10.1 (scipy.stats.spearmanr(x, y).correlation and
 * scipy.stats.kendalltau(x, y).correlation), generated once with /usr/bin/python3.
 */
const SCIPY_CASES: { name: string; x: number[]; y: number[]; rho: number; tau: number }[] = [
  {
    name: "ties",
    x: [1, 2, 2, 3, 4, 4, 4, 5],
    y: [2, 1, 3, 3, 5, 4, 4, 6],
    rho: 0.9256265453136692,
    tau: 0.8406728074767076,
  },
  { name: "reversed", x: [1, 2, 3, 4, 5, 6], y: [6, 5, 4, 3, 2, 1], rho: -1, tau: -1 },
  { name: "n = 2", x: [1.5, 2.5], y: [3, 5], rho: 1, tau: 1 },
  { name: "n = 2 reversed", x: [1.5, 2.5], y: [5, 3], rho: -1, tau: -1 },
  {
    name: "heavy ties",
    x: [3, 0, 1, 2, 3, 3, 3, 3, 0, 1, 2, 3, 0, 1, 2, 2, 2, 0, 3, 2, 0, 0, 3, 3, 0, 0, 3, 3, 2, 2],
    y: [3, 4, 4, 0, 0, 0, 3, 0, 2, 0, 1, 4, 1, 3, 3, 0, 3, 0, 1, 0, 0, 4, 4, 4, 2, 1, 3, 0, 4, 0],
    rho: 0.014379441387020783,
    tau: 0.012161650671791405,
  },
  {
    name: "continuous",
    x: [
      -0.3643,
      -1.7301,
      1.3413,
      -1.2529,
      -0.6868,
      -2.1766,
      -0.6391,
      1.611,
      -0.5054,
      1.5699,
      1.9082,
      -1.0443,
      -2.5444,
      0.6847,
      0.2147,
      1.8462,
      0.1664,
      0.0717,
      -0.3457,
      0.1415,
      0.8068,
      -1.6655,
      1.2257,
      -0.0993,
      -0.396,
    ],
    y: [
      -0.7638,
      1.6714,
      -0.2557,
      -1.1289,
      -0.0441,
      -1.2968,
      -1.1556,
      -0.8583,
      -0.5121,
      -1.3221,
      -2.1687,
      0.6761,
      0.6271,
      -2.6941,
      1.5322,
      0.3536,
      0.254,
      1.0418,
      0.6065,
      -0.3749,
      0.6303,
      1.4352,
      -0.1172,
      -0.7382,
      0.4545,
    ],
    rho: -0.27999999999999997,
    tau: -0.17999999999999997,
  },
];

/** Direct O(n²) τ-b: (C − D) / sqrt((n0 − n1)(n0 − n2)). */
function kendallTauBQuadratic(x: number[], y: number[]): number {
  let concordantMinusDiscordant = 0;
  let pairs = 0;
  let xTied = 0;
  let yTied = 0;
  for (let i = 0; i < x.length; i++) {
    for (let j = i + 1; j < x.length; j++) {
      pairs++;
      const dx = Math.sign(x[i] - x[j]);
      const dy = Math.sign(y[i] - y[j]);
      if (dx === 0) xTied++;
      if (dy === 0) yTied++;
      concordantMinusDiscordant += dx * dy;
    }
  }
  return concordantMinusDiscordant / Math.sqrt((pairs - xTied) * (pairs - yTied));
}

function randomPairs(n: number, seed: string, levels: number): { x: number[]; y: number[] } {
  const rng = new Rng(seed);
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = Math.floor(rng.uniform() * levels);
    x.push(a);
    y.push(Math.floor((a + rng.normal() * levels * 0.5) * 4) / 4);
  }
  return { x, y };
}

Deno.test("rankAverage matches scipy rankdata 'average' (1-based, ties averaged)", () => {
  assert.deepEqual(
    rankAverage([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]),
    [4.5, 1.5, 6, 1.5, 8, 11, 3, 10, 8, 4.5, 8],
  );
  assert.deepEqual(rankAverage([-Infinity, 2, -Infinity]), [1.5, 3, 1.5]);
  assert.throws(() => rankAverage([1, NaN]), RangeError);
});

for (const c of SCIPY_CASES) {
  Deno.test(`spearman and kendallTauB match scipy: ${c.name}`, () => {
    assertNear(spearman(c.x, c.y), c.rho, 1e-12, "spearman");
    assertNear(kendallTauB(c.x, c.y), c.tau, 1e-12, "kendall");
  });
}

Deno.test("undefined correlations are NaN: constant input, n < 2, NaN input", () => {
  assert.ok(Number.isNaN(spearman([3, 3, 3, 3], [1, 2, 3, 4])));
  assert.ok(Number.isNaN(kendallTauB([3, 3, 3, 3], [1, 2, 3, 4])));
  assert.ok(Number.isNaN(spearman([1], [2])));
  assert.ok(Number.isNaN(kendallTauB([], [])));
  assert.ok(Number.isNaN(spearman([1, NaN, 3], [1, 2, 3])));
  assert.ok(Number.isNaN(kendallTauB([1, 2, 3], [1, NaN, 3])));
  assert.throws(() => spearman([1, 2], [1]), RangeError);
});

Deno.test("kendallTauB equals the O(n²) definition on 500 tied pairs", () => {
  const { x, y } = randomPairs(500, "kendall-500", 20);
  assertNear(kendallTauB(x, y), kendallTauBQuadratic(x, y), 1e-12);
});

Deno.test("kendallTauB on 15 625 pairs is fast", () => {
  const { x, y } = randomPairs(15_625, "kendall-15625", 1000);
  const start = performance.now();
  const tau = kendallTauB(x, y);
  const elapsedMs = performance.now() - start;
  assert.ok(elapsedMs < 5000, `took ${elapsedMs.toFixed(0)} ms`);
  assert.ok(tau > 0.3 && tau < 1, `τ = ${tau}`);
});

Deno.test("retrievalRate counts the overlap of the two top-K sets", () => {
  const truth = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1];
  assert.equal(retrievalRate(truth, truth, 0.3), 1);
  assert.equal(retrievalRate(truth.map((t) => -t), truth, 0.3), 0);
  // top-3 by prediction: indices 0, 1, 9; by truth: 0, 1, 2 → 2 of 3.
  assert.equal(retrievalRate([10, 9, 1, 1, 1, 1, 1, 1, 1, 11], truth, 0.3), 2 / 3);
  // K = round(0.04 · 10) = 0 → 1.
  assert.equal(topCount(10, 0.04), 1);
  assert.equal(retrievalRate([0, 5, 1, 1, 1, 1, 1, 1, 1, 1], truth, 0.04), 0);
  assert.equal(topCount(500, 0.1), 50);
  assert.throws(() => retrievalRate(truth, truth, 0), RangeError);
  assert.throws(() => retrievalRate(truth, truth, 1.5), RangeError);
});

Deno.test("bootstrapInterval contains the point estimate and narrows with n", () => {
  const width = (n: number) => {
    const { x, y } = randomPairs(n, `boot-${n}`, 50);
    const point = spearman(x, y);
    const ci = bootstrapInterval(
      n,
      (idx) => spearman(idx.map((i) => x[i]), idx.map((i) => y[i])),
      { samples: 300, rng: new Rng(`ci-${n}`) },
    );
    assert.ok(ci.low <= point && point <= ci.high, `${ci.low} ≤ ${point} ≤ ${ci.high}`);
    return ci.high - ci.low;
  };
  const small = width(40);
  const large = width(640);
  assert.ok(large < small / 2, `width at n=640 (${large}) vs n=40 (${small})`);
});

Deno.test("bootstrapInterval is deterministic for a seed and drops NaN resamples", () => {
  const stat = (idx: number[]) => idx.reduce((a, b) => a + b, 0) / idx.length;
  const a = bootstrapInterval(20, stat, { samples: 100, rng: new Rng(1) });
  const b = bootstrapInterval(20, stat, { samples: 100, rng: new Rng(1) });
  assert.deepEqual(a, b);
  const none = bootstrapInterval(5, () => NaN, { samples: 10, rng: new Rng(1) });
  assert.ok(Number.isNaN(none.low) && Number.isNaN(none.high));
});

Deno.test("scoreFromLoss: −loss, non-finite → −Infinity", () => {
  assert.equal(scoreFromLoss(0.25), -0.25);
  for (const bad of [NaN, Infinity, -Infinity]) assert.equal(scoreFromLoss(bad), -Infinity);
});

Deno.test("rankingMetrics ranks non-finite losses last, tied among themselves", () => {
  const losses = [0.5, NaN, 0.1, Infinity, -Infinity, 0.3, 0.2];
  const accuracies = [80, 60, 94, 70, 50, 85, 90];
  const metrics = rankingMetrics(losses, accuracies, { topFraction: 0.3 });
  // Same as replacing every non-finite loss by one common huge loss.
  const replaced = losses.map((l) => (Number.isFinite(l) ? l : 1e9));
  assertNear(metrics.spearman, spearman(replaced.map((l) => -l), accuracies));
  assertNear(metrics.kendall, kendallTauB(replaced.map((l) => -l), accuracies));
  assert.equal(metrics.n, 7);
  assert.equal(metrics.retrieval, 1);
  assert.equal(metrics.convention, "ρ(−loss, accuracy)");
  assert.equal(metrics.spearmanCI, undefined);
});

Deno.test("rankingMetrics: positive ρ when lower loss means higher accuracy; bootstrap CIs", () => {
  const { x, y } = randomPairs(200, "ranking", 30);
  const losses = x.map((v) => 100 - v);
  const metrics = rankingMetrics(losses, y, { bootstrap: { samples: 200, rng: new Rng(3) } });
  assert.ok(metrics.spearman > 0.25 && metrics.kendall > 0.2, JSON.stringify(metrics));
  assert.equal(metrics.topFraction, 0.1);
  const { spearmanCI, kendallCI } = metrics;
  assert.ok(
    spearmanCI && spearmanCI.low <= metrics.spearman && metrics.spearman <= spearmanCI.high,
  );
  assert.ok(kendallCI && kendallCI.low <= metrics.kendall && metrics.kendall <= kendallCI.high);
  const again = rankingMetrics(losses, y, { bootstrap: { samples: 200, rng: new Rng(3) } });
  assert.deepEqual(again, metrics);
  assert.throws(() => rankingMetrics([1, 2], [90, NaN]), RangeError);
});

Deno.test("median: middle value, mean of the two middle ones, NaN when empty; input untouched", () => {
  const odd = [5, 1, 3];
  assert.equal(median(odd), 3);
  assert.deepEqual(odd, [5, 1, 3]);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([-Infinity, 1, 2]), 1);
  assert.ok(Number.isNaN(median([])));
});
