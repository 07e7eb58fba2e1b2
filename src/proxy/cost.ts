/**
 * The trivial baselines `params` and `flops`: counted on the built graph, without training or a
 * GPU, so they work for every space that builds through GraphBuilder.
 *
 * Both are counted on the classification copy of the network that the benchmark tables count
 * (NB-201 / NASLib / NAS-Bench-Macro "params" and "flops"): the space's backbone as gennas builds
 * it (`initChannels`, only the selected ops), then global average pooling of the last stage and a
 * linear classifier (10 classes, with bias). The GenNAS regression heads are not counted.
 * - params: every trainable parameter of that network (conv/linear weights and biases, affine BN).
 * - flops: multiply-accumulates (MACs) of its conv and linear layers for ONE 3×32×32 sample —
 *   the benchmark tables' convention (their "FLOPs" are MACs; ×2 gives spec §11's FLOPs). Bias
 *   adds, BN, activations, pools, adds and concats are not counted (spec §11).
 */
import { GraphBuilder } from "../graph/builder.ts";
import { Conv2dOp, LinearOp } from "../graph/ops.ts";
import type { Tensor } from "../graph/tensor.ts";
import type { BackboneOptions, NetworkSpace } from "../spaces/index.ts";

/** Classes of the classification copy (CIFAR-10). */
export const CLASSIFIER_CLASSES = 10;

export interface GraphCost {
  /** Trainable parameters of the classification network. */
  params: number;
  /** Multiply-accumulates of conv and linear layers for one sample. */
  macs: number;
}

export interface ClassifierGraph {
  builder: GraphBuilder;
  input: Tensor;
  /** The 3 stage taps of the backbone. */
  taps: Tensor[];
  /** [batch, classes] logits. */
  logits: Tensor;
}

/** Backbone + global average pool of the last tap + linear classifier, on a [batch,3,32,32] input. */
export function buildClassifier<A>(
  space: NetworkSpace<A>,
  arch: A,
  o: BackboneOptions & {
    batch?: number;
    classes?: number;
    batchNorm?: boolean;
    /** Add the space's BN + ReLU before the pooling where its benchmark has one (proxies). */
    lastAct?: boolean;
    /** Every conv/linear layer keeps an output of its own (GraphBuilder option; fisher). */
    layerOutputs?: boolean;
    /** ReLU patterns and max-pool switches frozen after the first pass (GraphBuilder; grasp). */
    frozenPatterns?: boolean;
  },
): ClassifierGraph {
  const { batchNorm, layerOutputs, frozenPatterns } = o;
  const g = new GraphBuilder({ batchNorm, layerOutputs, frozenPatterns });
  const input = g.input("input", [o.batch ?? 1, 3, 32, 32]);
  const taps = space.build(g, input, arch, o);
  let last = taps[taps.length - 1];
  if (o.lastAct && space.classifierLastAct) {
    // Without it, NB-201's BN-free skip/pool cells let activations grow ~3× per cell at init and
    // the gradient proxies explode (the official network normalises here).
    last = g.batchNorm("classifier.lastact", last, { affine: true, track: true, relu: true });
  }
  const pooled = g.globalAvgPool("classifier.pool", last);
  const logits = g.linear("classifier", pooled, o.classes ?? CLASSIFIER_CLASSES, { bias: true });
  return { builder: g, input, taps, logits };
}

/** Parameters and per-sample MACs of a built graph (conv + linear layers). */
export function graphCost(g: GraphBuilder): GraphCost {
  const params = g.params.filter((p) => p.trainable).reduce((sum, p) => sum + p.size, 0);
  let macs = 0;
  for (const op of g.ops) {
    if (op instanceof Conv2dOp) {
      const s = op.shape;
      const perOutput = (s.inChannels / s.groups) * s.kernelH * s.kernelW;
      macs += perOutput * op.y.size / op.y.n;
    } else if (op instanceof LinearOp) {
      macs += op.shape.inFeatures * op.shape.outFeatures;
    }
  }
  return { params, macs };
}

/** Feature width of the input and output projections when a sequence space is counted. */
export const SEQUENCE_COST_DIMENSION = 32;

/** `params` and `flops` (MACs per sample) of one architecture's classification network. For a
 *  sequence space: params of its network (every recurrent weight counted as trainable,
 *  input/output width SEQUENCE_COST_DIMENSION), and as MACs the recurrent layers' products of one
 *  steady-state time step (x and hidden terms), i.e. a 2-step network's MACs minus a 1-step one's:
 *  the first step skips the products of the zero initial hidden state, and the encoder and decoder
 *  count the same in both. */
export function archCost<A>(space: NetworkSpace<A>, arch: A, o: BackboneOptions): GraphCost {
  const buildSequence = space.proxy === "sequence" ? space.buildSequence : undefined;
  if (buildSequence) {
    const count = (length: number) => {
      const g = new GraphBuilder();
      const x = g.input("input", [length, SEQUENCE_COST_DIMENSION]);
      // Unfused: a fused step's products are LinearLevelOps, which graphCost does not see.
      const options = { length, batch: 1, trainRecurrent: true, seed: 0, fuse: false };
      buildSequence.call(space, g, x, arch, options);
      return graphCost(g);
    };
    const [one, two] = [count(1), count(2)];
    return { params: one.params, macs: two.macs - one.macs };
  }
  return graphCost(buildClassifier(space, arch, { ...o, batch: 1 }).builder);
}
