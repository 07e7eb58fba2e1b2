/**
 * Batch normalisation (PyTorch BatchNorm2d semantics) with fused ReLU, forward and train-mode
 * backward, one launch each, of one workgroup per channel: train forward reduces the statistics
 * (one pass) and then normalises the channel, backward reduces Σdy' and Σdy'·x̂ and then writes dx
 * (and dγ/dβ) for the channel; eval forward only normalises. The affine backward binds 9 storage
 * buffers; where `ctx.maxStorageBuffers` is below that it takes two launches (a per-channel
 * reduce, then an elementwise dx pass).
 */
import source from "../../shaders/batchnorm.wgsl" with { type: "text" };
import { grid, type Launch, type LaunchContext } from "../gpu/kernel.ts";

export interface BatchNormShape {
  batch: number;
  channels: number;
  /** H·W. */
  spatial: number;
}

export interface BatchNormOptions {
  /** train: batch statistics; eval: running statistics. */
  mode: "train" | "eval";
  /** γ (gamma) and β (beta) present. */
  affine: boolean;
  /** Fused ReLU after the (affine) normalisation. */
  relu: boolean;
  /** Default 1e-5. */
  eps?: number;
  /** Default 0.1: running = (1−m)·running + m·batch, with the unbiased batch variance. */
  momentum?: number;
  /** y += result. */
  accumulate?: boolean;
}

export interface BatchNormForwardIO<B> {
  x: B;
  y: B;
  /** [C] batch mean, written in train mode (saved for backward). */
  mean?: B;
  /** [C] 1/sqrt(biased batch variance + eps), written in train mode. */
  invstd?: B;
  gamma?: B;
  beta?: B;
  runningMean?: B;
  runningVar?: B;
}

export interface BatchNormBackwardIO<B> {
  x: B;
  dy: B;
  dx: B;
  mean: B;
  invstd: B;
  gamma?: B;
  beta?: B;
  dgamma?: B;
  dbeta?: B;
}

export interface BatchNormBackwardOptions {
  affine: boolean;
  relu: boolean;
  /** dx += result. */
  accumulate?: boolean;
  /** dγ, dβ += result. */
  accumulateParams?: boolean;
}

/** Floats of per-channel coefficients passed from the split backward reduce to its dx launch. */
const COEFFS_PER_CHANNEL = 8;

/** Storage buffers of the one-launch affine backward: x, dy, dx, mean, invstd, γ, β, dγ, dβ. */
const FUSED_AFFINE_BACKWARD_BUFFERS = 9;

/**
 * Launch geometry. lavapipe runs a workgroup on one core in 8-lane steps: a per-channel group of
 * one 8-lane step (no barrier switching; measured fastest against 16, 32 and 64 at GenNAS shapes)
 * and a few dozen looping elementwise groups (split backward only) are fastest there. Real GPUs
 * get a wide group per channel and one invocation per element (or vec4).
 */
const GEOMETRY = {
  cpu: { channelWG: 8, elementWG: 64, maxElementGroups: 32 },
  gpu: { channelWG: 256, elementWG: 256, maxElementGroups: Infinity },
} as const;

function elementwiseGroups(ctx: LaunchContext<unknown>, items: number): [number, number, number] {
  const g = GEOMETRY[ctx.deviceClass];
  return grid(Math.min(Math.ceil(items / g.elementWG), g.maxElementGroups));
}

/** vec4 kernels need every channel plane to start and end on a vec4. */
function vectorised(s: BatchNormShape): boolean {
  return s.spatial % 4 === 0;
}

function entryPoint(base: string, s: BatchNormShape): string {
  return vectorised(s) ? `${base}_vec4` : base;
}

/** Invocations an elementwise kernel needs: one per element, or per vec4. */
function elementItems(s: BatchNormShape): number {
  return (s.batch * s.channels * s.spatial) / (vectorised(s) ? 4 : 1);
}

function checkShape(s: BatchNormShape): void {
  for (const [name, value] of Object.entries(s)) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`batch norm: ${name} must be a positive integer, got ${value}`);
    }
  }
}

function required<B>(value: B | undefined, what: string): B {
  if (value === undefined) throw new TypeError(`batch norm: ${what} is required`);
  return value;
}

function shapeConstants(s: BatchNormShape): Record<string, number> {
  return { N: s.batch, C: s.channels, S: s.spatial };
}

/** One launch of `base`: a workgroup per channel, or (`elements`) an invocation per element. */
function bnLaunch<B>(
  ctx: LaunchContext<B>,
  s: BatchNormShape,
  base: string,
  constants: Record<string, number>,
  bindings: B[],
  over: "channels" | "elements" = "channels",
): Launch<B> {
  const name = entryPoint(base, s);
  const geometry = GEOMETRY[ctx.deviceClass];
  const perChannel = over === "channels";
  return {
    kernel: {
      name,
      source,
      entryPoint: name,
      constants: {
        WG: perChannel ? geometry.channelWG : geometry.elementWG,
        ...shapeConstants(s),
        ...constants,
      },
    },
    bindings,
    workgroups: perChannel ? grid(s.channels) : elementwiseGroups(ctx, elementItems(s)),
  };
}

/**
 * train: mean/invstd ← batch statistics (runningMean/runningVar updated when given), then
 * y (= or +=) act(γ·(x−mean)·invstd + β), in one launch. eval: y (= or +=)
 * act(γ·(x−rm)/sqrt(rv+eps) + β).
 */
export function batchNormForward<B>(
  ctx: LaunchContext<B>,
  s: BatchNormShape,
  io: BatchNormForwardIO<B>,
  o: BatchNormOptions,
): Launch<B>[] {
  checkShape(s);
  const eps = o.eps ?? 1e-5;
  const variant = o.affine ? "affine" : "plain";
  const params = o.affine
    ? [required(io.gamma, "gamma (affine)"), required(io.beta, "beta (affine)")]
    : [];
  const flags = { EPS: eps, RELU: o.relu ? 1 : 0, ACCUMULATE: o.accumulate ? 1 : 0 };
  if (o.mode === "eval") {
    const running = [
      required(io.runningMean, "runningMean (eval mode)"),
      required(io.runningVar, "runningVar (eval mode)"),
    ];
    return [bnLaunch(ctx, s, `bn_eval_${variant}`, flags, [
      io.x,
      io.y,
      ...running,
      ...params,
    ])];
  }
  const mean = required(io.mean, "mean (train mode)");
  const invstd = required(io.invstd, "invstd (train mode)");
  const tracked = io.runningMean !== undefined || io.runningVar !== undefined;
  const running = tracked
    ? [
      required(io.runningMean, "runningMean (with runningVar)"),
      required(io.runningVar, "runningVar (with runningMean)"),
    ]
    : [];
  const base = `bn_train_${variant}${tracked ? "_tracked" : ""}`;
  const constants = { ...flags, ...(tracked ? { MOMENTUM: o.momentum ?? 0.1 } : {}) };
  return [
    bnLaunch(ctx, s, base, constants, [io.x, io.y, mean, invstd, ...params, ...running]),
  ];
}

/**
 * Train-mode backward from the saved batch statistics. With relu the mask (γ·x̂ + β > 0) is
 * recomputed from x. dγ/dβ (affine) are written or added (accumulateParams); dx = or +=.
 */
export function batchNormBackward<B>(
  ctx: LaunchContext<B>,
  s: BatchNormShape,
  io: BatchNormBackwardIO<B>,
  o: BatchNormBackwardOptions,
): Launch<B>[] {
  checkShape(s);
  const params = o.affine
    ? [required(io.gamma, "gamma (affine)"), required(io.beta, "beta (affine)")]
    : [];
  const grads = o.affine
    ? [required(io.dgamma, "dgamma (affine)"), required(io.dbeta, "dbeta (affine)")]
    : [];
  const flags = {
    RELU: o.relu ? 1 : 0,
    ACCUMULATE: o.accumulate ? 1 : 0,
    ...(o.affine ? { ACCUMULATE_PARAMS: o.accumulateParams ? 1 : 0 } : {}),
  };
  if (!o.affine) {
    return [
      bnLaunch(ctx, s, "bn_backward_plain", flags, [
        io.x,
        io.dy,
        io.dx,
        io.mean,
        io.invstd,
      ]),
    ];
  }
  if ((ctx.maxStorageBuffers ?? Infinity) >= FUSED_AFFINE_BACKWARD_BUFFERS) {
    return [
      bnLaunch(ctx, s, "bn_backward_affine", flags, [
        io.x,
        io.dy,
        io.dx,
        io.mean,
        io.invstd,
        ...params,
        ...grads,
      ]),
    ];
  }
  const coeffs = ctx.scratch(s.channels * COEFFS_PER_CHANNEL, "bn_backward_coeffs");
  return [
    bnLaunch(ctx, s, "bn_backward_reduce_affine", { RELU: flags.RELU }, [
      io.x,
      io.dy,
      io.mean,
      io.invstd,
      coeffs,
      ...params,
    ]),
    bnLaunch(ctx, s, "bn_backward_dx_affine", flags, [
      io.x,
      io.dy,
      io.dx,
      coeffs,
      ...grads,
    ], "elements"),
  ];
}
