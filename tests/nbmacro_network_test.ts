/**
 * The NAS-Bench-Macro network against its PyTorch counterpart (scripts/golden_nbmacro.py):
 * parameter names and counts (total and per module) and tap shapes at full width; and a whole
 * 5-iteration proxy run from the same initial weights, inputs and targets, which both sides
 * generate from one integer hash and assign by state_dict name, under both kernel tilings (lr 0.1;
 * 0.01 for the all-MB6 net, whose 5 steps at lr 0.1 are chaotic even within PyTorch).
 */
import assert from "node:assert/strict";
import golden from "../fixtures/golden/nbmacro.json" with { type: "json" };
import type { DeviceClass } from "../src/gpu/kernel.ts";
import { GraphBuilder } from "../src/graph/builder.ts";
import { buildProxyGraph } from "../src/proxy/score.ts";
import { DEFAULT_PROXY_SETTINGS } from "../src/proxy/settings.ts";
import type { PreparedTask } from "../src/proxy/task.ts";
import { getSpace } from "../src/spaces/index.ts";
import { hashed, hashedInts } from "./support/golden_hash.ts";
import { goldenProxyRun } from "./support/golden_run.ts";

const space = getSpace("nbmacro");

Deno.test("nbmacro golden generator reproduces the Python hash bit for bit", () => {
  const c = golden.hash_check;
  assert.deepEqual(hashedInts(c.key, c.ints.length, c.m), c.ints);
});

// ---------------------------------------------------------------------------------------------

function fakeTask(batch: number, channels: readonly number[]): PreparedTask {
  return {
    name: "golden",
    config: undefined as never,
    images: "none",
    batch,
    inputs: new Float32Array(batch * 3 * 32 * 32),
    targets: [],
    channels: channels as [number, number, number],
    trainWeights: [1, 1, 1],
    evalWeights: [0.25, 0.5, 1],
    noise: { kind: "gaussian", level: 0 },
  };
}

function moduleOf(name: string, modules: readonly string[]): string {
  const found = modules.find((m) => name.startsWith(`${m}.`));
  if (!found) throw new Error(`parameter ${name} belongs to none of ${modules.join(", ")}`);
  return found;
}

for (const c of golden.counts) {
  Deno.test(`nbmacro network ${c.arch} matches PyTorch: names, counts per module, taps`, () => {
    const arch = space.parse(c.arch);
    const g = new GraphBuilder();
    const x = g.input("x", [2, 3, 32, 32]);
    const taps = space.build(g, x, arch, { initChannels: c.init_channels });
    assert.deepEqual(taps.map((t) => [...t.shape]), c.taps, "tap shapes");

    const settings = { ...DEFAULT_PROXY_SETTINGS, initChannels: c.init_channels };
    const built = buildProxyGraph(space, arch, fakeTask(2, c.out_channels), settings);
    const params = built.builder.params;
    assert.deepEqual(params.map((p) => p.name).sort(), c.names, "parameter names");
    const modules = Object.keys(c.modules);
    const perModule = Object.fromEntries(modules.map((m) => [m, 0]));
    for (const p of params) perModule[moduleOf(p.name, modules)] += p.size;
    assert.deepEqual(perModule, c.modules, "parameters per module");
    assert.deepEqual(params.reduce((sum, p) => sum + p.size, 0), c.total, "parameters in total");
  });
}

// ---------------------------------------------------------------------------------------------

const run = golden.proxy;
const task: PreparedTask = {
  ...fakeTask(run.batch, run.out_channels),
  inputs: hashed("input", run.batch * 3 * 32 * 32, 8192),
  targets: run.out_channels.map((ch, s) => hashed(`target${s}`, run.batch * ch * 64, 4096)),
};

function proxyRun(arch: string, seed: number, lr: number, deviceClass: DeviceClass) {
  return goldenProxyRun(space, arch, task, {
    iterations: run.iterations,
    seed,
    lr,
    deviceClass,
    settings: { initChannels: run.init_channels },
  });
}

for (const c of run.cases) {
  for (const deviceClass of ["cpu", "gpu"] as const) {
    Deno.test(`nbmacro ${c.arch} proxy run matches PyTorch and is deterministic (${deviceClass} tilings)`, async () => {
      const first = await proxyRun(c.arch, c.seed, c.lr, deviceClass);
      c.losses.forEach((expected, i) => {
        const rel = Math.abs(first.losses[i] - expected) / expected;
        assert(rel < 1e-3, `iteration ${i}: ${first.losses[i]} vs PyTorch ${expected}`);
      });
      const rel = Math.abs(first.evalLoss - c.eval_loss) / c.eval_loss;
      assert(rel < 1e-3, `eval loss ${first.evalLoss} vs PyTorch ${c.eval_loss}`);
      const second = await proxyRun(c.arch, c.seed, c.lr, deviceClass);
      assert.deepEqual(second.evalLoss, first.evalLoss, "same inputs, same backend: same score");
      assert.deepEqual([...second.losses], [...first.losses]);
    });
  }
}
