/**
 * Strided pick y = x[:, :, O::S, O::S] (zero past the edge), as FactorizedReduce's shifted path
 * `conv(pad(x)[:, :, 1:, 1:])` needs before its stride-2 1×1 conv (pycls, spec §4.3).
 */
import template from "../../shaders/pick.wgsl" with { type: "text" };
import { declareBindings } from "../gpu/bindings.ts";
import { grid1d, type Launch, type LaunchContext } from "../gpu/kernel.ts";
import { preprocess, widthDefines } from "../gpu/wgsl.ts";
import { checkPositiveIntegers, planeConstants } from "./common.ts";

export interface PickShape {
  batch: number;
  channels: number;
  inH: number;
  inW: number;
  stride: number;
  offset: number;
}

const WG = 256;
const BINDINGS = declareBindings({ src: "read", dst: "read_write" });

/** ceil(size / stride) per axis: the size of x[O::S] after padding x by O at the end. */
export function pickOutputSize(s: PickShape): { outH: number; outW: number } {
  return { outH: Math.ceil(s.inH / s.stride), outW: Math.ceil(s.inW / s.stride) };
}

function constants(s: PickShape, accumulate: boolean | undefined): Record<string, number> {
  const { offset, ...positive } = s;
  checkPositiveIntegers("pick", positive);
  if (!Number.isInteger(offset) || offset < 0 || offset >= s.stride) {
    throw new RangeError(`pick: offset must be an integer in [0, stride), got ${offset}`);
  }
  const { outH, outW } = pickOutputSize(s);
  return {
    WG,
    ...planeConstants(s.batch, s.channels, [s.inH, s.inW], [outH, outW]),
    S: s.stride,
    O: offset,
    ACCUMULATE: accumulate ? 1 : 0,
  };
}

function launch<B>(
  entryPoint: string,
  c: Record<string, number>,
  bindings: (B | undefined)[],
  threads: number,
): Launch<B> {
  return {
    kernel: {
      name: entryPoint,
      source: preprocess(template, widthDefines(1)),
      entryPoint,
      constants: c,
      layout: BINDINGS,
    },
    bindings,
    workgroups: grid1d(threads, WG),
  };
}

/** y (= or +=) x[:, :, O::S, O::S]. */
export function pickForward<B>(
  _ctx: LaunchContext<B>,
  s: PickShape,
  io: { x: B; y: B },
  o: { accumulate?: boolean } = {},
): Launch<B>[] {
  const { outH, outW } = pickOutputSize(s);
  const bindings = BINDINGS.bind({ src: io.x, dst: io.y });
  return [
    launch(
      "pick_forward",
      constants(s, o.accumulate),
      bindings,
      s.batch * s.channels * outH * outW,
    ),
  ];
}

/** dx (= or +=) dy scattered to the picked positions, 0 elsewhere. */
export function pickBackward<B>(
  _ctx: LaunchContext<B>,
  s: PickShape,
  io: { dy: B; dx: B },
  o: { accumulate?: boolean } = {},
): Launch<B>[] {
  const bindings = BINDINGS.bind({ src: io.dy, dst: io.dx });
  return [
    launch(
      "pick_backward",
      constants(s, o.accumulate),
      bindings,
      s.batch * s.channels * s.inH * s.inW,
    ),
  ];
}
