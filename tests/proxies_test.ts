import assert from "node:assert/strict";
import {
  COUNTED_PROXIES,
  ENSEMBLE_MEMBERS,
  parseProxies,
  PROXY_NAMES,
  ZERO_COST_PROXIES,
} from "../src/proxy/proxies.ts";
import { IMPLEMENTED_ZERO_COST } from "../src/proxy/zero_cost.ts";
import { score } from "../src/proxy/run.ts";
import { rankOutcome, type RankRecord, tableProxies } from "../src/proxy/ranking.ts";
import { getSpace } from "../src/spaces/index.ts";
import { InputError } from "../src/util/errors.ts";
import { runCli, TINY } from "./support/cli.ts";
import { sharedFile } from "./support/data.ts";

Deno.test("every proxy name is computed somewhere: gennas, counted, implemented zero-cost or ensemble", () => {
  for (const name of PROXY_NAMES) {
    const where = [
      name === "gennas" || name === "ensemble",
      COUNTED_PROXIES.includes(name),
      ZERO_COST_PROXIES.includes(name),
    ].filter(Boolean).length;
    assert.equal(where, 1, name);
  }
  assert.deepEqual([...IMPLEMENTED_ZERO_COST].sort(), [...ZERO_COST_PROXIES].sort());
});

Deno.test("parseProxies: default gennas, --proxy and --proxies merged in order, bad names named", () => {
  assert.deepEqual(parseProxies({}), ["gennas"]);
  assert.deepEqual(parseProxies({ proxy: "flops" }), ["flops"]);
  assert.deepEqual(parseProxies({ proxies: "params, gennas,params" }), ["params", "gennas"]);
  assert.deepEqual(parseProxies({ proxy: "gennas", proxies: ["flops"] }), ["gennas", "flops"]);
  assert.throws(
    () => parseProxies({ proxies: "gennas,nope" }),
    (e: Error) => e instanceof InputError && /--proxies: "nope".*allowed: "gennas"/.test(e.message),
  );
  assert.throws(() => parseProxies({ proxy: "x" }), /--proxy: "x"/);
  assert.deepEqual(tableProxies(["flops"]), ["flops", "params"]);
  assert.deepEqual(tableProxies(undefined), ["gennas", "params", "flops"]);
});

Deno.test("rankOutcome: the first requested proxy heads, zero-cost values and seconds from records", async () => {
  const space = getSpace("nb201");
  const archs = [
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|nor_conv_1x1~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|",
  ];
  const scored = new Map<number, RankRecord>(archs.map((arch, index) => [index, {
    type: "score",
    index,
    arch,
    key: space.key(space.parse(arch)),
    loss: [3, 2, 1][index],
    seconds: [1, 2, 3][index],
    // A zero-cost value that ranks backwards, one non-finite (ranked last).
    proxies: { snip: [5, 4, null][index] },
    proxySeconds: { snip: 0.5 },
  }]));
  const outcome = await rankOutcome({
    settings: {
      space: "nb201",
      task: "combo",
      taskConfig: {},
      proxy: { seed: 0, initChannels: 4 },
      // deno-lint-ignore no-explicit-any
      proxies: ["snip" as any, "gennas"],
    },
    adapter: "test",
    accuracies: [1, 2, 3],
    scored,
  });
  assert.deepEqual(outcome.proxies.map((p) => p.proxy), ["snip", "gennas", "params", "flops"]);
  assert.equal(outcome.metrics, outcome.proxies[0].metrics, "headline = first requested");
  assert.equal(outcome.proxies[0].metrics.kendall, -1);
  assert.equal(outcome.proxies[1].metrics.kendall, 1);
  assert.equal(outcome.proxies[0].secondsPerArch, 0.5);
  assert.equal(outcome.proxies[1].secondsPerArch, 2);
  assert.equal(outcome.proxies[2].secondsPerArch, undefined);
  assert(Number.isNaN(outcome.archs[2].scores.snip));
});

const nb201Table = sharedFile("nb201.csv");
Deno.test({
  name:
    `gennas rank --proxies and score --proxy: one journal, the table, the values${nb201Table.note}`,
  ignore: !nb201Table.present,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const out = `${dir}/p.jsonl`;
      const args = ["rank", "--truth", nb201Table.path, "--sample", "3", "--out", out, ...TINY];
      const ranked = await runCli([...args, "--proxies", "flops,gennas"]);
      assert.equal(ranked.code, 0, ranked.stderr);
      assert(/^proxy +flops/m.test(ranked.stdout), ranked.stdout);
      assert(/^ +gennas +-?\d.* \d/m.test(ranked.stdout) && /^ +params/m.test(ranked.stdout));
      const lines = (await Deno.readTextFile(out)).trim().split("\n").map((l) => JSON.parse(l));
      assert.deepEqual(lines[0].settings.proxies, ["flops", "gennas"]);
      assert.equal(lines.length, 4, "header + 3 scores in one journal");
      assert(lines.slice(1).every((r) => typeof r.loss === "number"));
      const html = await Deno.readTextFile(`${dir}/p.html`);
      assert(/flops vs ground-truth accuracy/.test(html) && /class="num secs"/.test(html));
      const other = await runCli([...args, "--proxy", "params"]);
      assert.equal(other.code, 2, "other proxies must not resume the journal");
      const bad = await runCli(["score", "--proxy", "nope", ...TINY]);
      assert.equal(bad.code, 2);
      assert(/--proxy: "nope" is not a known proxy; allowed/.test(bad.stderr), bad.stderr);
      const one = await runCli(["score", "--proxy", "params", ...TINY]);
      assert.equal(one.code, 0, one.stderr);
      assert(/^params +\d+/m.test(one.stdout) && !/^loss/m.test(one.stdout), one.stdout);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("ensemble: members computed with it, Σ log(rank/n) of their ranks, not for score", async () => {
  assert.deepEqual(parseProxies({ proxy: "ensemble" }), ["ensemble", ...ENSEMBLE_MEMBERS]);
  await assert.rejects(
    () => score({ space: "nb201", proxy: "ensemble" }),
    (e: Error) => e instanceof InputError && /ensemble ranks a population/.test(e.message),
  );
  const space = getSpace("nb201");
  // Growing flops with the index; the other members disagree in known ways.
  const archs = [
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|nor_conv_1x1~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|",
  ];
  const member = [
    { loss: 1, synflow: 1, jacob_cov: 1, naswot: null },
    { loss: 3, synflow: 2, jacob_cov: 3, naswot: 2 },
    { loss: 2, synflow: 3, jacob_cov: 2, naswot: 1 },
  ];
  const scored = new Map<number, RankRecord>(archs.map((arch, index) => [index, {
    type: "score",
    index,
    arch,
    key: space.key(space.parse(arch)),
    loss: member[index].loss,
    seconds: 1,
    proxies: {
      synflow: member[index].synflow,
      jacob_cov: member[index].jacob_cov,
      naswot: member[index].naswot,
    },
  }]));
  const outcome = await rankOutcome({
    settings: {
      space: "nb201",
      task: "combo",
      taskConfig: {},
      proxy: { seed: 0, initChannels: 4 },
      proxies: parseProxies({ proxy: "ensemble" }),
    },
    adapter: "test",
    accuracies: [1, 2, 3],
    scored,
  });
  // Ranks (1 worst … 3 best) of the three archs by each proxy (naswot: null ties worst).
  const ranks: { [name: string]: number[] } = {
    gennas: [3, 1, 2],
    synflow: [1, 2, 3],
    jacob_cov: [1, 3, 2],
    naswot: [1, 3, 2],
    flops: [1, 2, 3],
  };
  const expected = [0, 1, 2].map((i) =>
    ENSEMBLE_MEMBERS.reduce((s, m) => s + Math.log(ranks[m][i] / 3), 0)
  );
  assertCloseTo(outcome.archs.map((a) => a.scores.ensemble), expected);
  assert.equal(outcome.proxies[0].proxy, "ensemble");
  assert.equal(outcome.proxies[0].secondsPerArch, undefined);
});

function assertCloseTo(actual: number[], expected: number[]): void {
  actual.forEach((v, i) =>
    assert(Math.abs(v - expected[i]) < 1e-12, `${i}: ${v} vs ${expected[i]}`)
  );
}
