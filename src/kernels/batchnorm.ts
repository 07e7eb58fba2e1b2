/**
 * Batch normalisation (PyTorch BatchNorm2d semantics) with fused ReLU, forward and train-mode
 * backward, one launch each, of one workgroup per channel: train forward reduces the statistics
 * (one pass) and then normalises the channel, backward reduces Σdy' and Σdy'·x̂ and then writes dx
 * (and dγ/dβ) for the channel; eval forward only normalises. The affine backward binds 9 storage
 * buffers; where `ctx.maxStorageBuffers` is below that it takes two launches (a per-channel
 * reduce, then an elementwise dx pass).
 */
import template from "../../shaders/batchnorm.wgsl" with { type: "text" };
import { declareBindings, type DeclaredBindings } from "../gpu/bindings.ts";
import { grid, type Launch, type LaunchContext } from "../gpu/kernel.ts";
import { preprocess, widthDefines } from "../gpu/wgsl.ts";
import { checkPositiveIntegers } from "./common.ts";

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
  /**
   * Train forward of a plain (non-affine, untracked) batch norm: y (= or +=) act(x̂) + residual,
   * a skip connection summed in by the same launch.
   */
  residual?: B;
}

export interface BatchNormBackwardIO<B> {
  x: B;
  dy: B;
  /** Absent when x needs no gradient (dγ/dβ are still computed). */
  dx?: B;
  mean: B;
  invstd: B;
  gamma?: B;
  beta?: B;
  dgamma?: B;
  dbeta?: B;
  /** Plain backward: the gradient of the forward's residual (dy itself), = or +=. */
  dresidual?: B;
}

export interface BatchNormBackwardOptions {
  affine: boolean;
  relu: boolean;
  /** dx += result. */
  accumulate?: boolean;
  /** dγ, dβ += result. */
  accumulateParams?: boolean;
  /** dresidual += dy. */
  accumulateResidual?: boolean;
}

/** Floats of per-channel coefficients passed from the split backward reduce to its dx launch. */
const COEFFS_PER_CHANNEL = 8;

/** γ, β (gamma, beta) and, in the backward, dγ, dβ are bound in the affine variants only. */
const FORWARD = declareBindings({
  x: "read",
  y: "read_write",
  mean: "read_write?",
  invstd: "read_write?",
  gamma: "read?",
  beta: "read?",
  runningMean: "read_write?",
  runningVar: "read_write?",
});
const BACKWARD_PLAIN = declareBindings({
  x: "read",
  dy: "read",
  dx: "read_write",
  mean: "read",
  invstd: "read",
});
/** The plain train forward with a residual where γ sits (5 and the running stats stay empty). */
const FORWARD_RESIDUAL = declareBindings({
  x: "read",
  y: "read_write",
  mean: "read_write",
  invstd: "read_write",
  residual: "read",
  unused: "read?",
  runningMean: "read_write?",
  runningVar: "read_write?",
});
const BACKWARD_RESIDUAL = declareBindings({
  x: "read",
  dy: "read",
  dx: "read_write",
  mean: "read",
  invstd: "read",
  dresidual: "read_write",
});
const BACKWARD_AFFINE = declareBindings({
  x: "read",
  dy: "read",
  dx: "read_write?",
  mean: "read",
  invstd: "read",
  gamma: "read",
  beta: "read",
  dgamma: "read_write",
  dbeta: "read_write",
});
/** The affine backward in two launches, on devices with fewer than 9 storage buffers. */
const SPLIT_REDUCE = declareBindings({
  x: "read",
  dy: "read",
  mean: "read",
  invstd: "read",
  coeffs: "read_write",
  gamma: "read",
  beta: "read",
});
const SPLIT_DX = declareBindings({
  x: "read",
  dy: "read",
  dx: "read_write?",
  coeffs: "read",
  dgamma: "read_write",
  dbeta: "read_write",
});

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

/** Invocations an elementwise kernel needs: one per element, or per vec4. */
function elementItems(s: BatchNormShape): number {
  return (s.batch * s.channels * s.spatial) / (vectorised(s) ? 4 : 1);
}

function checkShape(s: BatchNormShape): void {
  checkPositiveIntegers("batch norm", { ...s });
}

function required<B>(value: B | undefined, what: string): B {
  if (value === undefined) throw new TypeError(`batch norm: ${what} is required`);
  return value;
}

function shapeConstants(s: BatchNormShape): Record<string, number> {
  return { N: s.batch, C: s.channels, S: s.spatial };
}

/** A kernel of the generated source: its entry point and the name of the variant it runs. */
interface Variant {
  readonly name: string;
  readonly entryPoint: string;
  readonly affine: boolean;
  readonly residual?: boolean;
}

const SPLIT_KERNELS = {
  reduce: { name: "bn_backward_reduce_affine", entryPoint: "bn_backward_reduce", affine: true },
  dx: { name: "bn_backward_dx_affine", entryPoint: "bn_backward_dx", affine: true },
} as const;

/** One launch: a workgroup per channel, or (`elements`) an invocation per element. */
function bnLaunch<B>(
  ctx: LaunchContext<B>,
  s: BatchNormShape,
  v: Variant,
  constants: Record<string, number>,
  layout: DeclaredBindings,
  bindings: (B | undefined)[],
  over: "channels" | "elements" = "channels",
): Launch<B> {
  const vec4 = vectorised(s);
  const geometry = GEOMETRY[ctx.deviceClass];
  const perChannel = over === "channels";
  return {
    kernel: {
      name: vec4 ? `${v.name}_vec4` : v.name,
      source: preprocess(template, {
        ...widthDefines(vec4 ? 4 : 1),
        AFFINE: v.affine,
        RESIDUAL: v.residual ?? false,
      }),
      entryPoint: v.entryPoint,
      constants: {
        WG: perChannel ? geometry.channelWG : geometry.elementWG,
        ...shapeConstants(s),
        ...constants,
      },
      layout,
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
  const affine = o.affine;
  const variant = affine ? "affine" : "plain";
  const params = affine
    ? { gamma: required(io.gamma, "gamma (affine)"), beta: required(io.beta, "beta (affine)") }
    : {};
  const flags = { EPS: o.eps ?? 1e-5, RELU: o.relu ? 1 : 0, ACCUMULATE: o.accumulate ? 1 : 0 };
  if (io.residual !== undefined) {
    if (affine || o.mode !== "train" || io.runningMean || io.runningVar) {
      throw new TypeError("batch norm: a residual needs a plain, untracked train-mode forward");
    }
    const bindings = FORWARD_RESIDUAL.bind({
      x: io.x,
      y: io.y,
      mean: required(io.mean, "mean (train mode)"),
      invstd: required(io.invstd, "invstd (train mode)"),
      residual: io.residual,
    });
    const kernel = {
      name: "bn_train_plain_residual",
      entryPoint: "bn_train",
      affine,
      residual: true,
    };
    return [bnLaunch(ctx, s, kernel, flags, FORWARD_RESIDUAL, bindings)];
  }
  if (o.mode === "eval") {
    const bindings = FORWARD.bind({
      x: io.x,
      y: io.y,
      ...params,
      runningMean: required(io.runningMean, "runningMean (eval mode)"),
      runningVar: required(io.runningVar, "runningVar (eval mode)"),
    });
    const kernel = { name: `bn_eval_${variant}`, entryPoint: "bn_eval", affine };
    return [bnLaunch(ctx, s, kernel, flags, FORWARD, bindings)];
  }
  const tracked = io.runningMean !== undefined || io.runningVar !== undefined;
  const running = tracked
    ? {
      runningMean: required(io.runningMean, "runningMean (with runningVar)"),
      runningVar: required(io.runningVar, "runningVar (with runningMean)"),
    }
    : {};
  const bindings = FORWARD.bind({
    x: io.x,
    y: io.y,
    mean: required(io.mean, "mean (train mode)"),
    invstd: required(io.invstd, "invstd (train mode)"),
    ...params,
    ...running,
  });
  const name = `bn_train_${variant}${tracked ? "_tracked" : ""}`;
  const constants = { ...flags, ...(tracked ? { TRACKED: 1, MOMENTUM: o.momentum ?? 0.1 } : {}) };
  return [bnLaunch(ctx, s, { name, entryPoint: "bn_train", affine }, constants, FORWARD, bindings)];
}

/**
 * Train-mode backward from the saved batch statistics. With relu the mask (γ·x̂ + β > 0) is
 * recomputed from x. dγ/dβ (affine) are written or added (accumulateParams); dx = or +=, where
 * given (the plain backward needs it).
 */
export function batchNormBackward<B>(
  ctx: LaunchContext<B>,
  s: BatchNormShape,
  io: BatchNormBackwardIO<B>,
  o: BatchNormBackwardOptions,
): Launch<B>[] {
  checkShape(s);
  const flags = {
    RELU: o.relu ? 1 : 0,
    INPUT_GRAD: io.dx === undefined ? 0 : 1,
    ACCUMULATE: o.accumulate ? 1 : 0,
  };
  const { x, dy, dx, mean, invstd } = io;
  if (io.dresidual !== undefined) {
    if (o.affine) throw new TypeError("batch norm: a residual gradient needs a plain batch norm");
    const bindings = BACKWARD_RESIDUAL.bind({
      x,
      dy,
      dx: required(dx, "dx (plain)"),
      mean,
      invstd,
      dresidual: io.dresidual,
    });
    const kernel = {
      name: "bn_backward_plain_residual",
      entryPoint: "bn_backward",
      affine: false,
      residual: true,
    };
    const constants = { ...flags, ACCUMULATE_RESIDUAL: o.accumulateResidual ? 1 : 0 };
    return [bnLaunch(ctx, s, kernel, constants, BACKWARD_RESIDUAL, bindings)];
  }
  if (!o.affine) {
    const bindings = BACKWARD_PLAIN.bind({ x, dy, dx: required(dx, "dx (plain)"), mean, invstd });
    const kernel = { name: "bn_backward_plain", entryPoint: "bn_backward", affine: false };
    return [bnLaunch(ctx, s, kernel, flags, BACKWARD_PLAIN, bindings)];
  }
  const gamma = required(io.gamma, "gamma (affine)");
  const beta = required(io.beta, "beta (affine)");
  const dgamma = required(io.dgamma, "dgamma (affine)");
  const dbeta = required(io.dbeta, "dbeta (affine)");
  const affineFlags = { ...flags, ACCUMULATE_PARAMS: o.accumulateParams ? 1 : 0 };
  if ((ctx.maxStorageBuffers ?? Infinity) >= BACKWARD_AFFINE.entries.length) {
    const bindings = BACKWARD_AFFINE.bind({ x, dy, dx, mean, invstd, gamma, beta, dgamma, dbeta });
    const kernel = { name: "bn_backward_affine", entryPoint: "bn_backward", affine: true };
    return [bnLaunch(ctx, s, kernel, affineFlags, BACKWARD_AFFINE, bindings)];
  }
  const coeffs = ctx.scratch(s.channels * COEFFS_PER_CHANNEL, "bn_backward_coeffs");
  const reduce = SPLIT_REDUCE.bind({ x, dy, mean, invstd, coeffs, gamma, beta });
  const elementwise = SPLIT_DX.bind({ x, dy, dx, coeffs, dgamma, dbeta });
  return [
    bnLaunch(ctx, s, SPLIT_KERNELS.reduce, { RELU: flags.RELU }, SPLIT_REDUCE, reduce),
    bnLaunch(ctx, s, SPLIT_KERNELS.dx, affineFlags, SPLIT_DX, elementwise, "elements"),
  ];
}
