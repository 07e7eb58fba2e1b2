/**
 * 2-D convolution in PyTorch layouts: forward, data gradient and weight gradient.
 *
 * x [N][Cin][H][W], y [N][Cout][outH][outW], w [Cout][Cin/groups][kh][kw], bias [Cout], f32.
 *
 * Forward and data gradient share one direct, register-blocked kernel (shaders/conv2d_direct.wgsl):
 * each invocation accumulates OCB channels × a tile of outputs over a runtime loop on the reduced
 * channels, with the kernel taps and the register block unrolled in a generated entry point. The
 * data gradient is the same kernel in gather form (dx from dy, one register block per stride
 * phase). Both read weights transposed into scratch by a small launch (shaders/conv2d_aux.wgsl),
 * so that a block's weights are contiguous vec4s. The weight gradient is split over N·outH·outW
 * (shaders/conv2d_wgrad.wgsl) and summed by conv2d_aux.wgsl, which also applies `accumulate` and
 * produces the bias gradient.
 *
 * Blocking is chosen per shape and per device class by a small cost model (`conv2dPlan`): on
 * lavapipe every storage load with a computed index is a per-lane scalar gather, far dearer than
 * an FMA, so the "cpu" plans maximise FMAs per load within a code-size cap (the JIT cost of an
 * unrolled block grows with it); "gpu" plans use small blocks and many invocations.
 */
import directTemplate from "../../shaders/conv2d_direct.wgsl" with { type: "text" };
import wgradTemplate from "../../shaders/conv2d_wgrad.wgsl" with { type: "text" };
import auxSource from "../../shaders/conv2d_aux.wgsl" with { type: "text" };
import {
  type DeviceClass,
  grid,
  grid1d,
  type KernelSpec,
  type Launch,
  type LaunchContext,
} from "../gpu/kernel.ts";

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

// ---------------------------------------------------------------------------------------------
// Tap geometry

/**
 * For each output position of a tile along one axis, the (src offset, kernel index) pairs that
 * reach it; offsets are relative to the tile's first src row (or column).
 */
type AxisTaps = readonly (readonly (readonly [number, number])[])[];

function forwardTaps(block: number, k: number, stride: number, dilation: number): AxisTaps {
  return Array.from(
    { length: block },
    (_, j) => Array.from({ length: k }, (_, t) => [j * stride + t * dilation, t] as const),
  );
}

/**
 * Data-gradient taps: tile position r = j·stride + phase of dx is reached by dy position
 * j + (phase + padMod − t·dilation)/stride whenever that division is exact.
 */
function dataGradTaps(
  block: number,
  k: number,
  stride: number,
  dilation: number,
  padMod: number,
): AxisTaps {
  const taps: (readonly [number, number])[][] = [];
  for (let r = 0; r < block * stride; r++) {
    const j = Math.floor(r / stride);
    const phase = r % stride;
    const list: (readonly [number, number])[] = [];
    for (let t = 0; t < k; t++) {
      const num = phase + padMod - t * dilation;
      if (((num % stride) + stride) % stride === 0) list.push([j + num / stride, t]);
    }
    taps.push(list);
  }
  return taps;
}

function distinctOffsets(taps: AxisTaps): number[] {
  return [...new Set(taps.flat().map(([offset]) => offset))].sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------------
// Planning

export type Conv2dPass = "forward" | "data" | "weight";

/** Blocking of one pass, as chosen by `conv2dPlan` (exported for benchmarks and tests). */
export interface Conv2dPlan {
  pass: Conv2dPass;
  /** Output channels per invocation (forward, weight), input channels (data). */
  ocb: number;
  /** Input channels per invocation (weight; 1 for forward and data). */
  icb: number;
  /**
   * Rows × columns of the block: output positions (forward), dy positions (weight) or
   * dy-sized steps of dx (data: the block covers rows·strideH × cols·strideW of dx).
   */
  rows: number;
  cols: number;
  workgroupSize: number;
  /** Split-K chunks of the weight gradient (1 otherwise). */
  chunks: number;
  /** Unrolled FMAs per loop iteration (code size) and gathers per iteration. */
  fmas: number;
  loads: number;
}

interface ClassTuning {
  /** Cost of one gathered f32 load, in FMAs (a vec4 load costs VEC4_LOADS of them). */
  loadCost: number;
  /** Cost of keeping one accumulator (spill traffic per iteration), in FMAs. */
  accumulatorCost: number;
  maxFmas: number;
  maxAccumulators: number;
  /** Invocations below which the device idles. */
  minInvocations: number;
  channelBlocks: readonly number[];
  rowBlocks: readonly number[];
  colBlocks: readonly number[];
  /** Invocations the weight gradient aims for (split-K). */
  weightInvocations: number;
}

/** Cost of a vec4 gather in f32 gathers (measured on lavapipe: ≈ 2.1). */
const VEC4_LOADS = 2.1;

const TUNING: Record<DeviceClass, ClassTuning> = {
  cpu: {
    loadCost: 10,
    accumulatorCost: 1,
    maxFmas: 2400,
    maxAccumulators: 320,
    minInvocations: 32,
    channelBlocks: [1, 2, 4, 8, 16, 32],
    rowBlocks: [1, 2, 4, 8],
    colBlocks: [1, 2, 4, 8, 16],
    weightInvocations: 256,
  },
  gpu: {
    loadCost: 2,
    accumulatorCost: 0.5,
    maxFmas: 512,
    maxAccumulators: 32,
    minInvocations: 16384,
    channelBlocks: [1, 2, 4, 8],
    rowBlocks: [1, 2, 4],
    colBlocks: [1, 2, 4],
    weightInvocations: 32768,
  },
};

/** The structure a generated entry point depends on; the kernel name encodes all of it. */
interface DirectStructure {
  pass: "forward" | "data";
  ocb: number;
  rows: number;
  cols: number;
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
}

interface WeightStructure {
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
}

function directTaps(d: DirectStructure): { rows: AxisTaps; cols: AxisTaps } {
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

/** Gathers per channel of one iteration: the (row, column) src pairs some tap reads. */
function usedPairs(rows: AxisTaps, cols: AxisTaps): Set<string> {
  const pairs = new Set<string>();
  for (const rowTaps of rows) {
    for (const colTaps of cols) {
      for (const [ro] of rowTaps) for (const [co] of colTaps) pairs.add(`${ro},${co}`);
    }
  }
  return pairs;
}

function usedTaps(rows: AxisTaps, cols: AxisTaps, kernelW: number): number[] {
  const taps = new Set<number>();
  for (const rowTaps of rows) {
    for (const colTaps of cols) {
      for (const [, ky] of rowTaps) for (const [, kx] of colTaps) taps.add(ky * kernelW + kx);
    }
  }
  return [...taps].sort((a, b) => a - b);
}

function sumOfProducts(rows: AxisTaps, cols: AxisTaps): number {
  const colTotal = cols.reduce((sum, c) => sum + c.length, 0);
  return rows.reduce((sum, r) => sum + r.length, 0) * colTotal;
}

/** Fraction of `count` covered usefully by blocks of `block`. */
function utilisation(count: number, block: number): number {
  return count / (Math.ceil(count / block) * block);
}

function powerOfTwoAtLeast(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, n)));
}

/** Geometry of a direct pass, seen from the kernel: src → dst. */
interface DirectGeometry {
  /** dst channels per group, src channels per group (reduced). */
  outPerGroup: number;
  loopPerGroup: number;
  outH: number;
  outW: number;
  /** dst rows/columns per register-block row/column (the stride for the data gradient). */
  rowsPerBlockRow: number;
  colsPerBlockCol: number;
}

function directGeometry(s: Conv2dShape, pass: "forward" | "data"): DirectGeometry {
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

function directStructure(
  s: Conv2dShape,
  pass: "forward" | "data",
  ocb: number,
  rows: number,
  cols: number,
): DirectStructure {
  return {
    pass,
    ocb,
    rows,
    cols,
    kernelH: s.kernelH,
    kernelW: s.kernelW,
    strideH: s.strideH,
    strideW: s.strideW,
    dilationH: s.dilationH,
    dilationW: s.dilationW,
    padModH: pass === "data" ? s.padH % s.strideH : 0,
    padModW: pass === "data" ? s.padW % s.strideW : 0,
    colAlign: columnAlignment(s, pass, cols),
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

/** The vec4 column group and component of src column offset `off` (vector mode). */
function columnSlot(colAlign: number, off: number): { group: number; lane: number } {
  const c = colAlign + off;
  return { group: Math.floor(c / 4), lane: ((c % 4) + 4) % 4 };
}

/** Distinct gathers of one src channel: (row, column) pairs, or (row, vec4 group) pairs. */
function srcGathers(d: DirectStructure, rows: AxisTaps, cols: AxisTaps): Set<string> {
  if (d.colAlign < 0) return usedPairs(rows, cols);
  const gathers = new Set<string>();
  for (const key of usedPairs(rows, cols)) {
    const [ro, co] = key.split(",").map(Number);
    gathers.add(`${ro},${columnSlot(d.colAlign, co).group}`);
  }
  return gathers;
}

interface Candidate<T> {
  structure: T;
  cost: number;
  fmas: number;
  loads: number;
}

/** Plans are pure functions of their key; the graph may ask for the same one many times. */
const plans = new Map<string, unknown>();

function memo<T>(key: string, choose: () => T): T {
  if (!plans.has(key)) plans.set(key, choose());
  return plans.get(key) as T;
}

function chooseDirect(s: Conv2dShape, pass: "forward" | "data", device: DeviceClass) {
  return memo(`${pass} ${device} ${JSON.stringify(s)}`, () => {
    const tune = TUNING[device];
    const g = directGeometry(s, pass);
    let best: Candidate<DirectStructure> | undefined;
    for (const ocb of tune.channelBlocks) {
      if (ocb > powerOfTwoAtLeast(g.outPerGroup)) continue;
      for (const rows of tune.rowBlocks) {
        if (rows > powerOfTwoAtLeast(Math.ceil(g.outH / g.rowsPerBlockRow))) continue;
        for (const cols of tune.colBlocks) {
          if (cols > powerOfTwoAtLeast(Math.ceil(g.outW / g.colsPerBlockCol))) continue;
          const structure = directStructure(s, pass, ocb, rows, cols);
          const candidate = scoreDirect(s, g, structure, tune);
          if (candidate && (!best || candidate.cost < best.cost)) best = candidate;
        }
      }
    }
    if (!best) throw new Error("conv2d: no blocking fits (internal)");
    return best;
  });
}

function scoreDirect(
  s: Conv2dShape,
  g: DirectGeometry,
  d: DirectStructure,
  tune: ClassTuning,
): Candidate<DirectStructure> | undefined {
  const taps = directTaps(d);
  const tileRows = d.rows * g.rowsPerBlockRow;
  const tileCols = d.cols * g.colsPerBlockCol;
  const accumulators = d.ocb * tileRows * tileCols;
  const fmas = d.ocb * sumOfProducts(taps.rows, taps.cols);
  const smallest = d.ocb === 1 && d.rows === 1 && d.cols === 1;
  if (!smallest && (fmas > tune.maxFmas || accumulators > tune.maxAccumulators)) return undefined;
  const weightLoads = d.ocb % 4 === 0 ? (d.ocb / 4) * VEC4_LOADS : d.ocb;
  const srcLoads = srcGathers(d, taps.rows, taps.cols).size * (d.colAlign < 0 ? 1 : VEC4_LOADS);
  const loads = weightLoads * usedTaps(taps.rows, taps.cols, d.kernelW).length + srcLoads;
  const useful = utilisation(g.outPerGroup, d.ocb) * utilisation(g.outH, tileRows) *
    utilisation(g.outW, tileCols);
  const invocations = s.groups * Math.ceil(g.outPerGroup / d.ocb) * s.batch *
    Math.ceil(g.outH / tileRows) * Math.ceil(g.outW / tileCols);
  const idle = Math.max(1, tune.minInvocations / invocations);
  // Zero-FMA blocks (a stride phase no tap reaches) still pay their stores.
  const work = Math.max(fmas, 1) * useful;
  const cost = (tune.loadCost * loads + fmas + tune.accumulatorCost * accumulators) / work * idle;
  return { structure: d, cost, fmas, loads };
}

function weightStructure(
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
  };
}

function weightTaps(w: WeightStructure): { rows: AxisTaps; cols: AxisTaps } {
  return {
    rows: forwardTaps(w.rows, w.kernelH, w.strideH, w.dilationH),
    cols: forwardTaps(w.cols, w.kernelW, w.strideW, w.dilationW),
  };
}

function chooseWeight(s: Conv2dShape, device: DeviceClass, withBias: boolean) {
  return memo(`weight ${device} ${withBias} ${JSON.stringify(s)}`, () => {
    const tune = TUNING[device];
    const { outH, outW } = conv2dOutputSize(s);
    let best: Candidate<WeightStructure> | undefined;
    for (const ocb of tune.channelBlocks) {
      if (ocb > powerOfTwoAtLeast(s.outChannels / s.groups)) continue;
      for (const icb of WEIGHT_INPUT_BLOCKS) {
        if (icb > powerOfTwoAtLeast(s.inChannels / s.groups)) continue;
        for (const rows of WEIGHT_ROW_BLOCKS) {
          if (rows > powerOfTwoAtLeast(outH)) continue;
          for (const cols of WEIGHT_COL_BLOCKS) {
            if (cols > powerOfTwoAtLeast(outW)) continue;
            const w = weightStructure(s, ocb, icb, rows, cols, withBias);
            const candidate = scoreWeight(s, w, tune);
            if (candidate && (!best || candidate.cost < best.cost)) best = candidate;
          }
        }
      }
    }
    if (!best) throw new Error("conv2d: no weight-gradient blocking fits (internal)");
    return best;
  });
}

const WEIGHT_INPUT_BLOCKS = [1, 2, 4, 8];
const WEIGHT_ROW_BLOCKS = [1, 2, 4];
const WEIGHT_COL_BLOCKS = [1, 2, 4, 8];

function scoreWeight(
  s: Conv2dShape,
  w: WeightStructure,
  tune: ClassTuning,
): Candidate<WeightStructure> | undefined {
  const { outH, outW } = conv2dOutputSize(s);
  const taps = weightTaps(w);
  const fmas = w.ocb * w.icb * s.kernelH * s.kernelW * w.rows * w.cols;
  const accumulators = w.ocb * w.icb * s.kernelH * s.kernelW + (w.withBias ? w.ocb : 0);
  const smallest = w.ocb === 1 && w.icb === 1 && w.rows === 1 && w.cols === 1;
  if (!smallest && (fmas > tune.maxFmas || accumulators > tune.maxAccumulators)) return undefined;
  const dyLoads = w.ocb * w.rows * (w.vectorDy ? (w.cols / 4) * VEC4_LOADS : w.cols);
  const loads = dyLoads + w.icb * usedPairs(taps.rows, taps.cols).size;
  const useful = utilisation(s.outChannels / s.groups, w.ocb) *
    utilisation(s.inChannels / s.groups, w.icb) * utilisation(outH, w.rows) *
    utilisation(outW, w.cols);
  const cost = (tune.loadCost * loads + fmas + tune.accumulatorCost * accumulators) /
    (fmas * useful);
  return { structure: w, cost, fmas, loads };
}

/** Split-K: chunks of the N·outH·outW reduction (chunk c takes every CHUNKS-th unit). */
function weightChunks(s: Conv2dShape, w: WeightStructure, device: DeviceClass): number {
  const { outH, outW } = conv2dOutputSize(s);
  const units = s.batch * Math.ceil(outH / w.rows) * Math.ceil(outW / w.cols);
  const blocks = s.groups * Math.ceil(s.outChannels / s.groups / w.ocb) *
    Math.ceil(s.inChannels / s.groups / w.icb);
  const partialFloats = s.outChannels * (s.inChannels / s.groups) * s.kernelH * s.kernelW +
    s.outChannels;
  const maxByScratch = Math.max(1, Math.floor(MAX_PARTIAL_FLOATS / partialFloats));
  const wanted = Math.ceil(TUNING[device].weightInvocations / blocks);
  return Math.max(1, Math.min(wanted, units, maxByScratch));
}

/** Split-K partials are capped at 16 MiB of scratch. */
const MAX_PARTIAL_FLOATS = 4 * 1024 * 1024;

function directWorkgroupSize(
  s: Conv2dShape,
  pass: "forward" | "data",
  d: DirectStructure,
  device: DeviceClass,
): number {
  if (device === "gpu") return 64;
  const g = directGeometry(s, pass);
  const tiles = s.batch * Math.ceil(g.outH / (d.rows * g.rowsPerBlockRow)) *
    Math.ceil(g.outW / (d.cols * g.colsPerBlockCol));
  const blocks = s.groups * Math.ceil(g.outPerGroup / d.ocb);
  return Math.min(powerOfTwoAtLeast(tiles), cpuWorkgroupSize(tiles * blocks));
}

/**
 * lavapipe runs a workgroup on one thread, SIMD across its invocations: at least 8 per group
 * fill a vector, and MIN_CPU_WORKGROUPS groups let its threads balance even when another
 * process takes a core for a while.
 */
function cpuWorkgroupSize(invocations: number): number {
  const perGroup = 2 ** Math.floor(Math.log2(Math.max(1, invocations / MIN_CPU_WORKGROUPS)));
  return Math.max(8, Math.min(64, perGroup));
}

const MIN_CPU_WORKGROUPS = 32;

function weightWorkgroupSize(invocations: number, device: DeviceClass): number {
  return device === "gpu" ? 64 : cpuWorkgroupSize(invocations);
}

/** The blocking each pass would use for this shape on this device class. */
export function conv2dPlan(s: Conv2dShape, pass: Conv2dPass, device: DeviceClass): Conv2dPlan {
  if (pass === "weight") {
    const best = chooseWeight(s, device, false);
    const w = best.structure;
    const chunks = weightChunks(s, w, device);
    const invocations = weightInvocations(s, w, chunks);
    return {
      pass,
      ocb: w.ocb,
      icb: w.icb,
      rows: w.rows,
      cols: w.cols,
      workgroupSize: weightWorkgroupSize(invocations, device),
      chunks,
      fmas: best.fmas,
      loads: best.loads,
    };
  }
  const best = chooseDirect(s, pass, device);
  const d = best.structure;
  return {
    pass,
    ocb: d.ocb,
    icb: 1,
    rows: d.rows,
    cols: d.cols,
    workgroupSize: directWorkgroupSize(s, pass, d, device),
    chunks: 1,
    fmas: best.fmas,
    loads: best.loads,
  };
}

function weightInvocations(s: Conv2dShape, w: WeightStructure, chunks: number): number {
  return s.groups * Math.ceil(s.outChannels / s.groups / w.ocb) *
    Math.ceil(s.inChannels / s.groups / w.icb) * chunks;
}

// ---------------------------------------------------------------------------------------------
// Code generation (memoised: one source per structure, named after it)

const sources = new Map<string, string>();

function memoSource(name: string, build: () => string): KernelSpec["source"] {
  let source = sources.get(name);
  if (source === undefined) {
    source = build();
    sources.set(name, source);
  }
  return source;
}

function directName(d: DirectStructure): string {
  const phase = (d.pass === "data" ? `_m${d.padModH}x${d.padModW}` : "") +
    (d.colAlign >= 0 ? `_a${d.colAlign}` : "");
  return `conv2d_${d.pass === "forward" ? "fwd" : "bwd_data"}_o${d.ocb}r${d.rows}c${d.cols}` +
    `_k${d.kernelH}x${d.kernelW}_s${d.strideH}x${d.strideW}_d${d.dilationH}x${d.dilationW}${phase}`;
}

function weightName(w: WeightStructure): string {
  return `conv2d_bwd_weight_o${w.ocb}i${w.icb}r${w.rows}c${w.cols}_k${w.kernelH}x${w.kernelW}` +
    `_s${w.strideH}x${w.strideW}_d${w.dilationH}x${w.dilationW}${w.withBias ? "_bias" : ""}` +
    (w.vectorDy ? "_v4" : "");
}

const ENTRY_SIGNATURE = "@compute @workgroup_size(WG)\n" +
  "fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,\n" +
  "        @builtin(num_workgroups) nwg: vec3u) {";

function indexOf(values: readonly number[]): Map<number, number> {
  return new Map(values.map((v, i) => [v, i]));
}

/** Entry point of the direct kernel: the whole register block unrolled, one loop over channels. */
function directMain(d: DirectStructure): string {
  const { rows, cols } = directTaps(d);
  const rowOffsets = distinctOffsets(rows);
  const colOffsets = distinctOffsets(cols);
  const rowIndex = indexOf(rowOffsets);
  const colIndex = indexOf(colOffsets);
  const pairs = usedPairs(rows, cols);
  const taps = usedTaps(rows, cols, d.kernelW);
  const out: string[] = [...directDeclarations(d), "", ENTRY_SIGNATURE];
  out.push("  let t = tile_of(wid.x + wid.y * nwg.x, lid.x);");
  rowOffsets.forEach((off, i) => out.push(`  let ro${i} = row_offset(t, ${off});`));
  if (d.colAlign < 0) {
    colOffsets.forEach((off, i) => out.push(`  let co${i} = col_offset(t, ${off});`));
  } else {
    const groups = new Set(colOffsets.map((off) => columnSlot(d.colAlign, off).group));
    for (const k of groups) {
      out.push(`  let cg${groupName(k)} = col_group(t, ${d.colAlign}, ${k});`);
    }
  }
  forEachBlock(
    d.ocb,
    rows.length,
    cols.length,
    (o, r, q) => out.push(`  var a${o}_${r}_${q} = 0.0;`),
  );
  out.push("  for (var c = 0u; c < CPG_LOOP; c++) {", "    let sb = src_channel_base(t, c);");
  out.push(...weightLoads(d, taps));
  out.push(...srcLoads(d, pairs, rowIndex, colIndex));
  forEachBlock(d.ocb, rows.length, cols.length, (o, r, q) => {
    const terms: string[] = [];
    for (const [ro, ky] of rows[r]) {
      for (const [co, kx] of cols[q]) {
        const v = `v${rowIndex.get(ro)}_${colIndex.get(co)}`;
        terms.push(`w${o}_${ky * d.kernelW + kx} * ${v}`);
      }
    }
    if (terms.length > 0) out.push(`    a${o}_${r}_${q} += ${terms.join(" + ")};`);
  });
  out.push("  }");
  forEachBlock(d.ocb, rows.length, cols.length, (o, r, q) => {
    out.push(`  store(t, ${o}u, ${r}u, ${q}u, a${o}_${r}_${q});`);
  });
  out.push("}");
  return out.join("\n");
}

/** The src and weight bindings (f32 or vec4f elements) and the masked src gather. */
function directDeclarations(d: DirectStructure): string[] {
  const srcType = d.colAlign < 0 ? "f32" : "vec4f";
  const index = d.colAlign < 0
    ? "base + row.index + col.index"
    : "(base + row.index + col.index) / 4u";
  return [
    `@group(0) @binding(0) var<storage, read> src: array<${srcType}>;`,
    `@group(0) @binding(1) var<storage, read> weight: array<${d.ocb % 4 === 0 ? "vec4f" : "f32"}>;`,
    "",
    `fn gather(base: u32, row: Offset, col: Offset) -> ${srcType} {`,
    `  return select(${srcType}(0.0), src[${index}], row.ok && col.ok);`,
    "}",
  ];
}

/** WGSL-safe name part for a (possibly negative) group index. */
function groupName(k: number): string {
  return k < 0 ? `m${-k}` : `${k}`;
}

/** Lets v{row}_{col} for every used src pair, one gather each or one per vec4 group. */
function srcLoads(
  d: DirectStructure,
  pairs: Set<string>,
  rowIndex: Map<number, number>,
  colIndex: Map<number, number>,
): string[] {
  const out: string[] = [];
  const loaded = new Set<string>();
  for (const key of pairs) {
    const [ro, co] = key.split(",").map(Number);
    const ri = rowIndex.get(ro);
    const name = `v${ri}_${colIndex.get(co)}`;
    if (d.colAlign < 0) {
      out.push(`    let ${name} = gather(sb, ro${ri}, co${colIndex.get(co)});`);
      continue;
    }
    const { group, lane } = columnSlot(d.colAlign, co);
    const vector = `g${ri}_${groupName(group)}`;
    if (!loaded.has(vector)) {
      loaded.add(vector);
      out.push(`    let ${vector} = gather(sb, ro${ri}, cg${groupName(group)});`);
    }
    out.push(`    let ${name} = ${vector}.${"xyzw"[lane]};`);
  }
  return out;
}

/** Lets w{o}_{tap} for every block channel o and used tap, from vec4s where possible. */
function weightLoads(d: DirectStructure, taps: readonly number[]): string[] {
  const out = ["    let wr = weight_row(t, c);"];
  for (const tap of taps) {
    if (d.ocb % 4 === 0) {
      for (let k = 0; k < d.ocb / 4; k++) {
        out.push(`    let q${k}_${tap} = weight[(wr + ${tap}u * OCP) / 4u + ${k}u];`);
        for (let e = 0; e < 4; e++) {
          out.push(`    let w${4 * k + e}_${tap} = q${k}_${tap}.${"xyzw"[e]};`);
        }
      }
    } else {
      for (let o = 0; o < d.ocb; o++) {
        out.push(`    let w${o}_${tap} = weight[wr + ${tap}u * OCP + ${o}u];`);
      }
    }
  }
  return out;
}

function forEachBlock(
  a: number,
  b: number,
  c: number,
  f: (i: number, j: number, k: number) => void,
): void {
  for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) for (let k = 0; k < c; k++) f(i, j, k);
}

/** Entry point of the weight-gradient kernel: one loop over reduction units. */
function weightMain(w: WeightStructure): string {
  const { rows, cols } = weightTaps(w);
  const rowOffsets = distinctOffsets(rows);
  const colOffsets = distinctOffsets(cols);
  const rowIndex = indexOf(rowOffsets);
  const colIndex = indexOf(colOffsets);
  const kk = w.kernelH * w.kernelW;
  const out: string[] = [...dyDeclaration(w.vectorDy), "", ENTRY_SIGNATURE];
  out.push("  let w = work_of(wid.x + wid.y * nwg.x, lid.x);");
  forEachBlock(w.ocb, w.icb, kk, (o, i, tap) => out.push(`  var a${o}_${i}_${tap} = 0.0;`));
  if (w.withBias) { for (let o = 0; o < w.ocb; o++) out.push(`  var b${o} = 0.0;`); }
  out.push("  for (var u = w.chunk; u < w.unit_end; u += CHUNKS) {", "    let p = unit_of(u);");
  for (let r = 0; r < w.rows; r++) out.push(`    let dr${r} = dy_row(p, ${r}u);`);
  for (let q = 0; q < w.cols; q += w.vectorDy ? 4 : 1) {
    out.push(`    let dc${q} = dy_col(p, ${q}u);`);
  }
  rowOffsets.forEach((off, i) => out.push(`    let xr${i} = x_row(p, ${off});`));
  colOffsets.forEach((off, i) => out.push(`    let xc${i} = x_col(p, ${off});`));
  for (let o = 0; o < w.ocb; o++) out.push(`    let db${o} = dy_base(w, p, ${o}u);`);
  for (let i = 0; i < w.icb; i++) out.push(`    let xb${i} = x_base(w, p, ${i}u);`);
  forEachBlock(w.ocb, w.rows, w.cols, (o, r, q) => {
    if (!w.vectorDy) {
      out.push(`    let d${o}_${r}_${q} = gather_dy(db${o}, dr${r}, dc${q});`);
    } else if (q % 4 === 0) {
      out.push(`    let d${o}_${r}_${q}v = gather_dy(db${o}, dr${r}, dc${q});`);
      for (let e = 0; e < 4; e++) {
        out.push(`    let d${o}_${r}_${q + e} = d${o}_${r}_${q}v.${"xyzw"[e]};`);
      }
    }
  });
  const pairs = usedPairs(rows, cols);
  for (let i = 0; i < w.icb; i++) {
    for (const key of pairs) {
      const [ro, co] = key.split(",").map(Number);
      const [ri, ci] = [rowIndex.get(ro), colIndex.get(co)];
      out.push(`    let v${i}_${ri}_${ci} = gather_x(xb${i}, xr${ri}, xc${ci});`);
    }
  }
  forEachBlock(w.ocb, w.icb, kk, (o, i, tap) => {
    const ky = Math.floor(tap / w.kernelW);
    const kx = tap % w.kernelW;
    const terms: string[] = [];
    for (let r = 0; r < w.rows; r++) {
      for (let q = 0; q < w.cols; q++) {
        const ri = rowIndex.get(rows[r][ky][0]);
        const ci = colIndex.get(cols[q][kx][0]);
        terms.push(`d${o}_${r}_${q} * v${i}_${ri}_${ci}`);
      }
    }
    out.push(`    a${o}_${i}_${tap} += ${terms.join(" + ")};`);
  });
  if (w.withBias) {
    for (let o = 0; o < w.ocb; o++) {
      const terms: string[] = [];
      for (let r = 0; r < w.rows; r++) {
        for (let q = 0; q < w.cols; q++) terms.push(`d${o}_${r}_${q}`);
      }
      out.push(`    b${o} += ${terms.join(" + ")};`);
    }
  }
  out.push("  }");
  forEachBlock(w.ocb, w.icb, kk, (o, i, tap) => {
    out.push(`  store_weight_partial(w, ${o}u, ${i}u, ${tap}u, a${o}_${i}_${tap});`);
  });
  if (w.withBias) {
    for (let o = 0; o < w.ocb; o++) out.push(`  store_bias_partial(w, ${o}u, b${o});`);
  }
  out.push("}");
  return out.join("\n");
}

/** The dy binding and its masked gather (four columns at once when vectorised). */
function dyDeclaration(vector: boolean): string[] {
  const type = vector ? "vec4f" : "f32";
  const index = vector ? "(base + row.index + col.index) / 4u" : "base + row.index + col.index";
  return [
    `@group(0) @binding(0) var<storage, read> dy: array<${type}>;`,
    "",
    `fn gather_dy(base: u32, row: Offset, col: Offset) -> ${type} {`,
    `  return select(${type}(0.0), dy[${index}], row.ok && col.ok);`,
    "}",
  ];
}

// ---------------------------------------------------------------------------------------------
// Launches

function directLaunch<B>(
  ctx: LaunchContext<B>,
  s: Conv2dShape,
  pass: "forward" | "data",
  bindings: readonly [B, B, B, B],
  flags: { bias: boolean; accumulate: boolean },
): Launch<B>[] {
  const d = chooseDirect(s, pass, ctx.deviceClass).structure;
  const g = directGeometry(s, pass);
  const { outH, outW } = conv2dOutputSize(s);
  const kk = s.kernelH * s.kernelW;
  const cin = s.inChannels / s.groups;
  const cout = s.outChannels / s.groups;
  const tileRows = d.rows * g.rowsPerBlockRow;
  const tileCols = d.cols * g.colsPerBlockCol;
  const rowBlocks = Math.ceil(g.outH / tileRows);
  const colBlocks = Math.ceil(g.outW / tileCols);
  const bpg = Math.ceil(g.outPerGroup / d.ocb);
  const wg = directWorkgroupSize(s, pass, d, ctx.deviceClass);
  const forward = pass === "forward";
  const constants: Record<string, number> = {
    WG: wg,
    N: s.batch,
    IN_C: forward ? s.inChannels : s.outChannels,
    OUT_C: forward ? s.outChannels : s.inChannels,
    IH: forward ? s.inH : outH,
    IW: forward ? s.inW : outW,
    OUT_H: g.outH,
    OUT_W: g.outW,
    CPG_LOOP: g.loopPerGroup,
    CPG_OUTCH: g.outPerGroup,
    BPG: bpg,
    BLOCKS: s.groups * bpg,
    OCB: d.ocb,
    OUT_ROWS: tileRows,
    OUT_COLS: tileCols,
    ROW_BLOCKS: rowBlocks,
    COL_BLOCKS: colBlocks,
    ROW_STEP: forward ? d.rows * s.strideH : d.rows,
    ROW_SHIFT: forward ? -s.padH : Math.floor(s.padH / s.strideH),
    COL_STEP: forward ? d.cols * s.strideW : d.cols,
    COL_SHIFT: forward ? -s.padW : Math.floor(s.padW / s.strideW),
    KHW: kk,
    OCP: bpg * d.ocb,
    HAS_BIAS: flags.bias ? 1 : 0,
    ACCUMULATE: flags.accumulate ? 1 : 0,
  };
  const name = directName(d);
  const tiles = s.batch * rowBlocks * colBlocks;
  const transposedCount = s.groups * g.loopPerGroup * kk * bpg * d.ocb;
  const transposed = ctx.scratch(transposedCount, "conv2d transposed weights");
  const [src, weights, bias, dst] = bindings;
  return [
    {
      kernel: {
        name: "conv2d_transpose_weights",
        source: auxSource,
        entryPoint: "transpose_weights",
        constants: {
          WG: AUX_WG,
          COUNT: transposedCount,
          CPG_LOOP: g.loopPerGroup,
          CPG_OUTCH: g.outPerGroup,
          KHW: kk,
          OCP: bpg * d.ocb,
          W_GROUP_STRIDE: cout * cin * kk,
          W_OUT_STRIDE: forward ? cin * kk : kk,
          W_C_STRIDE: forward ? kk : cin * kk,
        },
      },
      bindings: [weights, transposed],
      workgroups: grid1d(transposedCount, AUX_WG),
    },
    {
      kernel: {
        name,
        source: memoSource(name, () => `${directTemplate}\n${directMain(d)}\n`),
        constants,
      },
      bindings: [src, transposed, bias, dst],
      workgroups: grid(s.groups * bpg * Math.ceil(tiles / wg)),
    },
  ];
}

/** y (= or +=) conv(x, w) + bias. */
export function conv2dForward<B>(
  ctx: LaunchContext<B>,
  s: Conv2dShape,
  io: { x: B; w: B; bias?: B; y: B },
  o: { accumulate?: boolean } = {},
): Launch<B>[] {
  const bias = io.bias !== undefined;
  return directLaunch(ctx, s, "forward", [io.x, io.w, io.bias ?? io.w, io.y], {
    bias,
    accumulate: o.accumulate ?? false,
  });
}

/** dx (= or +=) ∂(Σ y·dy)/∂x: the transposed convolution of dy. */
export function conv2dBackwardData<B>(
  ctx: LaunchContext<B>,
  s: Conv2dShape,
  io: { dy: B; w: B; dx: B },
  o: { accumulate?: boolean } = {},
): Launch<B>[] {
  return directLaunch(ctx, s, "data", [io.dy, io.w, io.w, io.dx], {
    bias: false,
    accumulate: o.accumulate ?? false,
  });
}

/** dw (= or +=) ∂/∂w and, when given, dbias (= or +=) Σ dy over n, y, x. */
export function conv2dBackwardWeight<B>(
  ctx: LaunchContext<B>,
  s: Conv2dShape,
  io: { dy: B; x: B; dw: B; dbias?: B },
  o: { accumulate?: boolean } = {},
): Launch<B>[] {
  const withBias = io.dbias !== undefined;
  const w = chooseWeight(s, ctx.deviceClass, withBias).structure;
  const chunks = weightChunks(s, w, ctx.deviceClass);
  const { outH, outW } = conv2dOutputSize(s);
  const cin = s.inChannels / s.groups;
  const kk = s.kernelH * s.kernelW;
  const dwSize = s.outChannels * cin * kk;
  const invocations = weightInvocations(s, w, chunks);
  const wg = weightWorkgroupSize(invocations, ctx.deviceClass);
  const partial = ctx.scratch(
    chunks * (dwSize + (withBias ? s.outChannels : 0)),
    "conv2d dw partials",
  );
  const name = weightName(w);
  const constants: Record<string, number> = {
    WG: wg,
    N: s.batch,
    CIN: s.inChannels,
    COUT: s.outChannels,
    H: s.inH,
    W: s.inW,
    OH: outH,
    OW: outW,
    CPG_IN: cin,
    CPG_OUT: s.outChannels / s.groups,
    OCB: w.ocb,
    ICB: w.icb,
    CO_BLOCKS: Math.ceil(s.outChannels / s.groups / w.ocb),
    CI_BLOCKS: Math.ceil(cin / w.icb),
    ROWS_PER_UNIT: w.rows,
    COLS_PER_UNIT: w.cols,
    ROW_BLOCKS: Math.ceil(outH / w.rows),
    COL_BLOCKS: Math.ceil(outW / w.cols),
    CHUNKS: chunks,
    ROW_STEP: w.rows * s.strideH,
    COL_STEP: w.cols * s.strideW,
    PH: s.padH,
    PW: s.padW,
    KHW: kk,
    GROUPS: s.groups,
  };
  const accumulate = o.accumulate ?? false;
  const launches: Launch<B>[] = [
    {
      kernel: {
        name,
        source: memoSource(name, () => `${wgradTemplate}\n${weightMain(w)}\n`),
        constants,
      },
      bindings: [io.dy, io.x, partial],
      workgroups: grid(Math.ceil(invocations / wg)),
    },
    reduceLaunch(partial, io.dw, dwSize, chunks, 0, accumulate),
  ];
  if (io.dbias !== undefined) {
    launches.push(
      reduceLaunch(partial, io.dbias, s.outChannels, chunks, chunks * dwSize, accumulate),
    );
  }
  return launches;
}

const AUX_WG = 64;

function reduceLaunch<B>(
  partial: B,
  out: B,
  count: number,
  chunks: number,
  offset: number,
  accumulate: boolean,
): Launch<B> {
  return {
    kernel: {
      name: "conv2d_reduce",
      source: auxSource,
      entryPoint: "reduce_chunks",
      constants: {
        WG: AUX_WG,
        COUNT: count,
        CHUNKS: chunks,
        OFFSET: offset,
        ACCUMULATE: accumulate ? 1 : 0,
      },
    },
    bindings: [partial, out],
    workgroups: grid1d(count, AUX_WG),
  };
}
