import assert from "node:assert/strict";
import { joinedScores, proxyRunParts, proxyRuns } from "../bench/fidelity_proxies.ts";
import { ZERO_COST_GROUPS } from "../src/proxy/zero_cost.ts";
import type { RankRecord } from "../src/proxy/ranking.ts";
import { openJournal } from "../src/util/journal.ts";

Deno.test("proxies fidelity: one journal per pass, joined on the positions every part scored", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const [run] = proxyRuns("/data", dir, 100);
    assert.equal(run.options.limit, 200, "NB-201: the first 200 archs");
    const parts = proxyRunParts(run.options);
    assert.deepEqual(parts.map((p) => p.proxies), [["gennas"], ...ZERO_COST_GROUPS]);
    assert.equal(parts[0].out, `${dir}/proxies-nb201-gennas.jsonl`);
    assert.equal(new Set(parts.map((p) => p.out)).size, parts.length, "a journal per part");
    const record = (index: number, arch: string, extra: Partial<RankRecord>): RankRecord => ({
      type: "score",
      index,
      arch,
      key: arch,
      loss: null,
      seconds: 0,
      ...extra,
    });
    for (const [i, part] of parts.entries()) {
      const { journal } = await openJournal<RankRecord>(part.out, "rank", { space: "nb201", i });
      const gennas = part.proxies[0] === "gennas";
      // Position 2 is missing from the last part; position 1 has another arch in part 1.
      const archs = i === parts.length - 1 ? ["a", "b"] : ["a", i === 1 ? "x" : "b", "c"];
      for (const [index, arch] of archs.entries()) {
        await journal.append(record(
          index,
          arch,
          gennas ? { loss: index, seconds: 20 } : {
            proxies: Object.fromEntries(part.proxies.map((n) => [n, 10 * i + index])),
            proxySeconds: Object.fromEntries(part.proxies.map((n) => [n, 0.5])),
          },
        ));
      }
      journal.close();
    }
    const { settings, scored } = await joinedScores(run.options);
    assert.deepEqual([...scored.keys()], [0], "only positions every part has, with the same arch");
    const r = scored.get(0)!;
    assert.equal(r.loss, 0);
    for (const [i, part] of parts.entries()) {
      for (const name of part.proxies) {
        if (name !== "gennas") assert.equal(r.proxies?.[name], 10 * i, name);
      }
    }
    assert(settings.proxies?.includes("ensemble") && settings.proxies[0] === "gennas");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
