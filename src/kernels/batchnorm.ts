/**
 * Batch normalisation (PyTorch BatchNorm2d semantics) with fused ReLU, forward and train-mode
 * backward. Forward is a statistics launch (train only) plus a normalise launch; backward is a
 * per-channel reduce launch plus an elementwise dx launch that also writes dγ/dβ.
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

/** Floats of per-channel coefficients passed from the backward reduce to the dx launch. */
const COEFFS_PER_CHANNEL = 8;

/**
 * Launch geometry. lavapipe runs a workgroup on one core in 8-lane steps: small reduction groups
 * (fewer barrier rounds) and a few dozen looping elementwise groups are fastest there. Real GPUs
 * get a wide group per channel and one invocation per element (or vec4).
 */
const GEOMETRY = {
  cpu: { reduceWG: 16, elementWG: 64, maxElementGroups: 32 },
  gpu: { reduceWG: 256, elementWG: 256, maxElementGroups: Infinity },
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

function elementwiseLaunch<B>(
  ctx: LaunchContext<B>,
  s: BatchNormShape,
  base: string,
  constants: Record<string, number>,
  bindings: B[],
): Launch<B> {
  const name = entryPoint(base, s);
  return {
    kernel: {
      name,
      source,
      entryPoint: name,
      constants: { WG: GEOMETRY[ctx.deviceClass].elementWG, ...shapeConstants(s), ...constants },
    },
    bindings,
    workgroups: elementwiseGroups(ctx, elementItems(s)),
  };
}

function perChannelLaunch<B>(
  ctx: LaunchContext<B>,
  s: BatchNormShape,
  base: string,
  constants: Record<string, number>,
  bindings: B[],
): Launch<B> {
  const name = entryPoint(base, s);
  return {
    kernel: {
      name,
      source,
      entryPoint: name,
      constants: { WG: GEOMETRY[ctx.deviceClass].reduceWG, ...shapeConstants(s), ...constants },
    },
    bindings,
    workgroups: grid(s.channels),
  };
}

/**
 * train: mean/invstd ← batch statistics (runningMean/runningVar updated when given), then
 * y (= or +=) act(γ·(x−mean)·invstd + β). eval: y (= or +=) act(γ·(x−rm)/sqrt(rv+eps) + β).
 */
export function batchNormForward<B>(
  ctx: LaunchContext<B>,
  s: BatchNormShape,
  io: BatchNormForwardIO<B>,
  o: BatchNormOptions,
): Launch<B>[] {
  checkShape(s);
  const eps = o.eps ?? 1e-5;
  const launches: Launch<B>[] = [];
  let centre: B;
  let spread: B;
  if (o.mode === "train") {
    centre = required(io.mean, "mean (train mode)");
    spread = required(io.invstd, "invstd (train mode)");
    launches.push(statisticsLaunch(ctx, s, io, centre, spread, eps, o.momentum ?? 0.1));
  } else {
    centre = required(io.runningMean, "runningMean (eval mode)");
    spread = required(io.runningVar, "runningVar (eval mode)");
  }
  const params = o.affine
    ? [required(io.gamma, "gamma (affine)"), required(io.beta, "beta (affine)")]
    : [];
  launches.push(elementwiseLaunch(ctx, s, `bn_apply_${o.affine ? "affine" : "plain"}`, {
    EPS: eps,
    RELU: o.relu ? 1 : 0,
    EVAL: o.mode === "eval" ? 1 : 0,
    ACCUMULATE: o.accumulate ? 1 : 0,
  }, [io.x, io.y, centre, spread, ...params]));
  return launches;
}

function statisticsLaunch<B>(
  ctx: LaunchContext<B>,
  s: BatchNormShape,
  io: BatchNormForwardIO<B>,
  mean: B,
  invstd: B,
  eps: number,
  momentum: number,
): Launch<B> {
  const tracked = io.runningMean !== undefined || io.runningVar !== undefined;
  const running = tracked
    ? [
      required(io.runningMean, "runningMean (with runningVar)"),
      required(io.runningVar, "runningVar (with runningMean)"),
    ]
    : [];
  const base = tracked ? "bn_stats_tracked" : "bn_stats";
  const constants = { EPS: eps, MOMENTUM: momentum };
  return perChannelLaunch(ctx, s, base, constants, [io.x, mean, invstd, ...running]);
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
  const variant = o.affine ? "affine" : "plain";
  const params = o.affine
    ? [required(io.gamma, "gamma (affine)"), required(io.beta, "beta (affine)")]
    : [];
  const grads = o.affine
    ? [required(io.dgamma, "dgamma (affine)"), required(io.dbeta, "dbeta (affine)")]
    : [];
  const coeffs = ctx.scratch(s.channels * COEFFS_PER_CHANNEL, "bn_backward_coeffs");
  const flags = { RELU: o.relu ? 1 : 0 };
  return [
    perChannelLaunch(ctx, s, `bn_backward_reduce_${variant}`, flags, [
      io.x,
      io.dy,
      io.mean,
      io.invstd,
      coeffs,
      ...params,
    ]),
    elementwiseLaunch(ctx, s, `bn_backward_dx_${variant}`, {
      ...flags,
      ACCUMULATE: o.accumulate ? 1 : 0,
      ...(o.affine ? { ACCUMULATE_PARAMS: o.accumulateParams ? 1 : 0 } : {}),
    }, [io.x, io.dy, io.dx, coeffs, ...grads]),
  ];
}
