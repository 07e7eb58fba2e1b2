/**
 * Builds a network once as a static graph of op nodes. Every op can either create its output or
 * add into an existing tensor (`into`), so sums of branches cost no extra kernels.
 */
import { conv2dOutputSize, conv2dShape, convertWeightLayout } from "../kernels/conv2d/mod.ts";
import { poolOutputSize } from "../kernels/pool.ts";
import { pickOutputSize } from "../kernels/pick.ts";
import type { UnaryOp } from "../kernels/elementwise.ts";
import {
  BatchNormOp,
  Conv2dOp,
  LinearOp,
  MulOp,
  type NoiseConfig,
  NoisyInputOp,
  type OpNode,
  UnaryOpNode,
} from "./ops.ts";
import {
  AvgPoolOp,
  ConcatOp,
  GlobalAvgPoolOp,
  MaxPoolOp,
  SliceChannelsOp,
  SubsampleOp,
} from "./ops_layout.ts";
import { PickOp } from "./ops_pick.ts";
import { ReluMaskOp } from "./ops_mask.ts";
import {
  type InitSpec,
  Param,
  type ParamOptions,
  sameShape,
  shapeText,
  State,
  Tensor,
} from "./tensor.ts";

export interface Conv2dOptions {
  outChannels: number;
  kernel: number | [number, number];
  stride?: number | [number, number];
  pad?: number | [number, number];
  dilation?: number | [number, number];
  groups?: number;
  bias: boolean;
  /** Weight init; PyTorch's default (kaiming-uniform a=√5) when absent. */
  weightInit?: InitSpec;
  /** The conv reads max(x, 0): a ReLU before the conv, fused (no tensor, no launches). */
  reluInput?: boolean;
}

export interface BatchNormOptions {
  affine: boolean;
  relu?: boolean;
  /** Keep running statistics for eval mode (PyTorch track_running_stats). */
  track: boolean;
  eps?: number;
  momentum?: number;
}

export interface PoolOptions {
  kernel: number;
  stride: number;
  pad: number;
}

export interface LossStage {
  readonly output: Tensor;
  /** mse: the target; cross_entropy: the labels [N] (class indices as f32); seed: dL/d output. */
  readonly target: Tensor;
  readonly trainWeight: number;
  readonly evalWeight: number;
  /** mse (default), cross_entropy or seed; see src/graph/losses.ts. */
  readonly kind?: "mse" | "cross_entropy" | "seed";
}

/** PyTorch's default for conv and linear layers: kaiming_uniform(a=√5) = U(±1/√fan_in). */
export function pytorchDefaultInit(fanIn: number): ParamOptions["init"] {
  return { kind: "uniform", bound: 1 / Math.sqrt(fanIn) };
}

export class GraphBuilder {
  readonly tensors: Tensor[] = [];
  readonly ops: OpNode[] = [];
  readonly params: Param[] = [];
  readonly states: State[] = [];
  readonly inputs: Tensor[] = [];
  readonly losses: LossStage[] = [];
  /** Inputs whose gradient the backward computes (CompiledGraph.exportInputGradient). */
  readonly gradInputs = new Set<Tensor>();
  /** Activations kept in buffers of their own after a pass (CompiledGraph.exportValue). */
  readonly observed = new Set<Tensor>();
  /** Activations whose gradient is kept after a pass (CompiledGraph.exportGradientValues). */
  readonly observedGrads = new Set<Tensor>();
  /** `reluMasks` builds: the mask input of each ReLU input, by that input's name. */
  readonly reluMasks = new Map<string, Tensor>();
  readonly #masked = new Map<Tensor, Tensor>();
  readonly #producers = new Map<Tensor, OpNode[]>();
  readonly #names = new Set<string>();

  /**
   * `batchNorm: false` builds every batch norm as the identity (its fused ReLU kept): the
   * BN-disabled copy synflow scores (spec §9). `layerOutputs: true` gives every conv and linear
   * layer an output tensor of its own, added into a sum (`into`) by a copy, so each layer's
   * output can be read (fisher, spec §9); the network computed is the same. `frozenPatterns: true`
   * builds every ReLU as x · [m > 0] with m an input (`reluMasks`, keyed by the ReLU input's
   * name) that the first training iteration captures from x on the GPU (so it computes the plain
   * ReLU) and later iterations keep, and every max pool keeps the argmax of that iteration: the
   * network's kinks frozen, so it is smooth in its weights (grasp, spec §9).
   */
  constructor(
    readonly options: { batchNorm?: boolean; layerOutputs?: boolean; frozenPatterns?: boolean } =
      {},
  ) {}

  /** Host-written tensor (clean images, targets). */
  input(name: string, shape: readonly number[]): Tensor {
    const t = this.#tensor(name, shape, "input");
    this.inputs.push(t);
    return t;
  }

  param(name: string, shape: readonly number[], options: ParamOptions): Param {
    this.#claim(name);
    const p = new Param(this.tensors.length, name, shape, options);
    this.tensors.push(p);
    this.params.push(p);
    return p;
  }

  state(name: string, shape: readonly number[], initial: number): State {
    this.#claim(name);
    const s = new State(this.tensors.length, name, shape, initial);
    this.tensors.push(s);
    this.states.push(s);
    return s;
  }

  zeros(name: string, shape: readonly number[]): Tensor {
    return this.#tensor(name, shape, "zeros");
  }

  /** clean + fresh noise each iteration (and a different draw for the eval pass). */
  noisy(name: string, clean: Tensor, noise: NoiseConfig): Tensor {
    const y = this.#tensor(name, clean.shape, "activation");
    return this.#add(new NoisyInputOp(name, clean, y, noise), y);
  }

  /** Conv2d with PyTorch's default init; weight `${name}.weight`, bias `${name}.bias`. */
  conv2d(name: string, x: Tensor, o: Conv2dOptions, into?: Tensor): Tensor {
    if (into && this.options.layerOutputs) {
      return this.addInto(`${name}.sum`, this.conv2d(name, x, o), into);
    }
    if (o.reluInput && this.options.frozenPatterns) {
      const masked = this.#masked.get(x) ?? this.#maskRelu(`${x.name}.masked_relu`, x);
      this.#masked.set(x, masked);
      return this.conv2d(name, masked, { ...o, reluInput: false }, into);
    }
    const shape = conv2dShape({
      batch: x.n,
      inChannels: x.c,
      outChannels: o.outChannels,
      inH: x.h,
      inW: x.w,
      kernel: o.kernel,
      stride: o.stride,
      pad: o.pad,
      dilation: o.dilation,
      groups: o.groups,
    });
    const { kernelH, kernelW, strideH, strideW, padH, padW } = shape;
    if (kernelH === 1 && kernelW === 1 && strideH > 1 && strideH === strideW && !padH && !padW) {
      // conv1×1 stride s = conv1×1 of x[:, :, ::s, ::s]: the strided kernels spend most of their
      // data-gradient launch on the dx positions no tap reaches (≈ 3× the time per FLOP).
      const picked = this.pick(`${name}.stride_pick`, x, strideH, 0);
      return this.conv2d(name, picked, { ...o, stride: 1 }, into);
    }
    const fanIn = (x.c / shape.groups) * shape.kernelH * shape.kernelW;
    const init = pytorchDefaultInit(fanIn);
    // Stored as [Cin/g][kh][kw][Cout], which the conv kernels read without a transpose launch.
    const layout = {
      toStored: (w: Float32Array) => convertWeightLayout(w, shape, "oihw", "ihwo"),
      fromStored: (w: Float32Array) => convertWeightLayout(w, shape, "ihwo", "oihw"),
    };
    const weight = this.param(
      `${name}.weight`,
      [o.outChannels, x.c / shape.groups, shape.kernelH, shape.kernelW],
      { init: o.weightInit ?? init, decay: true, layout },
    );
    const bias = o.bias
      ? this.param(`${name}.bias`, [o.outChannels], { init, decay: false })
      : undefined;
    const { outH, outW } = conv2dOutputSize(shape);
    const y = this.#output(name, [x.n, o.outChannels, outH, outW], into);
    const op = new Conv2dOp(name, x, weight, bias, y, shape, o.reluInput ?? false);
    return this.#add(op, y, into);
  }

  /**
   * BatchNorm2d (γ=1, β=0, running mean 0 / var 1) with an optional fused ReLU; `residual` (a
   * plain, untracked batch norm only) is added to the output by the same launch, as
   * `addInto(…, residual, result)` would after it.
   */
  batchNorm(
    name: string,
    x: Tensor,
    o: BatchNormOptions,
    into?: Tensor,
    residual?: Tensor,
  ): Tensor {
    if (o.relu && this.options.frozenPatterns && this.options.batchNorm !== false) {
      if (residual) throw new Error(`${name}: a masked ReLU takes no fused residual`);
      const pre = this.batchNorm(name, x, { ...o, relu: false });
      return this.#maskRelu(`${name}.masked_relu`, pre, into);
    }
    if (this.options.batchNorm === false) {
      // A copy, not x or the relu's output itself: callers may sum into a BN's output.
      const y = o.relu ? this.unary(`${name}.relu`, "relu", x) : x;
      const sum = this.addInto(name, y, into);
      return residual ? this.addInto(`${name}.residual`, residual, sum) : sum;
    }
    if (residual) {
      if (o.affine || o.track) {
        throw new Error(`${name}: a residual needs a plain, untracked batch norm (internal)`);
      }
      this.#assertShape(name, residual, x.shape);
    }
    const c = x.c;
    const gamma = o.affine
      ? this.param(`${name}.weight`, [c], { init: { kind: "constant", value: 1 }, decay: false })
      : undefined;
    const beta = o.affine
      ? this.param(`${name}.bias`, [c], { init: { kind: "constant", value: 0 }, decay: false })
      : undefined;
    const runningMean = o.track ? this.state(`${name}.running_mean`, [c], 0) : undefined;
    const runningVar = o.track ? this.state(`${name}.running_var`, [c], 1) : undefined;
    const mean = this.#tensor(`${name}.batch_mean`, [c], "saved");
    const invstd = this.#tensor(`${name}.batch_invstd`, [c], "saved");
    const y = this.#output(name, x.shape, into);
    const op = new BatchNormOp(name, x, y, mean, invstd, gamma, beta, runningMean, runningVar, {
      affine: o.affine,
      relu: o.relu ?? false,
      track: o.track,
      eps: o.eps ?? 1e-5,
      momentum: o.momentum ?? 0.1,
    }, residual);
    return this.#add(op, y, into);
  }

  unary(name: string, op: UnaryOp, x: Tensor, alpha?: number, into?: Tensor): Tensor {
    if (op === "relu" && this.options.frozenPatterns) return this.#maskRelu(name, x, into);
    const y = this.#output(name, x.shape, into);
    return this.#add(new UnaryOpNode(name, op, x, y, alpha), y, into);
  }

  /** into += x (x copied when `into` is absent). */
  addInto(name: string, x: Tensor, into: Tensor | undefined): Tensor {
    return this.unary(name, "identity", x, undefined, into);
  }

  mul(name: string, a: Tensor, b: Tensor, into?: Tensor): Tensor {
    this.#assertShape(name, a, b.shape);
    const y = this.#output(name, a.shape, into);
    return this.#add(new MulOp(name, a, b, y), y, into);
  }

  maxPool(name: string, x: Tensor, o: PoolOptions, into?: Tensor): Tensor {
    const shape = { batch: x.n, channels: x.c, inH: x.h, inW: x.w, ...o };
    const { outH, outW } = poolOutputSize(shape);
    const y = this.#output(name, [x.n, x.c, outH, outW], into);
    const frozen = this.options.frozenPatterns === true;
    const argmax = this.#tensor(`${name}.argmax`, y.shape, frozen ? "input" : "saved", "u32");
    if (frozen) this.inputs.push(argmax);
    return this.#add(new MaxPoolOp(name, x, y, argmax, shape, frozen), y, into);
  }

  avgPool(
    name: string,
    x: Tensor,
    o: PoolOptions & { countIncludePad: boolean },
    into?: Tensor,
  ): Tensor {
    const shape = {
      batch: x.n,
      channels: x.c,
      inH: x.h,
      inW: x.w,
      kernel: o.kernel,
      stride: o.stride,
      pad: o.pad,
    };
    const { outH, outW } = poolOutputSize(shape);
    const y = this.#output(name, [x.n, x.c, outH, outW], into);
    return this.#add(new AvgPoolOp(name, x, y, shape, o.countIncludePad), y, into);
  }

  globalAvgPool(name: string, x: Tensor, into?: Tensor): Tensor {
    const y = this.#output(name, [x.n, x.c], into);
    return this.#add(new GlobalAvgPoolOp(name, x, y), y, into);
  }

  /** Nearest-neighbour resize (F.interpolate mode "nearest"); identity when sizes agree. */
  subsample(name: string, x: Tensor, outH: number, outW: number, into?: Tensor): Tensor {
    if (!into && x.h === outH && x.w === outW) return x;
    const y = this.#output(name, [x.n, x.c, outH, outW], into);
    const shape = { batch: x.n, channels: x.c, inH: x.h, inW: x.w, outH, outW };
    return this.#add(new SubsampleOp(name, x, y, shape), y, into);
  }

  /** x[:, :, offset::stride, offset::stride], zero past the edge (output ceil(H/stride)). */
  pick(name: string, x: Tensor, stride: number, offset: number, into?: Tensor): Tensor {
    const shape = { batch: x.n, channels: x.c, inH: x.h, inW: x.w, stride, offset };
    const { outH, outW } = pickOutputSize(shape);
    const y = this.#output(name, [x.n, x.c, outH, outW], into);
    return this.#add(new PickOp(name, x, y, shape), y, into);
  }

  concat(name: string, parts: readonly Tensor[], into?: Tensor): Tensor {
    if (parts.length === 1 && !into) return parts[0];
    const [first] = parts;
    for (const p of parts) {
      if (p.n !== first.n || p.h !== first.h || p.w !== first.w) {
        throw new Error(`${name}: concat of ${shapeText(p.shape)} and ${shapeText(first.shape)}`);
      }
    }
    const channels = parts.reduce((sum, p) => sum + p.c, 0);
    const y = this.#output(name, [first.n, channels, first.h, first.w], into);
    return this.#add(new ConcatOp(name, parts, y), y, into);
  }

  /** The first `count` channels (x itself when count equals the channel count and no `into`). */
  sliceChannels(name: string, x: Tensor, count: number, into?: Tensor): Tensor {
    if (count === x.c) return into ? this.addInto(name, x, into) : x;
    if (count > x.c || count < 1) throw new Error(`${name}: slice ${count} of ${x.c} channels`);
    const y = this.#output(name, [x.n, count, x.h, x.w], into);
    return this.#add(new SliceChannelsOp(name, x, y), y, into);
  }

  linear(
    name: string,
    x: Tensor,
    outFeatures: number,
    o: { bias: boolean },
    into?: Tensor,
  ): Tensor {
    if (into && this.options.layerOutputs) {
      return this.addInto(`${name}.sum`, this.linear(name, x, outFeatures, o), into);
    }
    const [batch, inFeatures] = x.shape;
    const init = pytorchDefaultInit(inFeatures);
    const weight = this.param(`${name}.weight`, [outFeatures, inFeatures], { init, decay: true });
    const bias = o.bias
      ? this.param(`${name}.bias`, [outFeatures], { init, decay: false })
      : undefined;
    const y = this.#output(name, [batch, outFeatures], into);
    const shape = { batch, inFeatures, outFeatures };
    return this.#add(new LinearOp(name, x, weight, bias, y, shape), y, into);
  }

  /** The output tensor of an op built outside this file (a new activation, or `into`). */
  activation(name: string, shape: readonly number[], into?: Tensor): Tensor {
    return this.#output(name, shape, into);
  }

  /** Adds an op built outside this file (e.g. src/graph/ops_seq.ts); returns `y`. */
  addOp(op: OpNode, y: Tensor, into?: Tensor): Tensor {
    return this.#add(op, y, into);
  }

  /** Weighted MSE over stages; stages whose train weight is 0 are left out entirely. */
  mseLoss(stages: readonly LossStage[]): void {
    for (const s of stages) {
      this.#assertShape("mse loss", s.output, s.target.shape);
      if (s.trainWeight !== 0) this.losses.push(s);
    }
  }

  /** Makes the backward compute the gradient of an input tensor (e.g. jacob_cov's ∂y/∂x). */
  requireGrad(t: Tensor): void {
    if (t.kind !== "input") throw new Error(`${t.name}: only input tensors take requireGrad`);
    this.gradInputs.add(t);
  }

  /**
   * Freezes every parameter: the backward computes no weight gradients and nothing is updated,
   * for passes that need only input gradients (jacob_cov).
   */
  freezeParams(): void {
    this.#paramsFrozen = true;
  }

  get paramsFrozen(): boolean {
    return this.#paramsFrozen;
  }

  #paramsFrozen = false;

  /** Keeps an activation readable after a pass (e.g. naswot's ReLU inputs); no buffer reuse. */
  observe(t: Tensor): void {
    if (t.kind !== "activation") throw new Error(`${t.name}: only activations can be observed`);
    this.observed.add(t);
  }

  /** Keeps an activation's gradient readable after a training pass (e.g. fisher's ∂L/∂a). */
  observeGrad(t: Tensor): void {
    if (t.kind !== "activation") throw new Error(`${t.name}: only activations can be observed`);
    this.observedGrads.add(t);
  }

  /** Softmax cross-entropy of [N, K] logits against `labels` [N] (class indices as f32). */
  crossEntropyLoss(logits: Tensor, labels: Tensor): void {
    if (logits.shape.length !== 2 || !sameShape(labels.shape, [logits.shape[0]])) {
      throw new Error(
        `cross-entropy: logits ${shapeText(logits.shape)}, labels ${shapeText(labels.shape)}`,
      );
    }
    this.losses.push({
      output: logits,
      target: labels,
      trainWeight: 1,
      evalWeight: 1,
      kind: "cross_entropy",
    });
  }

  /** A loss whose gradient w.r.t. `output` is `seed` (backprop of Σ output ⊙ seed). */
  seedLoss(output: Tensor, seed: Tensor): void {
    this.#assertShape("seed loss", output, seed.shape);
    this.losses.push({ output, target: seed, trainWeight: 1, evalWeight: 1, kind: "seed" });
  }

  /** x · [m > 0], m the (shared) mask input of x. */
  #maskRelu(name: string, x: Tensor, into?: Tensor): Tensor {
    let mask = this.reluMasks.get(x.name);
    if (!mask) {
      mask = this.input(`${x.name}.relu_mask`, x.shape);
      this.reluMasks.set(x.name, mask);
    }
    const y = this.#output(name, x.shape, into);
    return this.#add(new ReluMaskOp(name, x, mask, y), y, into);
  }

  #claim(name: string): void {
    if (this.#names.has(name)) throw new Error(`duplicate tensor name "${name}"`);
    this.#names.add(name);
  }

  #tensor(
    name: string,
    shape: readonly number[],
    kind: Tensor["kind"],
    dtype: "f32" | "u32" = "f32",
  ): Tensor {
    this.#claim(name);
    if (shape.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new Error(`${name}: invalid shape ${shapeText(shape)}`);
    }
    const t = new Tensor(this.tensors.length, name, shape, kind, dtype);
    this.tensors.push(t);
    return t;
  }

  #output(name: string, shape: readonly number[], into: Tensor | undefined): Tensor {
    if (!into) return this.#tensor(name, shape, "activation");
    this.#assertShape(name, into, shape);
    if (into.kind !== "activation") throw new Error(`${name}: cannot add into ${into.kind}`);
    return into;
  }

  #assertShape(name: string, t: Tensor, shape: readonly number[]): void {
    if (!sameShape(t.shape, shape)) {
      throw new Error(`${name}: shape ${shapeText(t.shape)} does not match ${shapeText(shape)}`);
    }
  }

  #add(op: OpNode, y: Tensor, into?: Tensor): Tensor {
    const producers = this.#producers.get(y) ?? [];
    if (into) {
      op.accumulate = true;
      for (const p of [...producers, op]) {
        if (!p.canAccumulate) {
          throw new Error(
            `${op.name}: ${p.name} output cannot be summed into (its backward reads it)`,
          );
        }
      }
    }
    producers.push(op);
    this.#producers.set(y, producers);
    this.ops.push(op);
    return y;
  }
}
