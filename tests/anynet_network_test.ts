/**
 * The AnyNet networks against their PyTorch counterpart (scripts/golden_anynet.py): parameter
 * names and counts (total and per stage) and tap shapes for two table records and three small
 * ones; and a whole 5-iteration proxy run per block type (res_bottleneck_block with grouped 3×3
 * convs, res_basic_block, vanilla_block via double_plain_block) from the same initial weights,
 * inputs and targets, which both sides generate from one integer hash and assign by state_dict
 * name, under both kernel tilings.
 */
import assert from "node:assert/strict";
import golden from "../fixtures/golden/anynet.json" with { type: "json" };
import type { DeviceClass } from "../src/gpu/kernel.ts";
import { GraphBuilder } from "../src/graph/builder.ts";
import { Conv2dOp } from "../src/graph/ops.ts";
import { PickOp } from "../src/graph/ops_pick.ts";
import { buildProxyGraph } from "../src/proxy/score.ts";
import { DEFAULT_PROXY_SETTINGS } from "../src/proxy/settings.ts";
import type { PreparedTask } from "../src/proxy/task.ts";
import { getSpace } from "../src/spaces/index.ts";
import { hashed, hashedInts } from "./support/golden_hash.ts";
import { goldenProxyRun } from "./support/golden_run.ts";

const space = getSpace("resnext-a_in");

Deno.test("anynet golden generator reproduces the Python hash bit for bit", () => {
  const c = golden.hash_check;
  assert.deepEqual(hashedInts(c.key, c.ints.length, c.m), c.ints);
});

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

for (const c of golden.counts) {
  Deno.test(`anynet network "${c.name}" matches PyTorch: names, counts per stage, taps`, () => {
    const arch = space.parse(JSON.stringify(c.net));
    const g = new GraphBuilder();
    const taps = space.build(g, g.input("x", [2, 3, 32, 32]), arch, { initChannels: 16 });
    assert.deepEqual(taps.map((t) => [...t.shape]), c.taps, "tap shapes");

    const built = buildProxyGraph(space, arch, fakeTask(2, c.out_channels), DEFAULT_PROXY_SETTINGS);
    const params = built.builder.params;
    assert.deepEqual(params.map((p) => p.name).sort(), c.names, "parameter names");
    const modules = Object.keys(c.modules);
    const perModule = Object.fromEntries(modules.map((m) => [m, 0]));
    for (const p of params) perModule[modules.find((m) => p.name.startsWith(`${m}.`))!] += p.size;
    assert.deepEqual(perModule, c.modules, "parameters per stage");
    assert.deepEqual(params.reduce((sum, p) => sum + p.size, 0), c.total, "parameters in total");
  });
}

Deno.test("anynet backbone convs are drawn from N(0, √(2/fan_out)), fan_out = k²·C_out", () => {
  const arch = space.parse(JSON.stringify(golden.counts[1].net));
  const g = new GraphBuilder();
  space.build(g, g.input("x", [2, 3, 32, 32]), arch, { initChannels: 16 });
  const convs = g.params.filter((p) => p.shape.length === 4);
  assert(convs.length > 0);
  for (const p of convs) {
    const [out, , kh, kw] = p.shape;
    assert.deepEqual(
      p.options.init,
      { kind: "normal", std: Math.sqrt(2 / (kh * kw * out)) },
      p.name,
    );
  }
});

const run = golden.proxy;
const task: PreparedTask = {
  ...fakeTask(run.batch, run.out_channels),
  inputs: hashed("input", run.batch * 3 * 32 * 32, 8192),
  targets: run.out_channels.map((ch, s) => hashed(`target${s}`, run.batch * ch * 64, 4096)),
};

function proxyRun(net: unknown, seed: number, lr: number, deviceClass: DeviceClass) {
  return goldenProxyRun(space, JSON.stringify(net), task, {
    iterations: run.iterations,
    seed,
    lr,
    deviceClass,
  });
}

for (const c of run.cases) {
  for (const deviceClass of ["cpu", "gpu"] as const) {
    Deno.test(`anynet ${c.name} proxy run matches PyTorch and is deterministic (${deviceClass} tilings)`, async () => {
      const first = await proxyRun(c.net, c.seed, c.lr, deviceClass);
      c.losses.forEach((expected, i) => {
        const rel = Math.abs(first.losses[i] - expected) / expected;
        assert(rel < 1e-3, `iteration ${i}: ${first.losses[i]} vs PyTorch ${expected}`);
      });
      const rel = Math.abs(first.evalLoss - c.eval_loss) / c.eval_loss;
      assert(rel < 1e-3, `eval loss ${first.evalLoss} vs PyTorch ${c.eval_loss}`);
      const second = await proxyRun(c.net, c.seed, c.lr, deviceClass);
      assert.deepEqual(second.evalLoss, first.evalLoss, "same inputs, same backend: same score");
      assert.deepEqual([...second.losses], [...first.losses]);
    });
  }
}

Deno.test("a strided 1×1 projection is built as a pick and a stride-1 conv under its own name", () => {
  // Row 13's stages 3 and 4 project with 1×1 stride-2 convs (16 → 16 at 32², 16 → 128 at 16²).
  const arch = space.parse(JSON.stringify(golden.counts[0].net));
  const g = new GraphBuilder();
  space.build(g, g.input("x", [2, 3, 32, 32]), arch, { initChannels: 16 });
  const convs = g.ops.filter((op): op is Conv2dOp => op instanceof Conv2dOp);
  const strided = convs.filter((op) => op.shape.strideH > 1);
  assert.ok(strided.length > 0, "the record has strided 3×3 convs");
  assert.ok(strided.every((op) => op.shape.kernelH > 1), "a strided 1×1 conv was built");
  const picks = g.ops.filter((op): op is PickOp => op instanceof PickOp);
  assert.ok(picks.length > 0, "no pick before a projection");
  assert.deepEqual(picks.map((op) => [op.x.h, op.y.h]), [[32, 16], [16, 8]]);
  for (const pick of picks) {
    const conv = convs.find((op) => op.name === pick.name.replace(/\.stride_pick$/, ""))!;
    assert.deepEqual([conv.shape.kernelH, conv.shape.strideH, conv.shape.inH], [1, 1, pick.y.h]);
  }
});
