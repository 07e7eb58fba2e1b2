import assert from "node:assert/strict";
import { rankingMetrics } from "../src/eval/metrics.ts";
import {
  escapeHtml,
  type RankPoint,
  renderRankReport,
  renderSearchReport,
  type SearchEvaluation,
  writeReport,
} from "../src/eval/report.ts";
import { Rng } from "../src/util/rng.ts";

const EVIL = `<script>alert("x")</script>`;

function assertSelfContained(html: string): void {
  assert.ok(html.startsWith("<!DOCTYPE html>"), "doctype");
  assert.ok(html.includes("<html") && html.trimEnd().endsWith("</html>"), "html element");
  assert.ok(html.includes("<svg"), "inline svg");
  assert.equal(html.match(/<svg/g)?.length, html.match(/<\/svg>/g)?.length, "balanced svg");
  assert.ok(!/<script/i.test(html), "no script element");
  assert.ok(!/\b(src|href)=/i.test(html), "nothing fetched");
  assert.ok(!html.includes('NaN"'), "no NaN coordinates");
  assert.ok(!/="[^"]*Infinity/.test(html), "no infinite coordinates");
}

function rankPoints(n: number): RankPoint[] {
  const rng = new Rng("report");
  return Array.from({ length: n }, (_, i) => {
    const loss = 10 ** rng.range(-3, 0);
    return { label: `arch-${i}`, loss, accuracy: 90 - 10 * loss + rng.normal() };
  });
}

Deno.test("escapeHtml neutralises markup and quotes", () => {
  assert.equal(
    escapeHtml(`<a href="x">&'</a>`),
    "&#60;a href=&#34;x&#34;&#62;&#38;&#39;&#60;/a&#62;",
  );
});

Deno.test("rank report: self-contained HTML with scatter, metrics, convention and settings", () => {
  const points = rankPoints(50);
  points[3].label = EVIL;
  const metrics = rankingMetrics(points.map((p) => p.loss), points.map((p) => p.accuracy), {
    bootstrap: { samples: 50, rng: new Rng(1) },
  });
  const html = renderRankReport({
    title: `NB-201 ${EVIL}`,
    settings: { task: "combo", seed: 7, weights: [1, 1, 1], note: EVIL },
    metrics,
    points,
  });
  assertSelfContained(html);
  assert.ok(html.includes("&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;"), "escaped label");
  assert.ok(html.includes("ρ(−loss, accuracy)"), "sign convention");
  assert.ok(html.includes("(log scale)"), "loss spans 3 decades → log axis");
  assert.equal(html.match(/<circle/g)?.length, 50);
  assert.ok(html.includes("<title>arch-0 — loss"), "hover title");
  assert.ok(html.includes("combo") && html.includes("[1,1,1]"), "settings");
  assert.ok(html.includes("(bootstrap)"), "confidence interval");
});

Deno.test("rank report: NaN and infinite losses go to the marked strip; linear axis when narrow", () => {
  const points: RankPoint[] = [
    { label: "a", loss: 0.5, accuracy: 90 },
    { label: "b", loss: 0.6, accuracy: 88 },
    { label: "diverged", loss: NaN, accuracy: 70 },
    { label: "exploded", loss: Infinity, accuracy: 60 },
  ];
  const metrics = rankingMetrics(points.map((p) => p.loss), points.map((p) => p.accuracy));
  const html = renderRankReport({ title: "t", settings: {}, metrics, points });
  assertSelfContained(html);
  assert.ok(html.includes("non-finite (2)"));
  assert.ok(html.includes('class="strip"'));
  assert.equal(html.match(/class="bad"/g)?.length, 2);
  assert.equal(html.match(/<circle/g)?.length, 2);
  assert.ok(html.includes("<title>diverged — loss NaN"));
  assert.ok(!html.includes("(log scale)"));
});

Deno.test("rank report: all losses NaN and constant accuracy still render", () => {
  const points = [{ label: "x", loss: NaN, accuracy: 50 }, { label: "y", loss: NaN, accuracy: 50 }];
  const metrics = rankingMetrics([NaN, NaN], [50, 50]);
  const html = renderRankReport({ title: "t", settings: {}, metrics, points });
  assertSelfContained(html);
  assert.ok(html.includes("NaN"), "undefined correlation shown as NaN");
});

function searchHistory(n: number): SearchEvaluation[] {
  const rng = new Rng("search");
  return Array.from({ length: n }, (_, index) => {
    const loss = rng.range(0.1, 1);
    return { index, label: `cell-${index}`, loss, accuracy: 95 - 10 * loss };
  });
}

Deno.test("search report: best-so-far curve, optimum and regret", () => {
  const history = searchHistory(40);
  history[5].loss = NaN;
  history[6].label = EVIL;
  const best = history.reduce((a, b) => (b.loss < a.loss ? b : a));
  const html = renderSearchReport({
    title: "RE on NB-201",
    settings: { population: 50 },
    history,
    best,
    optimumAccuracy: 94.3733,
  });
  assertSelfContained(html);
  assert.ok(html.includes("Best-so-far accuracy vs evaluations"));
  assert.ok(html.includes('class="optimum"'));
  const regret = Number((94.3733 - best.accuracy!).toFixed(4)).toString();
  assert.ok(html.includes(`<td class="num">${regret}</td>`), `regret ${regret}`);
  assert.ok(html.includes("1 evaluation(s) with a non-finite value"));
  assert.ok(!html.includes(EVIL));
  // The curve never goes down in accuracy here: lower loss ⇒ higher accuracy by construction.
  const path = html.match(/class="curve" d="([^"]+)"/)![1];
  const ys = [...path.matchAll(/V([\d.]+)/g)].map((m) => Number(m[1]));
  for (let i = 1; i < ys.length; i++) {
    assert.ok(ys[i] <= ys[i - 1], "SVG y shrinks as accuracy grows");
  }
});

Deno.test("search report for a proxy-task search: fitness ρ, higher is better, no accuracies", () => {
  const history = [0.5, 0.7, 0.6, 0.85].map((rho, index) => ({
    index,
    label: `config-${index}`,
    loss: rho,
  }));
  const html = renderSearchReport({
    title: "task search",
    settings: {},
    history,
    best: history[3],
    quantity: { name: "fitness ρ", higherIsBetter: true },
  });
  assertSelfContained(html);
  assert.ok(!html.includes("Best-so-far accuracy"));
  assert.ok(html.includes("fitness ρ of each evaluation"));
  assert.ok(html.includes("higher is better"));
  assert.ok(!html.includes("regret"));
});

Deno.test("writeReport writes atomically and creates the directory", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/nested/report.html`;
    await writeReport(path, "<!DOCTYPE html><p>one</p>");
    await writeReport(path, "<!DOCTYPE html><p>two</p>");
    assert.equal(await Deno.readTextFile(path), "<!DOCTYPE html><p>two</p>");
    const names = [...Deno.readDirSync(`${dir}/nested`)].map((e) => e.name);
    assert.deepEqual(names, ["report.html"], "no temporary file left");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
