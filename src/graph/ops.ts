/**
 * Op nodes: each maps its forward and backward onto kernel factories (src/kernels). Ops see
 * buffers only as `Slot`s, resolved to real buffer ranges after memory planning.
 */
import type { DeviceClass, Launch, LaunchContext } from "../gpu/kernel.ts";
import {
  conv2dBackwardData,
  conv2dBackwardWeight,
  conv2dForward,
  type Conv2dShape,
} from "../kernels/conv2d/mod.ts";
import { batchNormBackward, batchNormForward } from "../kernels/batchnorm.ts";
import {
  linearBackwardBias,
  linearBackwardData,
  linearBackwardWeight,
  linearForward,
  type LinearShape,
} from "../kernels/linear.ts";
import { binary, unary, unaryBackward, type UnaryOp } from "../kernels/elementwise.ts";
import { addNoise } from "../kernels/noise.ts";
import type { Param, State, Tensor } from "./tensor.ts";

/** A buffer range to be placed by the memory planner (transient) or in a persistent buffer. */
export interface Slot {
  readonly id: number;
  readonly floats: number;
  readonly label: string;
  readonly placement: SlotPlacement;
}

export type SlotPlacement =
  | "transient"
  | "params"
  | "grads"
  | "state"
  | "input"
  | "zeros"
  | "counter"
  | "history"
  | "eval"
  | "optimizer";

export type Mode = "train" | "eval";

export interface ForwardContext extends LaunchContext<Slot> {
  readonly mode: Mode;
  readonly deviceClass: DeviceClass;
  value(t: Tensor): Slot;
  /** The step counter (u32: completed optimizer steps). */
  readonly counter: Slot;
}

/** Where an input's gradient goes: written fresh, or added to earlier contributions. */
export interface GradTarget {
  readonly slot: Slot;
  readonly accumulate: boolean;
}

export interface BackwardContext extends LaunchContext<Slot> {
  value(t: Tensor): Slot;
  /** Gradient of one of this op's outputs. */
  grad(t: Tensor): Slot;
  /** Gradient of one of this op's outputs, or undefined where none reached it. */
  gradIfWritten(t: Tensor): Slot | undefined;
  /** Target for the gradient of inputs[i], or undefined when that input needs none. */
  gradTarget(inputIndex: number): GradTarget | undefined;
}

export abstract class OpNode {
  /** Set by the builder when outputs[0] already existed and this op adds into it. */
  accumulate = false;
  constructor(readonly name: string) {}
  abstract get inputs(): readonly Tensor[];
  abstract get outputs(): readonly Tensor[];
  abstract forward(ctx: ForwardContext): Launch<Slot>[];
  /** Whether outputs[0] may be a running sum (the backward does not read outputs[0]). */
  get canAccumulate(): boolean {
    return true;
  }
  backward(_ctx: BackwardContext): Launch<Slot>[] {
    return [];
  }
}

/** Bindings of a weighted op's forward and of its two gradients. */
interface WeightedIo {
  forward: { x: Slot; w: Slot; bias?: Slot; y: Slot };
  data: { dy: Slot; w: Slot; dx: Slot; x: Slot };
  weight: { dy: Slot; x: Slot; dw: Slot; dbias?: Slot };
}

/**
 * y = x ⊛ weight (+ bias): conv2d and linear. Subclasses supply the three kernel factories; the
 * input, weight and bias gradients are wired here (weight and bias gradients share one launch, so
 * they must accumulate alike).
 */
abstract class WeightedOp extends OpNode {
  constructor(
    name: string,
    readonly x: Tensor,
    readonly weight: Param,
    readonly bias: Param | undefined,
    readonly y: Tensor,
  ) {
    super(name);
  }
  get inputs(): readonly Tensor[] {
    return this.bias ? [this.x, this.weight, this.bias] : [this.x, this.weight];
  }
  get outputs(): readonly Tensor[] {
    return [this.y];
  }
  protected abstract forwardLaunches(
    ctx: ForwardContext,
    io: WeightedIo["forward"],
    accumulate: boolean,
  ): Launch<Slot>[];
  protected abstract dataLaunches(
    ctx: BackwardContext,
    io: WeightedIo["data"],
    accumulate: boolean,
  ): Launch<Slot>[];
  protected abstract weightLaunches(
    ctx: BackwardContext,
    io: WeightedIo["weight"],
    accumulate: boolean,
  ): Launch<Slot>[];

  forward(ctx: ForwardContext): Launch<Slot>[] {
    return this.forwardLaunches(ctx, {
      x: ctx.value(this.x),
      w: ctx.value(this.weight),
      bias: this.bias ? ctx.value(this.bias) : undefined,
      y: ctx.value(this.y),
    }, this.accumulate);
  }

  override backward(ctx: BackwardContext): Launch<Slot>[] {
    const dy = ctx.grad(this.y);
    const x = ctx.value(this.x);
    const launches: Launch<Slot>[] = [];
    const dx = ctx.gradTarget(0);
    if (dx) {
      const io = { dy, w: ctx.value(this.weight), dx: dx.slot, x };
      launches.push(...this.dataLaunches(ctx, io, dx.accumulate));
    }
    const dw = ctx.gradTarget(1);
    const db = this.bias ? ctx.gradTarget(2) : undefined;
    if (dw) {
      if (db && db.accumulate !== dw.accumulate) {
        throw new Error(`${this.name}: weight and bias gradients must accumulate alike`);
      }
      const io = { dy, x, dw: dw.slot, dbias: db?.slot };
      launches.push(...this.weightLaunches(ctx, io, dw.accumulate));
    } else if (db) {
      launches.push(...this.biasLaunches(ctx, { dy, dbias: db.slot }, db.accumulate));
    }
    return launches;
  }

  /** The bias gradient alone, where the weight takes none (a frozen weight). */
  protected biasLaunches(
    _ctx: BackwardContext,
    _io: { dy: Slot; dbias: Slot },
    _accumulate: boolean,
  ): Launch<Slot>[] {
    throw new Error(`${this.name}: a trained bias beside a frozen weight is not supported`);
  }
}

export class Conv2dOp extends WeightedOp {
  constructor(
    name: string,
    x: Tensor,
    weight: Param,
    bias: Param | undefined,
    y: Tensor,
    readonly shape: Conv2dShape,
    /** Fused ReLU on the input: the conv reads max(x, 0), the data gradient is masked by x > 0. */
    readonly reluInput: boolean,
  ) {
    super(name, x, weight, bias, y);
  }
  /** Weights are stored ihwo (see GraphBuilder.conv2d). */
  #options(accumulate: boolean) {
    return { accumulate, weightLayout: "ihwo" as const, reluInput: this.reluInput };
  }
  protected forwardLaunches(ctx: ForwardContext, io: WeightedIo["forward"], accumulate: boolean) {
    return conv2dForward(ctx, this.shape, io, this.#options(accumulate));
  }
  protected dataLaunches(ctx: BackwardContext, io: WeightedIo["data"], accumulate: boolean) {
    // x is only read to mask the gradient of a fused ReLU.
    const bound = { ...io, x: this.reluInput ? io.x : undefined };
    return conv2dBackwardData(ctx, this.shape, bound, this.#options(accumulate));
  }
  protected weightLaunches(ctx: BackwardContext, io: WeightedIo["weight"], accumulate: boolean) {
    return conv2dBackwardWeight(ctx, this.shape, io, this.#options(accumulate));
  }
}

export interface BatchNormConfig {
  affine: boolean;
  relu: boolean;
  /** Running statistics are kept and used in eval mode (false: batch statistics always). */
  track: boolean;
  eps: number;
  momentum: number;
}

export class BatchNormOp extends OpNode {
  constructor(
    name: string,
    readonly x: Tensor,
    readonly y: Tensor,
    readonly mean: Tensor,
    readonly invstd: Tensor,
    readonly gamma: Param | undefined,
    readonly beta: Param | undefined,
    readonly runningMean: State | undefined,
    readonly runningVar: State | undefined,
    readonly config: BatchNormConfig,
    /**
     * Summed into the output by the same launch (a skip connection): y (= or +=) bn(x) +
     * residual; plain (non-affine, untracked) batch norms only. Its gradient is dy.
     */
    readonly residual?: Tensor,
  ) {
    super(name);
  }
  get inputs(): readonly Tensor[] {
    const own = this.gamma && this.beta ? [this.x, this.gamma, this.beta] : [this.x];
    return this.residual ? [...own, this.residual] : own;
  }
  get outputs(): readonly Tensor[] {
    return [this.y, this.mean, this.invstd];
  }
  get #shape() {
    return { batch: this.x.n, channels: this.x.c, spatial: this.x.size / (this.x.n * this.x.c) };
  }
  forward(ctx: ForwardContext): Launch<Slot>[] {
    const useRunning = ctx.mode === "eval" && this.config.track;
    const track = ctx.mode === "train" && this.config.track;
    return batchNormForward(ctx, this.#shape, {
      x: ctx.value(this.x),
      y: ctx.value(this.y),
      mean: useRunning ? undefined : ctx.value(this.mean),
      invstd: useRunning ? undefined : ctx.value(this.invstd),
      gamma: this.gamma ? ctx.value(this.gamma) : undefined,
      beta: this.beta ? ctx.value(this.beta) : undefined,
      runningMean: (useRunning || track) && this.runningMean
        ? ctx.value(this.runningMean)
        : undefined,
      runningVar: (useRunning || track) && this.runningVar ? ctx.value(this.runningVar) : undefined,
      residual: this.residual ? ctx.value(this.residual) : undefined,
    }, {
      mode: useRunning ? "eval" : "train",
      affine: this.config.affine,
      relu: this.config.relu,
      eps: this.config.eps,
      momentum: this.config.momentum,
      accumulate: this.accumulate,
    });
  }
  override backward(ctx: BackwardContext): Launch<Slot>[] {
    const dx = ctx.gradTarget(0);
    const dgamma = this.gamma ? ctx.gradTarget(1) : undefined;
    const dbeta = this.beta ? ctx.gradTarget(2) : undefined;
    const dresidual = this.residual ? ctx.gradTarget(this.inputs.length - 1) : undefined;
    if (!dx && !dgamma && !dresidual) return [];
    // Frozen γ/β (GraphBuilder.freezeParams): the affine kernel still writes their gradients.
    const discard = () => ctx.scratch(this.#shape.channels, `${this.name}.frozen_affine_grad`);
    return batchNormBackward(ctx, this.#shape, {
      x: ctx.value(this.x),
      dy: ctx.grad(this.y),
      // The kernel forms the residual's gradient beside dx: an x the loss needs no gradient of
      // (its only path from the input is frozen, e.g. a conv of an all-zero node) gets scratch.
      dx: dx?.slot ?? (dresidual ? ctx.scratch(this.x.size, `${this.name}.unused_dx`) : undefined),
      mean: ctx.value(this.mean),
      invstd: ctx.value(this.invstd),
      gamma: this.gamma ? ctx.value(this.gamma) : undefined,
      beta: this.beta ? ctx.value(this.beta) : undefined,
      dgamma: dgamma?.slot ?? (this.gamma ? discard() : undefined),
      dbeta: dbeta?.slot ?? (this.beta ? discard() : undefined),
      dresidual: dresidual?.slot,
    }, {
      affine: this.config.affine,
      relu: this.config.relu,
      accumulate: dx?.accumulate ?? false,
      accumulateParams: dgamma?.accumulate ?? false,
      accumulateResidual: dresidual?.accumulate ?? false,
    });
  }
}

/**
 * One input, one output: y = f(x) for elementwise functions, pooling, subsampling, channel slices
 * and the noisy input. Subclasses supply the two kernel factories; the backward gets dy and the
 * slot for dx (saved values come from `ctx`).
 */
export abstract class MapOp extends OpNode {
  constructor(name: string, readonly x: Tensor, readonly y: Tensor) {
    super(name);
  }
  get inputs(): readonly Tensor[] {
    return [this.x];
  }
  get outputs(): readonly Tensor[] {
    return [this.y];
  }
  protected abstract forwardLaunches(
    ctx: ForwardContext,
    x: Slot,
    y: Slot,
    accumulate: boolean,
  ): Launch<Slot>[];
  protected abstract backwardLaunches(
    ctx: BackwardContext,
    dy: Slot,
    dx: Slot,
    accumulate: boolean,
  ): Launch<Slot>[];
  forward(ctx: ForwardContext): Launch<Slot>[] {
    return this.forwardLaunches(ctx, ctx.value(this.x), ctx.value(this.y), this.accumulate);
  }
  override backward(ctx: BackwardContext): Launch<Slot>[] {
    const dx = ctx.gradTarget(0);
    return dx ? this.backwardLaunches(ctx, ctx.grad(this.y), dx.slot, dx.accumulate) : [];
  }
}

/** relu, sigmoid, tanh, leaky_relu, scale, identity. */
export class UnaryOpNode extends MapOp {
  constructor(name: string, readonly op: UnaryOp, x: Tensor, y: Tensor, readonly alpha?: number) {
    super(name, x, y);
  }
  /** relu, sigmoid and tanh differentiate through their own output, so it must not be a sum. */
  override get canAccumulate(): boolean {
    return !this.#savesOutput;
  }
  get #savesOutput(): boolean {
    return this.op === "relu" || this.op === "sigmoid" || this.op === "tanh";
  }
  protected forwardLaunches(
    _ctx: ForwardContext,
    x: Slot,
    y: Slot,
    accumulate: boolean,
  ): Launch<Slot>[] {
    return [unary(this.op, this.x.size, x, y, { alpha: this.alpha, accumulate })];
  }
  protected backwardLaunches(
    ctx: BackwardContext,
    dy: Slot,
    dx: Slot,
    accumulate: boolean,
  ): Launch<Slot>[] {
    const saved = this.#savesOutput ? ctx.value(this.y) : ctx.value(this.x);
    return [unaryBackward(this.op, this.x.size, saved, dy, dx, { alpha: this.alpha, accumulate })];
  }
}

/** Elementwise product (recurrent cells). */
export class MulOp extends OpNode {
  constructor(name: string, readonly a: Tensor, readonly b: Tensor, readonly y: Tensor) {
    super(name);
  }
  get inputs(): readonly Tensor[] {
    return [this.a, this.b];
  }
  get outputs(): readonly Tensor[] {
    return [this.y];
  }
  forward(ctx: ForwardContext): Launch<Slot>[] {
    return [
      binary("mul", this.y.size, ctx.value(this.a), ctx.value(this.b), ctx.value(this.y), {
        accumulate: this.accumulate,
      }),
    ];
  }
  override backward(ctx: BackwardContext): Launch<Slot>[] {
    const dy = ctx.grad(this.y);
    const launches: Launch<Slot>[] = [];
    const da = ctx.gradTarget(0);
    if (da) {
      launches.push(
        binary("mul", this.y.size, dy, ctx.value(this.b), da.slot, { accumulate: da.accumulate }),
      );
    }
    const db = ctx.gradTarget(1);
    if (db) {
      launches.push(
        binary("mul", this.y.size, dy, ctx.value(this.a), db.slot, { accumulate: db.accumulate }),
      );
    }
    return launches;
  }
}

export class LinearOp extends WeightedOp {
  constructor(
    name: string,
    x: Tensor,
    weight: Param,
    bias: Param | undefined,
    y: Tensor,
    readonly shape: LinearShape,
  ) {
    super(name, x, weight, bias, y);
  }
  protected forwardLaunches(ctx: ForwardContext, io: WeightedIo["forward"], accumulate: boolean) {
    return linearForward(ctx, this.shape, io, { accumulate });
  }
  protected dataLaunches(ctx: BackwardContext, io: WeightedIo["data"], accumulate: boolean) {
    return linearBackwardData(ctx, this.shape, io, { accumulate });
  }
  protected weightLaunches(ctx: BackwardContext, io: WeightedIo["weight"], accumulate: boolean) {
    return linearBackwardWeight(ctx, this.shape, io, { accumulate });
  }
  protected override biasLaunches(
    _ctx: BackwardContext,
    io: { dy: Slot; dbias: Slot },
    accumulate: boolean,
  ): Launch<Slot>[] {
    return [linearBackwardBias(this.shape, io, { accumulate })];
  }
}

export interface NoiseConfig {
  kind: "uniform" | "gaussian";
  level: number;
  seed: number;
}

/** x = clean + fresh noise drawn from (seed, step): the network input of every iteration. */
export class NoisyInputOp extends MapOp {
  constructor(name: string, clean: Tensor, y: Tensor, readonly noise: NoiseConfig) {
    super(name, clean, y);
  }
  override get canAccumulate(): boolean {
    return false;
  }
  protected forwardLaunches(ctx: ForwardContext, clean: Slot, y: Slot): Launch<Slot>[] {
    // Eval draws from its own stream so it never repeats a training draw.
    const seed = ctx.mode === "eval" ? (this.noise.seed ^ 0x5bd1e995) >>> 0 : this.noise.seed;
    return addNoise(ctx, this.x.size, { clean, dst: y, step: ctx.counter }, {
      kind: this.noise.kind,
      level: this.noise.level,
      seed,
    });
  }
  /** The input is data: nothing upstream needs a gradient. */
  protected backwardLaunches(): Launch<Slot>[] {
    return [];
  }
}
