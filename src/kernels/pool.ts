/**
 * Pooling over NCHW f32 tensors with PyTorch semantics (floor mode, square windows): max pooling
 * with argmax, average pooling with or without padded positions in the divisor, and global
 * average pooling. Backward passes gather (no atomics), so results are deterministic.
 */
import template from "../../shaders/pool.wgsl" with { type: "text" };
import { declareBindings, type DeclaredBindings } from "../gpu/bindings.ts";
import { grid, grid1d, type Launch, type LaunchContext } from "../gpu/kernel.ts";
import { preprocess, widthDefines } from "../gpu/wgsl.ts";
import { checkPositiveIntegers, planeConstants } from "./common.ts";

export interface Pool2dShape {
  batch: number;
  channels: number;
  inH: number;
  inW: number;
  kernel: number;
  stride: number;
  pad: number;
}

export interface GlobalPoolShape {
  batch: number;
  channels: number;
  /** H·W. */
  spatial: number;
}

export interface PoolAccumulateOptions {
  /** Add into the destination instead of overwriting it. */
  accumulate?: boolean;
}

export interface AvgPoolOptions extends PoolAccumulateOptions {
  /** Divide by K² (true) or by the number of in-bounds window positions (false). */
  countIncludePad: boolean;
}

const WG = 256;

const MAP = declareBindings({ src: "read", dst: "read_write" });
const MAX_FORWARD = declareBindings({ x: "read", y: "read_write", argmax: "read_write" });
const MAX_BACKWARD = declareBindings({ dy: "read", dx: "read_write", argmax: "read" });
const MAX_FROZEN_FORWARD = declareBindings({
  x: "read",
  y: "read_write",
  argmax: "read_write",
  step: "read",
});

/** Output size in floor mode; throws on windows PyTorch rejects. */
export function poolOutputSize(s: Pool2dShape): { outH: number; outW: number } {
  const { pad, ...positive } = s;
  checkPositiveIntegers("pool2d", positive);
  if (!Number.isInteger(pad) || pad < 0 || 2 * pad > s.kernel) {
    throw new RangeError(`pool2d: pad must be an integer in [0, kernel/2], got ${pad}`);
  }
  const outH = Math.floor((s.inH + 2 * pad - s.kernel) / s.stride) + 1;
  const outW = Math.floor((s.inW + 2 * pad - s.kernel) / s.stride) + 1;
  if (outH < 1 || outW < 1) {
    throw new RangeError(
      `pool2d: a ${s.kernel}×${s.kernel} window (pad ${pad}) does not fit a ${s.inH}×${s.inW} input`,
    );
  }
  return { outH, outW };
}

function poolConstants(s: Pool2dShape, accumulate: boolean | undefined): Record<string, number> {
  const { outH, outW } = poolOutputSize(s);
  return {
    WG,
    ...planeConstants(s.batch, s.channels, [s.inH, s.inW], [outH, outW]),
    K: s.kernel,
    STRIDE: s.stride,
    PAD: s.pad,
    ACCUMULATE: accumulate ? 1 : 0,
  };
}

function avgConstants(s: Pool2dShape, o: AvgPoolOptions): Record<string, number> {
  return { ...poolConstants(s, o.accumulate), INCLUDE_PAD: o.countIncludePad ? 1 : 0 };
}

function outputElements(s: Pool2dShape): number {
  const { outH, outW } = poolOutputSize(s);
  return s.batch * s.channels * outH * outW;
}

function inputElements(s: Pool2dShape): number {
  return s.batch * s.channels * s.inH * s.inW;
}

/** The vec4 kernels (pool3_*, pool2_*) come from the vec4 source, the others from the f32 one. */
function poolLaunch<B>(
  entryPoint: string,
  constants: Record<string, number>,
  layout: DeclaredBindings,
  bindings: (B | undefined)[],
  threads: number,
  width: 1 | 4 = 1,
): Launch<B> {
  return {
    kernel: {
      name: entryPoint,
      source: preprocess(template, widthDefines(width)),
      entryPoint,
      constants,
      layout,
    },
    bindings,
    workgroups: grid1d(threads, WG),
  };
}

/** The 3×3 stride-1 pad-1 window on a width divisible by 4 has vec4 kernels (`pool3_*`). */
function isPool3Window(s: Pool2dShape): boolean {
  return s.kernel === 3 && s.stride === 1 && s.pad === 1 && s.inW % 4 === 0;
}

/**
 * The 2×2 stride-2 window without padding has vec4 kernels (`pool2_*`, four output columns per
 * invocation in both directions) where the windows tile the input exactly in quads of outputs:
 * even height, width divisible by 8.
 */
function isPool2Window(s: Pool2dShape): boolean {
  return s.kernel === 2 && s.stride === 2 && s.pad === 0 && s.inH % 2 === 0 && s.inW % 8 === 0;
}

/** Output rows per pool3 invocation: the largest of 8, 4, 2, 1 that divides the height. */
export function stripRows(height: number): number {
  return [8, 4, 2].find((r) => height % r === 0) ?? 1;
}

/**
 * The launch of a window kernel: `pool3_<op>` over 4-column groups of the input, or `pool2_<op>`
 * over 4-column groups of the output, where one applies; otherwise `<general>` over `threads`
 * invocations.
 */
function windowLaunch<B>(
  s: Pool2dShape,
  op: "max_forward" | "max_backward" | "avg_forward" | "avg_backward",
  general: { entryPoint: string; threads: number },
  constants: Record<string, number>,
  layout: DeclaredBindings,
  bindings: (B | undefined)[],
): Launch<B> {
  if (isPool3Window(s)) {
    const rows = stripRows(s.inH);
    const strips = s.batch * s.channels * (s.inH / rows) * (s.inW / 4);
    return poolLaunch(`pool3_${op}`, { ...constants, ROWS: rows }, layout, bindings, strips, 4);
  }
  if (isPool2Window(s)) {
    const quads = s.batch * s.channels * (s.inH / 2) * (s.inW / 8);
    return poolLaunch(`pool2_${op}`, constants, layout, bindings, quads, 4);
  }
  return poolLaunch(general.entryPoint, constants, layout, bindings, general.threads);
}

/**
 * y (= or +=) window maximum; argmax (u32, always written) = iy·inW + ix of the first maximum in
 * row-major window order. Padding acts as −∞.
 */
export function maxPool2dForward<B>(
  _ctx: LaunchContext<B>,
  s: Pool2dShape,
  io: { x: B; y: B; argmax: B },
  o: PoolAccumulateOptions = {},
): Launch<B>[] {
  const general = { entryPoint: "maxpool_forward", threads: outputElements(s) };
  const constants = poolConstants(s, o.accumulate);
  return [windowLaunch(s, "max_forward", general, constants, MAX_FORWARD, MAX_FORWARD.bind(io))];
}

/**
 * maxPool2dForward while the u32 step counter `step` is 0; after it the argmax of that pass is
 * kept and y (= or +=) x[argmax] (switches frozen: grasp's Hessian, src/proxy/zc_grasp.ts).
 */
export function maxPool2dFrozenForward<B>(
  _ctx: LaunchContext<B>,
  s: Pool2dShape,
  io: { x: B; y: B; argmax: B; step: B },
  o: PoolAccumulateOptions = {},
): Launch<B>[] {
  const constants = poolConstants(s, o.accumulate);
  const bindings = MAX_FROZEN_FORWARD.bind(io);
  const threads = outputElements(s);
  return [poolLaunch("maxpool_frozen_forward", constants, MAX_FROZEN_FORWARD, bindings, threads)];
}

/** dx[p] (= or +=) Σ dy over the windows whose argmax is p. */
export function maxPool2dBackward<B>(
  _ctx: LaunchContext<B>,
  s: Pool2dShape,
  io: { dy: B; argmax: B; dx: B },
  o: PoolAccumulateOptions = {},
): Launch<B>[] {
  const general = { entryPoint: "maxpool_backward", threads: inputElements(s) };
  const constants = poolConstants(s, o.accumulate);
  const bindings = MAX_BACKWARD.bind(io);
  return [windowLaunch(s, "max_backward", general, constants, MAX_BACKWARD, bindings)];
}

export function avgPool2dForward<B>(
  _ctx: LaunchContext<B>,
  s: Pool2dShape,
  io: { x: B; y: B },
  o: AvgPoolOptions,
): Launch<B>[] {
  const general = { entryPoint: "avgpool_forward", threads: outputElements(s) };
  const bindings = MAP.bind({ src: io.x, dst: io.y });
  return [windowLaunch(s, "avg_forward", general, avgConstants(s, o), MAP, bindings)];
}

export function avgPool2dBackward<B>(
  _ctx: LaunchContext<B>,
  s: Pool2dShape,
  io: { dy: B; dx: B },
  o: AvgPoolOptions,
): Launch<B>[] {
  const general = { entryPoint: "avgpool_backward", threads: inputElements(s) };
  const bindings = MAP.bind({ src: io.dy, dst: io.dx });
  return [windowLaunch(s, "avg_backward", general, avgConstants(s, o), MAP, bindings)];
}

/** Threads per (n, c) row of the global pool: lavapipe runs 8 lanes per step, GPUs want more. */
function globalPoolWorkgroup(ctx: LaunchContext<unknown>): number {
  return ctx.deviceClass === "cpu" ? 16 : 64;
}

/** y[n][c] (= or +=) mean of x[n][c][:]. */
export function globalAvgPoolForward<B>(
  ctx: LaunchContext<B>,
  s: GlobalPoolShape,
  io: { x: B; y: B },
  o: PoolAccumulateOptions = {},
): Launch<B>[] {
  checkPositiveIntegers("global average pool", { ...s });
  const wg = globalPoolWorkgroup(ctx);
  return [{
    kernel: {
      name: "global_avg_forward",
      source: preprocess(template, widthDefines(1)),
      entryPoint: "global_avg_forward",
      constants: {
        WG: wg,
        N: s.batch,
        C: s.channels,
        S: s.spatial,
        ACCUMULATE: o.accumulate ? 1 : 0,
      },
      layout: MAP,
    },
    bindings: MAP.bind({ src: io.x, dst: io.y }),
    workgroups: grid(s.batch * s.channels),
  }];
}

/** dx[n][c][:] (= or +=) dy[n][c] / spatial. */
export function globalAvgPoolBackward<B>(
  _ctx: LaunchContext<B>,
  s: GlobalPoolShape,
  io: { dy: B; dx: B },
  o: PoolAccumulateOptions = {},
): Launch<B>[] {
  checkPositiveIntegers("global average pool", { ...s });
  const constants = {
    WG,
    N: s.batch,
    C: s.channels,
    S: s.spatial,
    ACCUMULATE: o.accumulate ? 1 : 0,
  };
  const bindings = MAP.bind({ src: io.dy, dst: io.dx });
  return [
    poolLaunch("global_avg_backward", constants, MAP, bindings, s.batch * s.channels * s.spatial),
  ];
}
