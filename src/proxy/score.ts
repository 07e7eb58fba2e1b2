/**
 * The GenNAS regression proxy for one architecture (spec §4.0, §5): backbone + heads (nearest
 * subsample to 8×8 → BN → 1×1 conv) trained by SGD on the task's batch, then one eval-mode
 * forward with fresh noise. The whole run makes one readback.
 */
import type { Gpu } from "../gpu/device.ts";
import type { DeviceClass } from "../gpu/kernel.ts";
import { GraphBuilder, type LossStage } from "../graph/builder.ts";
import { type CompiledGraph, compileGraph, type GraphStats } from "../graph/compile.ts";
import type { Tensor } from "../graph/tensor.ts";
import type { NetworkSpace } from "../spaces/index.ts";
import { hashString } from "../util/rng.ts";
import type { ProxySettings } from "./settings.ts";
import { buildSequenceGraph, optimizerFor } from "./sequence.ts";
import type { PreparedTask } from "./task.ts";

/** Head output size: every stage regresses 8×8 maps. */
export const OUTPUT_SIZE = 8;

export interface ScoreResult {
  /** Eval loss after the last iteration; lower is better. NaN/Inf possible (ranked last). */
  loss: number;
  /** Training loss of every iteration (train-mode BN, before that iteration's update). */
  trainLosses: number[];
  seconds: number;
  /** Parameters that take part in training (the reference also allocates unused NB-201 ops). */
  parameters: number;
  graph: GraphStats;
}

/** The weight-init seed of one architecture: fixed by (task seed, architecture). */
export function archSeed(settings: ProxySettings, spaceName: string, archText: string): number {
  return hashString(`${settings.seed}/${spaceName}/${archText}`);
}

export interface BuiltProxy {
  builder: GraphBuilder;
  clean: Tensor;
  targets: Tensor[];
}

/** Backbone, heads and loss of one architecture on a prepared task. */
export function buildProxyGraph<A>(
  space: NetworkSpace<A>,
  arch: A,
  task: PreparedTask,
  settings: ProxySettings,
  /** The device's maxStorageBuffersPerShaderStage where known (fused recurrent steps use it). */
  maxStorageBuffers?: number,
): BuiltProxy {
  if (space.proxy === "sequence") {
    return buildSequenceGraph(space, arch, task, settings, maxStorageBuffers);
  }
  const g = new GraphBuilder();
  const clean = g.input("input", [task.batch, 3, 32, 32]);
  // Noise is drawn from the task seed (one noise pipeline per task, not per architecture): every
  // architecture sees the same fresh-per-step noise.
  const x = task.noise.level > 0
    ? g.noisy("input.noisy", clean, { ...task.noise, seed: hashString(`noise/${settings.seed}`) })
    : clean;
  const taps = space.build(g, x, arch, settings);
  const stages: LossStage[] = [];
  const targets: Tensor[] = [];
  taps.forEach((tap, s) => {
    // The reference skips the head of a stage whose train weight is 0 (spec §10.17).
    if (task.trainWeights[s] === 0) return;
    const small = g.subsample(`out${s}.interpolate`, tap, OUTPUT_SIZE, OUTPUT_SIZE);
    const bn = g.batchNorm(`out${s}.0`, small, { affine: true, track: true });
    const output = g.conv2d(`out${s}.1`, bn, {
      outChannels: task.channels[s],
      kernel: 1,
      bias: true,
    });
    const target = g.input(`target${s}`, output.shape);
    targets[s] = target;
    stages.push({
      output,
      target,
      trainWeight: task.trainWeights[s],
      evalWeight: task.evalWeights[s],
    });
  });
  g.mseLoss(stages);
  return { builder: g, clean, targets };
}

/**
 * The proxy graph of `arch` compiled, with the task's inputs and targets written: ready to train.
 * Weights from `o.seed` (default: the arch's own seed, as `scoreArch`); room for
 * `o.maxIterations` (default `settings.iterations`); `o.deviceClass` for tests of either tiling.
 * The caller destroys it.
 */
export async function compileProxy<A>(
  gpu: Gpu,
  space: NetworkSpace<A>,
  arch: A,
  task: PreparedTask,
  settings: ProxySettings,
  o: { seed?: number; maxIterations?: number; deviceClass?: DeviceClass } = {},
): Promise<CompiledGraph> {
  const limit = gpu.device.limits.maxStorageBuffersPerShaderStage;
  const built = buildProxyGraph(space, arch, task, settings, limit);
  const graph = await compileGraph(gpu, built.builder, {
    optimizer: optimizerFor(space, settings),
    seed: o.seed ?? archSeed(settings, space.name, space.format(arch)),
    maxIterations: o.maxIterations ?? settings.iterations,
    convBlocks: settings.convBlocks,
    deviceClass: o.deviceClass,
  });
  try {
    graph.write(built.clean, task.inputs);
    built.targets.forEach((t, s) => t && graph.write(t, task.targets[s]));
  } catch (e) {
    graph.destroy();
    throw e;
  }
  return graph;
}

export async function scoreArch<A>(
  gpu: Gpu,
  space: NetworkSpace<A>,
  arch: A,
  task: PreparedTask,
  settings: ProxySettings,
): Promise<ScoreResult> {
  const started = performance.now();
  const graph = await compileProxy(gpu, space, arch, task, settings);
  try {
    const perSubmit = settings.iterationsPerSubmit ||
      (gpu.deviceClass === "gpu" ? 10 : 1);
    graph.train(settings.iterations, { perSubmit });
    const { loss, trainLosses } = await graph.evaluate();
    return {
      loss,
      trainLosses: Array.from(trainLosses),
      seconds: (performance.now() - started) / 1000,
      parameters: graph.stats.trainedParameters,
      graph: graph.stats,
    };
  } finally {
    graph.destroy();
  }
}
