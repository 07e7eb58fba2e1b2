/**
 * Data movement over NCHW f32 tensors: nearest-neighbour resampling (the GenNAS taps' 8×8
 * subsampling) and channel-range copies (concat, slice backward, NB-101 truncation).
 */
import template from "../../shaders/layout.wgsl" with { type: "text" };
import { declareBindings } from "../gpu/bindings.ts";
import { grid1d, type Launch, type LaunchContext } from "../gpu/kernel.ts";
import { preprocess, widthDefines } from "../gpu/wgsl.ts";
import { checkPositiveIntegers, planeConstants } from "./common.ts";

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

/** Both families: src read, dst written (x → y, or dy → dx). */
const BINDINGS = declareBindings({ src: "read", dst: "read_write" });
const RESAMPLE = { 1: { copy: false, width: 1 }, 4: { copy: false, width: 4 } } as const;

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
    ...planeConstants(s.batch, s.channels, [s.inH, s.inW], [s.outH, s.outW]),
    SCALE_H: nearestScale(s.inH, s.outH),
    SCALE_W: nearestScale(s.inW, s.outW),
    ACCUMULATE: o.accumulate ? 1 : 0,
  };
}

/** A launch of the channel-copy (`copy`) or resampling source at one width. */
function layoutLaunch<B>(
  entryPoint: string,
  family: { copy: boolean; width: 1 | 4 },
  constants: Record<string, number>,
  bindings: (B | undefined)[],
  elements: number,
): Launch<B> {
  return {
    kernel: {
      name: family.width === 4 ? `${entryPoint}_vec4` : entryPoint,
      source: preprocess(template, { ...widthDefines(family.width), COPY: family.copy }),
      entryPoint,
      constants,
      layout: BINDINGS,
    },
    bindings,
    workgroups: grid1d(elements / family.width, WG),
  };
}

/** y (= or +=) x at source index floor(dst · in / out) per axis (F.interpolate, "nearest"). */
export function nearestSubsampleForward<B>(
  _ctx: LaunchContext<B>,
  s: SubsampleShape,
  io: { x: B; y: B },
  o: AccumulateOption = {},
): Launch<B>[] {
  const constants = subsampleConstants(s, o);
  const bindings = BINDINGS.bind({ src: io.x, dst: io.y });
  const outputs = s.batch * s.channels * s.outH * s.outW;
  return [layoutLaunch("subsample_forward", RESAMPLE[1], constants, bindings, outputs)];
}

/**
 * dx (= or +=) Σ of dy over the outputs that sampled each input; 0 where none did. Rows divisible
 * by 4 get the vec4 kernels; integer ratios (the GenNAS taps) a strided one.
 */
export function nearestSubsampleBackward<B>(
  _ctx: LaunchContext<B>,
  s: SubsampleShape,
  io: { dy: B; dx: B },
  o: AccumulateOption = {},
): Launch<B>[] {
  const width = s.inW % 4 === 0 ? 4 : 1;
  const strided = width === 4 && isIntegerRatio(s);
  const ratios: Record<string, number> = isIntegerRatio(s)
    ? { KH: s.inH / s.outH, KW: s.inW / s.outW }
    : {};
  const constants = { ...subsampleConstants(s, o), ...ratios };
  const bindings = BINDINGS.bind({ src: io.dy, dst: io.dx });
  const entryPoint = strided ? "subsample_backward_strided" : "subsample_backward";
  const inputs = s.batch * s.channels * s.inH * s.inW;
  return [layoutLaunch(entryPoint, RESAMPLE[width], constants, bindings, inputs)];
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
  const width = s.spatial % 4 === 0 ? 4 : 1;
  const constants = {
    WG,
    N: s.batch,
    S: s.spatial,
    SRC_C: s.srcChannels,
    SRC_OFF: s.srcOffset,
    DST_C: s.dstChannels,
    DST_OFF: s.dstOffset,
    COUNT: s.count,
    ...(o.zeroRest ? {} : { ACCUMULATE: o.accumulate ? 1 : 0 }),
  };
  const entryPoint = o.zeroRest ? "channel_copy_zero_rest" : "channel_copy";
  const written = s.batch * (o.zeroRest ? s.dstChannels : s.count) * s.spatial;
  const family = { copy: true, width } as const;
  return [layoutLaunch(entryPoint, family, constants, BINDINGS.bind(io), written)];
}
