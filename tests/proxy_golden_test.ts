/**
 * A whole GenNAS proxy run on a tiny config (4 init channels, batch 4, 5 SGD iterations) from the
 * same initial weights, inputs and targets as PyTorch (scripts/golden_spaces.py): per-iteration
 * train losses and the final eval-mode loss; and determinism of the run.
 */
import assert from "node:assert/strict";
import golden from "../fixtures/golden/spaces.json" with { type: "json" };
import { acquireGpu } from "../src/gpu/device.ts";
import type { DeviceClass } from "../src/gpu/kernel.ts";
import { compileProxy } from "../src/proxy/score.ts";
import { DEFAULT_PROXY_SETTINGS } from "../src/proxy/settings.ts";
import type { PreparedTask } from "../src/proxy/task.ts";
import { getSpace } from "../src/spaces/index.ts";

type Case = typeof golden.proxy[number];

function taskOf(c: Case): PreparedTask {
  return {
    name: "golden",
    config: undefined as never,
    images: "golden",
    batch: c.batch,
    inputs: Float32Array.from(c.input),
    targets: c.targets.map((t) => Float32Array.from(t)),
    channels: c.out_channels as [number, number, number],
    trainWeights: [1, 1, 1],
    evalWeights: [0.25, 0.5, 1],
    noise: { kind: "gaussian", level: 0 },
  };
}

async function run(
  c: Case,
  deviceClass: DeviceClass,
): Promise<{ losses: Float32Array; evalLoss: number }> {
  const gpu = await acquireGpu();
  const space = getSpace(c.space);
  const settings = {
    ...DEFAULT_PROXY_SETTINGS,
    initChannels: c.init_channels,
    iterations: c.iterations,
  };
  const task = taskOf(c);
  const graph = await compileProxy(gpu, space, space.parse(c.arch), task, settings, {
    seed: 1,
    deviceClass,
  });
  try {
    assert.deepEqual(graph.params.map((p) => p.name).sort(), Object.keys(c.params).sort());
    graph.importParams(
      new Map(Object.entries(c.params).map(([k, v]) => [k, Float32Array.from(v)])),
    );
    graph.train(c.iterations);
    const { loss, trainLosses } = await graph.evaluate();
    return { losses: trainLosses, evalLoss: loss };
  } finally {
    graph.destroy();
  }
}

for (const c of golden.proxy) {
  for (const deviceClass of ["cpu", "gpu"] as const) {
    Deno.test(`${c.space} proxy run matches PyTorch and is deterministic (${deviceClass} tilings)`, async () => {
      const first = await run(c, deviceClass);
      c.losses.forEach((expected, i) => {
        const rel = Math.abs(first.losses[i] - expected) / expected;
        assert(rel < 1e-3, `iteration ${i}: ${first.losses[i]} vs PyTorch ${expected}`);
      });
      const rel = Math.abs(first.evalLoss - c.eval_loss) / c.eval_loss;
      assert(rel < 1e-3, `eval loss ${first.evalLoss} vs PyTorch ${c.eval_loss}`);
      const second = await run(c, deviceClass);
      assert.deepEqual(second.evalLoss, first.evalLoss, "same inputs, same backend: same score");
      assert.deepEqual([...second.losses], [...first.losses]);
    });
  }
}

Deno.test("compileProxy builds the requested tilings (the runs above compare both)", async () => {
  const gpu = await acquireGpu();
  const c = golden.proxy[0];
  const space = getSpace(c.space);
  const settings = { ...DEFAULT_PROXY_SETTINGS, initChannels: c.init_channels, iterations: 1 };
  const kernels = async (deviceClass: DeviceClass) => {
    const graph = await compileProxy(gpu, space, space.parse(c.arch), taskOf(c), settings, {
      deviceClass,
    });
    try {
      return graph.dispatches.train.map((d) => d.label).join(" ");
    } finally {
      graph.destroy();
    }
  };
  assert.notEqual(await kernels("gpu"), await kernels("cpu"));
});
