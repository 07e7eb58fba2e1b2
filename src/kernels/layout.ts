/**
 * Data movement over NCHW f32 tensors: nearest-neighbour resampling (the GenNAS taps' 8×8
 * subsampling) and channel-range copies (concat, slice backward, NB-101 truncation).
 */
import source from "../../shaders/layout.wgsl" with { type: "text" };
import { grid1d, type Launch, type LaunchContext } from "../gpu/kernel.ts";

export interface SubsampleShape {
  batch: number;
  channels: number;
  inH: number;
  inW: number;
  outH: number;
  outW: number;
}

export interface ChannelCopyShape {
  batch: number;
  /** H·W, the same in src and dst. */
  spatial: number;
  srcChannels: number;
  srcOffset: number;
  dstChannels: number;
  dstOffset: number;
  /** Channels copied. */
  count: number;
}

interface AccumulateOption {
  /** Add into the destination instead of overwriting it. */
  accumulate?: boolean;
}

const WG = 256;

function checkPositiveIntegers(what: string, values: Record<string, number>): void {
  for (const [name, value] of Object.entries(values)) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`${what}: ${name} must be a positive integer, got ${value}`);
    }
  }
}

/**
 * in/out rounded to f32, as PyTorch's nearest kernels compute the scale (float division), so the
 * shader's f32 product floor(dst · scale) selects exactly PyTorch's source index.
 */
export function nearestScale(inSize: number, outSize: number): number {
  return Math.fround(inSize / outSize);
}

function subsampleConstants(s: SubsampleShape, o: AccumulateOption): Record<string, number> {
  checkPositiveIntegers("nearest subsample", { ...s });
  return {
    WG,
    N: s.batch,
    C: s.channels,
    IH: s.inH,
    IW: s.inW,
    OH: s.outH,
    OW: s.outW,
    SCALE_H: nearestScale(s.inH, s.outH),
    SCALE_W: nearestScale(s.inW, s.outW),
    ACCUMULATE: o.accumulate ? 1 : 0,
  };
}

/** y (= or +=) x at source index floor(dst · in / out) per axis (F.interpolate, "nearest"). */
export function nearestSubsampleForward<B>(
  _ctx: LaunchContext<B>,
  s: SubsampleShape,
  io: { x: B; y: B },
  o: AccumulateOption = {},
): Launch<B>[] {
  const entryPoint = "subsample_forward";
  return [{
    kernel: { name: entryPoint, source, entryPoint, constants: subsampleConstants(s, o) },
    bindings: [io.x, io.y],
    workgroups: grid1d(s.batch * s.channels * s.outH * s.outW, WG),
  }];
}

/** dx (= or +=) Σ of dy over the outputs that sampled each input; 0 where none did. */
export function nearestSubsampleBackward<B>(
  _ctx: LaunchContext<B>,
  s: SubsampleShape,
  io: { dy: B; dx: B },
  o: AccumulateOption = {},
): Launch<B>[] {
  const { entryPoint, invocations } = subsampleBackwardKernel(s);
  const ratios: Record<string, number> = isIntegerRatio(s)
    ? { KH: s.inH / s.outH, KW: s.inW / s.outW }
    : {};
  const constants = { ...subsampleConstants(s, o), ...ratios };
  return [{
    kernel: { name: entryPoint, source, entryPoint, constants },
    bindings: [io.dy, io.dx],
    workgroups: grid1d(invocations, WG),
  }];
}

/** Rows divisible by 4 get the vec4 kernels; integer ratios (the GenNAS taps) a strided one. */
function subsampleBackwardKernel(s: SubsampleShape): { entryPoint: string; invocations: number } {
  const elements = s.batch * s.channels * s.inH * s.inW;
  if (s.inW % 4 !== 0) return { entryPoint: "subsample_backward", invocations: elements };
  const entryPoint = isIntegerRatio(s)
    ? "subsample_backward_strided_vec4"
    : "subsample_backward_vec4";
  return { entryPoint, invocations: elements / 4 };
}

function isIntegerRatio(s: SubsampleShape): boolean {
  return s.inH % s.outH === 0 && s.inW % s.outW === 0;
}

function checkChannelRange(side: string, offset: number, count: number, channels: number): void {
  if (offset + count > channels) {
    const range = `${offset}..${offset + count - 1}`;
    throw new RangeError(`channel copy: ${side} channels ${range} exceed the ${channels} there`);
  }
}

function checkChannelCopy(
  s: ChannelCopyShape,
  o: { accumulate?: boolean; zeroRest?: boolean },
): void {
  const { srcOffset, dstOffset, ...positive } = s;
  checkPositiveIntegers("channel copy", positive);
  for (const [name, value] of Object.entries({ srcOffset, dstOffset })) {
    if (!Number.isInteger(value) || value < 0) {
      throw new RangeError(`channel copy: ${name} must be a non-negative integer, got ${value}`);
    }
  }
  checkChannelRange("source", srcOffset, s.count, s.srcChannels);
  checkChannelRange("destination", dstOffset, s.count, s.dstChannels);
  if (o.zeroRest && o.accumulate) {
    throw new RangeError("channel copy: zeroRest needs accumulate false");
  }
}

/**
 * dst[n, dstOffset + c, :] (= or +=) src[n, srcOffset + c, :] for c < count. zeroRest (with
 * accumulate false) also sets every other channel of dst to 0.
 */
export function channelCopy<B>(
  _ctx: LaunchContext<B>,
  s: ChannelCopyShape,
  io: { src: B; dst: B },
  o: { accumulate?: boolean; zeroRest?: boolean } = {},
): Launch<B>[] {
  checkChannelCopy(s, o);
  const vec4 = s.spatial % 4 === 0;
  const base = o.zeroRest ? "channel_copy_zero_rest" : "channel_copy";
  const entryPoint = vec4 ? `${base}_vec4` : base;
  const written = o.zeroRest ? s.dstChannels : s.count;
  return [{
    kernel: {
      name: entryPoint,
      source,
      entryPoint,
      constants: {
        WG,
        N: s.batch,
        S: s.spatial,
        SRC_C: s.srcChannels,
        SRC_OFF: s.srcOffset,
        DST_C: s.dstChannels,
        DST_OFF: s.dstOffset,
        COUNT: s.count,
        ...(o.zeroRest ? {} : { ACCUMULATE: o.accumulate ? 1 : 0 }),
      },
    },
    bindings: [io.src, io.dst],
    workgroups: grid1d(s.batch * written * s.spatial / (vec4 ? 4 : 1), WG),
  }];
}
