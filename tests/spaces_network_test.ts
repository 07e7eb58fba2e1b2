/**
 * NB-201 / NB-101 networks against PyTorch-built counterparts (scripts/golden_spaces.py):
 * parameter names and counts (those taking part in training) and tap shapes. No GPU needed.
 */
import assert from "node:assert/strict";
import golden from "../fixtures/golden/spaces.json" with { type: "json" };
import { GraphBuilder } from "../src/graph/builder.ts";
import { buildProxyGraph } from "../src/proxy/score.ts";
import { DEFAULT_PROXY_SETTINGS } from "../src/proxy/settings.ts";
import type { PreparedTask } from "../src/proxy/task.ts";
import { getSpace } from "../src/spaces/index.ts";

function fakeTask(batch: number, channels: [number, number, number]): PreparedTask {
  return {
    name: "golden",
    config: undefined as never,
    images: "none",
    batch,
    inputs: new Float32Array(batch * 3 * 32 * 32),
    targets: [],
    channels,
    trainWeights: [1, 1, 1],
    evalWeights: [0.25, 0.5, 1],
    noise: { kind: "gaussian", level: 0 },
  };
}

for (const c of golden.counts) {
  Deno.test(`${c.space} network matches PyTorch: ${c.arch.slice(0, 60)}`, () => {
    const space = getSpace(c.space);
    const arch = space.parse(c.arch);
    const g = new GraphBuilder();
    const x = g.input("x", [2, 3, 32, 32]);
    const taps = space.build(g, x, arch, { initChannels: 16 });
    assert.deepEqual(taps.map((t) => [...t.shape]), c.taps, "tap shapes");

    const settings = { ...DEFAULT_PROXY_SETTINGS, initChannels: 16 };
    const built = buildProxyGraph(space, arch, fakeTask(2, [64, 64, 64]), settings);
    const names = built.builder.params.map((p) => p.name).sort();
    assert.deepEqual(names, c.used_names, "parameter names");
    const count = built.builder.params.reduce((sum, p) => sum + p.size, 0);
    assert.deepEqual(count, c.used, "parameters taking part in training");
  });
}
