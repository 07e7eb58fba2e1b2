/**
 * The structures a generated kernel depends on (its blocking and what its loads can assume), the
 * geometry of a direct pass, and the taps a structure's register block reaches.
 */
import { conv2dOutputSize, type Conv2dShape } from "./shape.ts";
import { type AxisTaps, dataGradTaps, forwardTaps } from "./taps.ts";

/**
 * How the direct kernel loads weights: vec4 along dst channels (4 block channels at once), vec4
 * along reduced channels (4 unrolled loop channels at once) or one f32 at a time.
 */
export type WeightVector = "dst" | "loop" | "none";

/** The structure a generated entry point depends on; the kernel name encodes all of it. */
export interface DirectStructure {
  pass: "forward" | "data";
  ocb: number;
  rows: number;
  cols: number;
  /** Reduced channels per loop iteration (divides the loop count). */
  kb: number;
  weightVector: WeightVector;
  kernelH: number;
  kernelW: number;
  strideH: number;
  strideW: number;
  dilationH: number;
  dilationW: number;
  /** Data gradient: pad mod stride, per axis (0 for the forward). */
  padModH: number;
  padModW: number;
  /** src read as aligned vec4 column groups: the tile's first src column mod 4; else -1. */
  colAlign: number;
  /** dst written four columns at a time (dst width and tile columns multiples of 4). */
  vectorStore: boolean;
  /** Data gradient with a fused ReLU, vector stores: the x mask read as vec4 too. */
  vectorMask: boolean;
  /** Weights bound as a uniform array of this many vec4s (0: a storage binding). */
  uniformVec4s: number;
}

export interface WeightStructure {
  ocb: number;
  icb: number;
  rows: number;
  cols: number;
  kernelH: number;
  kernelW: number;
  strideH: number;
  strideW: number;
  dilationH: number;
  dilationW: number;
  withBias: boolean;
  /** dy read as vec4 along columns (OW and cols multiples of 4). */
  vectorDy: boolean;
  /**
   * x read as aligned vec4 column groups: the unit's first x column mod 4 (W and the unit's x
   * column step multiples of 4), or −1 for f32 gathers.
   */
  xAlign: number;
  /**
   * Partials stored four output channels at a time (vec4): dw has the output channel innermost
   * (the ihwo layout) and ocb and the channels per group are multiples of 4. Not a planner
   * choice (the cost model ignores the stores): set by the launch, which knows the layout.
   */
  vectorPartials: boolean;
}

export function directTaps(d: DirectStructure): { rows: AxisTaps; cols: AxisTaps } {
  if (d.pass === "forward") {
    return {
      rows: forwardTaps(d.rows, d.kernelH, d.strideH, d.dilationH),
      cols: forwardTaps(d.cols, d.kernelW, d.strideW, d.dilationW),
    };
  }
  return {
    rows: dataGradTaps(d.rows, d.kernelH, d.strideH, d.dilationH, d.padModH),
    cols: dataGradTaps(d.cols, d.kernelW, d.strideW, d.dilationW, d.padModW),
  };
}

/** Geometry of a direct pass, seen from the kernel: src → dst. */
export interface DirectGeometry {
  /** dst channels per group, src channels per group (reduced). */
  outPerGroup: number;
  loopPerGroup: number;
  outH: number;
  outW: number;
  /** dst rows/columns per register-block row/column (the stride for the data gradient). */
  rowsPerBlockRow: number;
  colsPerBlockCol: number;
}

export function directGeometry(s: Conv2dShape, pass: "forward" | "data"): DirectGeometry {
  const { outH, outW } = conv2dOutputSize(s);
  const cin = s.inChannels / s.groups;
  const cout = s.outChannels / s.groups;
  return pass === "forward"
    ? {
      outPerGroup: cout,
      loopPerGroup: cin,
      outH,
      outW,
      rowsPerBlockRow: 1,
      colsPerBlockCol: 1,
    }
    : {
      outPerGroup: cin,
      loopPerGroup: cout,
      outH: s.inH,
      outW: s.inW,
      rowsPerBlockRow: s.strideH,
      colsPerBlockCol: s.strideW,
    };
}

export function directStructure(
  s: Conv2dShape,
  pass: "forward" | "data",
  ocb: number,
  rows: number,
  cols: number,
  kb: number,
  weightVector: WeightVector,
  uniformVec4s = 0,
): DirectStructure {
  return {
    pass,
    ocb,
    rows,
    cols,
    kb,
    weightVector,
    kernelH: s.kernelH,
    kernelW: s.kernelW,
    strideH: s.strideH,
    strideW: s.strideW,
    dilationH: s.dilationH,
    dilationW: s.dilationW,
    padModH: pass === "data" ? s.padH % s.strideH : 0,
    padModW: pass === "data" ? s.padW % s.strideW : 0,
    colAlign: columnAlignment(s, pass, cols),
    vectorStore: directGeometry(s, pass).outW % 4 === 0 &&
      (cols * directGeometry(s, pass).colsPerBlockCol) % 4 === 0,
    vectorMask: false,
    uniformVec4s,
  };
}

/** See DirectStructure.colAlign: vec4 columns need 4 | src width and 4 | the tile's column step. */
function columnAlignment(s: Conv2dShape, pass: "forward" | "data", cols: number): number {
  const forward = pass === "forward";
  const srcWidth = forward ? s.inW : conv2dOutputSize(s).outW;
  const step = forward ? cols * s.strideW : cols;
  if (srcWidth % 4 !== 0 || step % 4 !== 0) return -1;
  const shift = forward ? -s.padW : Math.floor(s.padW / s.strideW);
  return ((shift % 4) + 4) % 4;
}

export function weightStructure(
  s: Conv2dShape,
  ocb: number,
  icb: number,
  rows: number,
  cols: number,
  withBias: boolean,
): WeightStructure {
  return {
    ocb,
    icb,
    rows,
    cols,
    kernelH: s.kernelH,
    kernelW: s.kernelW,
    strideH: s.strideH,
    strideW: s.strideW,
    dilationH: s.dilationH,
    dilationW: s.dilationW,
    withBias,
    vectorDy: cols % 4 === 0 && conv2dOutputSize(s).outW % 4 === 0,
    xAlign: s.inW % 4 === 0 && (cols * s.strideW) % 4 === 0 ? (((-s.padW) % 4) + 4) % 4 : -1,
    vectorPartials: false,
  };
}

export function weightTaps(w: WeightStructure): { rows: AxisTaps; cols: AxisTaps } {
  return {
    rows: forwardTaps(w.rows, w.kernelH, w.strideH, w.dilationH),
    cols: forwardTaps(w.cols, w.kernelW, w.strideW, w.dilationW),
  };
}
