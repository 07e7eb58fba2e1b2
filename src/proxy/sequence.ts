/**
 * The sequence-regression proxy (spec §2.11, §5.2): input I + fresh noise [L·B, d] through the
 * space's sequence network, plain MSE against F* (one term, weight 1 in training and eval), and
 * the optimizer a space declares (nbnlp: Adam).
 */
import { GraphBuilder } from "../graph/builder.ts";
import type { OptimizerConfig } from "../graph/optimizer.ts";
import type { Tensor } from "../graph/tensor.ts";
import type { NetworkSpace } from "../spaces/index.ts";
import { buildNlpTask, NLP_LENGTH, type NlpTaskConfig } from "../tasks/nlp.ts";
import type { TaskConfig } from "../tasks/schema.ts";
import { hashString, Rng } from "../util/rng.ts";
import type { ProxySettings } from "./settings.ts";
import type { PreparedTask } from "./task.ts";

/** The optimizer of a space: its declared kind, with the run's lr and weight decay. */
export function optimizerFor(
  space: Pick<NetworkSpace<unknown>, "optimizer">,
  settings: ProxySettings,
): OptimizerConfig {
  if (space.optimizer?.kind === "adam") {
    return {
      kind: "adam",
      lr: settings.lr,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: settings.weightDecay,
    };
  }
  return {
    kind: "sgd",
    lr: settings.lr,
    momentum: settings.momentum,
    weightDecay: settings.weightDecay,
  };
}

/** Input and target sequences built once per task (seeded), shared by every architecture. */
export function prepareSequenceTask(
  name: string,
  config: NlpTaskConfig,
  settings: ProxySettings,
): PreparedTask {
  const rng = new Rng(settings.seed).fork("nlp-task");
  const { input, target } = buildNlpTask(config, settings.batch, rng);
  return {
    name,
    // Journals and reports record the config as JSON; no CNN field of it is read for sequences.
    config: config as unknown as TaskConfig,
    images: "none (synthetic sequences)",
    batch: settings.batch,
    inputs: input,
    targets: [target],
    channels: [config.dimension, 0, 0],
    trainWeights: [1, 0, 0],
    evalWeights: [1, 0, 0],
    noise: { kind: config.noise.type, level: config.noise.noise_level },
    sequence: { length: NLP_LENGTH, dimension: config.dimension },
  };
}

/** The graph of a sequence space on a prepared sequence task. */
export function buildSequenceGraph<A>(
  space: NetworkSpace<A>,
  arch: A,
  task: PreparedTask,
  settings: ProxySettings,
  maxStorageBuffers?: number,
): { builder: GraphBuilder; clean: Tensor; targets: Tensor[] } {
  if (!task.sequence || !space.buildSequence) {
    throw new Error(`space ${space.name} and task ${task.name}: both must be sequence kinds`);
  }
  const { length, dimension } = task.sequence;
  const g = new GraphBuilder();
  const clean = g.input("input", [length * task.batch, dimension]);
  const x = task.noise.level > 0
    ? g.noisy("input.noisy", clean, { ...task.noise, seed: hashString(`noise/${settings.seed}`) })
    : clean;
  const output = space.buildSequence(g, x, arch, {
    length,
    batch: task.batch,
    trainRecurrent: settings.nlpTrainRecurrent ?? false,
    fuse: !settings.nlpUnfused,
    maxBindings: maxStorageBuffers,
    seed: hashString(`dropout/${settings.seed}`),
  });
  const target = g.input("target0", output.shape);
  g.mseLoss([{ output, target, trainWeight: 1, evalWeight: 1 }]);
  return { builder: g, clean, targets: [target] };
}
