/** Convolution shapes: parameters normalised and validated, output size, FLOPs. */

export interface Conv2dShape {
  batch: number;
  inChannels: number;
  outChannels: number;
  inH: number;
  inW: number;
  kernelH: number;
  kernelW: number;
  strideH: number;
  strideW: number;
  padH: number;
  padW: number;
  dilationH: number;
  dilationW: number;
  groups: number;
}

/** A size given once for both axes, or as [height, width]. */
export type PairArg = number | readonly [number, number];

export interface Conv2dParams {
  batch: number;
  inChannels: number;
  outChannels: number;
  inH: number;
  inW: number;
  kernel: PairArg;
  stride?: PairArg;
  pad?: PairArg;
  dilation?: PairArg;
  groups?: number;
}

function pair(value: PairArg | undefined, fallback: number): [number, number] {
  if (value === undefined) return [fallback, fallback];
  return typeof value === "number" ? [value, value] : [value[0], value[1]];
}

function requireInt(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`conv2d: ${name} must be an integer >= ${min}, got ${value}`);
  }
}

/** Normalises and validates convolution parameters (RangeError naming the field). */
export function conv2dShape(p: Conv2dParams): Conv2dShape {
  const [kernelH, kernelW] = pair(p.kernel, 1);
  const [strideH, strideW] = pair(p.stride, 1);
  const [padH, padW] = pair(p.pad, 0);
  const [dilationH, dilationW] = pair(p.dilation, 1);
  const groups = p.groups ?? 1;
  const s: Conv2dShape = {
    batch: p.batch,
    inChannels: p.inChannels,
    outChannels: p.outChannels,
    inH: p.inH,
    inW: p.inW,
    kernelH,
    kernelW,
    strideH,
    strideW,
    padH,
    padW,
    dilationH,
    dilationW,
    groups,
  };
  for (const key of Object.keys(s) as (keyof Conv2dShape)[]) {
    requireInt(key, s[key], key === "padH" || key === "padW" ? 0 : 1);
  }
  if (s.inChannels % groups !== 0 || s.outChannels % groups !== 0) {
    throw new RangeError(
      `conv2d: groups (${groups}) must divide inChannels (${s.inChannels}) and outChannels ` +
        `(${s.outChannels})`,
    );
  }
  const { outH, outW } = conv2dOutputSize(s);
  if (outH < 1 || outW < 1) {
    throw new RangeError(
      `conv2d: output would be ${outH}×${outW}; the ${s.inH}×${s.inW} input ` +
        `(pad ${padH}×${padW}) ` +
        `is smaller than the dilated ${kernelH}×${kernelW} kernel`,
    );
  }
  return s;
}

export function conv2dOutputSize(s: Conv2dShape): { outH: number; outW: number } {
  const extent = (size: number, pad: number, k: number, dil: number, stride: number) =>
    Math.floor((size + 2 * pad - dil * (k - 1) - 1) / stride) + 1;
  return {
    outH: extent(s.inH, s.padH, s.kernelH, s.dilationH, s.strideH),
    outW: extent(s.inW, s.padW, s.kernelW, s.dilationW, s.strideW),
  };
}

/** 2·MACs of the forward pass (also the FLOPs of each gradient). */
export function conv2dFlops(s: Conv2dShape): number {
  const { outH, outW } = conv2dOutputSize(s);
  return 2 * s.batch * s.outChannels * (s.inChannels / s.groups) * s.kernelH * s.kernelW * outH *
    outW;
}
