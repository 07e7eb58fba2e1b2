/**
 * A whole proxy run from the golden scripts' initial weights (golden_hash.ts initialValue, by
 * state_dict name), inputs and targets: the losses to compare with the PyTorch counterpart.
 */
import { acquireGpu } from "../../src/gpu/device.ts";
import type { DeviceClass } from "../../src/gpu/kernel.ts";
import { compileProxy } from "../../src/proxy/score.ts";
import { DEFAULT_PROXY_SETTINGS, type ProxySettings } from "../../src/proxy/settings.ts";
import type { PreparedTask } from "../../src/proxy/task.ts";
import type { NetworkSpace } from "../../src/spaces/index.ts";
import { initialValue } from "./golden_hash.ts";

export async function goldenProxyRun(
  space: NetworkSpace<unknown>,
  archText: string,
  task: PreparedTask,
  o: {
    iterations: number;
    seed: number;
    lr: number;
    deviceClass: DeviceClass;
    settings?: Partial<ProxySettings>;
  },
): Promise<{ losses: Float32Array; evalLoss: number }> {
  const gpu = await acquireGpu();
  const settings = {
    ...DEFAULT_PROXY_SETTINGS,
    ...o.settings,
    iterations: o.iterations,
    lr: o.lr,
  };
  const graph = await compileProxy(gpu, space, space.parse(archText), task, settings, {
    seed: 1,
    deviceClass: o.deviceClass,
  });
  try {
    graph.importParams(new Map(graph.params.map((p) => [p.name, initialValue(o.seed, p)])));
    graph.train(o.iterations);
    const { loss, trainLosses } = await graph.evaluate();
    return { losses: trainLosses, evalLoss: loss };
  } finally {
    graph.destroy();
  }
}
