/**
 * The blocking planner: a small cost model picks, per shape and device class, each pass's
 * register block, weight source and workgroup size (see mod.ts).
 */
import type { ConvBlocks, DeviceClass } from "../../gpu/kernel.ts";
import { KeyedCache } from "./cache.ts";
import { conv2dFlops, conv2dOutputSize, type Conv2dShape } from "./shape.ts";
import {
  type DirectGeometry,
  directGeometry,
  type DirectStructure,
  directStructure,
  directTaps,
  type WeightStructure,
  weightStructure,
  weightTaps,
  type WeightVector,
} from "./structure.ts";
import { type AxisTaps, columnSlot, sumOfProducts, usedPairs, usedTaps } from "./taps.ts";
import {
  layoutStrides,
  uniformWeightsFit,
  type WeightLayout,
  type WeightSource,
} from "./weights.ts";

export type Conv2dPass = "forward" | "data" | "weight";

/** Blocking of one pass, as chosen by `conv2dPlan` (exported for benchmarks and tests). */
export interface Conv2dPlan {
  pass: Conv2dPass;
  /** Output channels per invocation (forward, weight), input channels (data). */
  ocb: number;
  /** Input channels per invocation (weight; 1 for forward and data). */
  icb: number;
  /** Reduced channels per loop iteration (forward, data; 1 for weight). */
  kb: number;
  /**
   * Rows × columns of the block: output positions (forward), dy positions (weight) or
   * dy-sized steps of dx (data: the block covers rows·strideH × cols·strideW of dx).
   */
  rows: number;
  cols: number;
  workgroupSize: number;
  /** Split-K chunks of the weight gradient (1 otherwise). */
  chunks: number;
  /**
   * Forward and data: weights read in place ("direct") or from a transposed copy ("scratch",
   * one more launch); how they are loaded: vec4 along dst or reduced channels, or f32.
   */
  weights: WeightSource;
  weightVector: WeightVector;
  /** Launches of this pass. */
  launches: number;
  /** Unrolled FMAs per loop iteration (code size) and gathers per iteration. */
  fmas: number;
  loads: number;
}

/** A register blocking given instead of the cost model's (the tuner, tests): see `Conv2dPlan`. */
export interface Conv2dBlock {
  ocb: number;
  /** Weight gradient only (default 1). */
  icb?: number;
  /** Forward and data only (default 1). */
  kb?: number;
  rows: number;
  cols: number;
  /** Forward and data only: where the weights are read from (default "direct"). */
  source?: WeightSource;
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
  /**
   * Reduced channels per iteration of the direct kernel (only divisors of the loop count, and
   * only 1 but for 1×1 kernels).
   */
  loopBlocks: readonly number[];
  /** Invocations the weight gradient aims for (split-K). */
  weightInvocations: number;
  /** Fixed cost of one more launch, in FMAs (see `totalCost`). */
  launchCost: number;
}

/** Cost of a vec4 gather in f32 gathers (measured on lavapipe: ≈ 2.1). */
const VEC4_LOADS = 2.1;
/**
 * Cost of a uniform-buffer load at a lane-invariant index, vec4 and f32, in f32 gathers
 * (measured on lavapipe: a vec4 ≈ 0.9; an f32 assumed half of that).
 */
const UNIFORM_VEC4_LOADS = 0.9;
const UNIFORM_F32_LOADS = 0.45;

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
    loopBlocks: [1, 2, 4],
    weightInvocations: 128,
    // ≈ 20 µs of lavapipe dispatch overhead at ≈ 50 G cost units per second (2 cores).
    launchCost: 1e6,
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
    loopBlocks: [1, 2, 4],
    weightInvocations: 32768,
    launchCost: 1e6,
  },
};

/**
 * Caps of the "compact" blocks: on lavapipe a one-conv NB-201 arch compiled in 9 s against 56 s
 * under the "cpu" caps, its warm iterations ≈ 1.3× slower (README, "Shader compilation").
 */
const COMPACT_MAX_FMAS = 300;
const COMPACT_MAX_ACCUMULATORS = 48;

function tuning(device: DeviceClass, blocks: ConvBlocks): ClassTuning {
  const t = TUNING[device];
  if (blocks === "large") return t;
  return {
    ...t,
    maxFmas: Math.min(t.maxFmas, COMPACT_MAX_FMAS),
    maxAccumulators: Math.min(t.maxAccumulators, COMPACT_MAX_ACCUMULATORS),
  };
}

/** Fraction of `count` covered usefully by blocks of `block`. */
function utilisation(count: number, block: number): number {
  return count / (Math.ceil(count / block) * block);
}

function powerOfTwoAtLeast(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, n)));
}

/**
 * Distinct gathers of one channel: (row, column) pairs, or (row, vec4 group) pairs when its
 * columns are read as vec4 groups of alignment `colAlign` (−1: f32 gathers).
 */
function channelGathers(colAlign: number, rows: AxisTaps, cols: AxisTaps): Set<string> {
  if (colAlign < 0) return usedPairs(rows, cols);
  const gathers = new Set<string>();
  for (const key of usedPairs(rows, cols)) {
    const [ro, co] = key.split(",").map(Number);
    gathers.add(`${ro},${columnSlot(colAlign, co).group}`);
  }
  return gathers;
}

export interface Candidate<T> {
  structure: T;
  cost: number;
  fmas: number;
  loads: number;
}

/** A direct plan: the blocking and where the kernel reads the weights from. */
export interface DirectChoice extends Candidate<DirectStructure> {
  source: WeightSource;
}

/** Plans are pure functions of their key; the graph may ask for the same one many times. */
const directPlanCache = new KeyedCache<DirectChoice>();
const weightPlanCache = new KeyedCache<Candidate<WeightStructure>>();

/**
 * The best blocking of a direct pass, reading the weights in place or from a transposed copy
 * (one more launch, `launchCost`), whichever `totalCost` finds cheaper, or from `forced`; or
 * `block` where given (bench/tune_conv.ts), which throws where it cannot run on this shape.
 */
export function chooseDirect(
  s: Conv2dShape,
  pass: "forward" | "data",
  device: DeviceClass,
  layout: WeightLayout,
  forced: WeightSource | undefined,
  blocks: ConvBlocks = "large",
  block?: Conv2dBlock,
): DirectChoice {
  const key = `${pass} ${device} ${blocks} ${layout} ${forced} ${JSON.stringify(s)} ` +
    JSON.stringify(block ?? null);
  return directPlanCache.get(key, () => {
    if (block) {
      const choice = givenDirect(s, pass, device, layout, blocks, block);
      if (!choice) throw new RangeError(`conv2d: blocking ${JSON.stringify(block)} does not fit`);
      return choice;
    }
    const best = directCandidates(s, pass, device, layout, forced, blocks)[0];
    if (!best) throw new Error("conv2d: no blocking fits (internal)");
    return best;
  });
}

/** Every direct blocking within the caps, cheapest first by the model's total cost. */
export function directCandidates(
  s: Conv2dShape,
  pass: "forward" | "data",
  device: DeviceClass,
  layout: WeightLayout,
  forced: WeightSource | undefined,
  blocks: ConvBlocks = "large",
): DirectChoice[] {
  const tune = tuning(device, blocks);
  const g = directGeometry(s, pass);
  if (forced === "uniform" && !uniformWeightsFit(s)) {
    throw new Error("conv2d: weights too large for a uniform binding (internal)");
  }
  const sources: readonly WeightSource[] = forced
    ? [forced]
    : device === "cpu" && uniformWeightsFit(s)
    ? ["direct", "scratch", "uniform"]
    : ["direct", "scratch"];
  const out: { choice: DirectChoice; total: number }[] = [];
  for (const source of sources) {
    for (const ocb of tune.channelBlocks) {
      if (ocb > powerOfTwoAtLeast(g.outPerGroup)) continue;
      for (const kb of tune.loopBlocks) {
        if (!loopBlockFits(s, g, kb)) continue;
        for (const rows of tune.rowBlocks) {
          if (rows > powerOfTwoAtLeast(Math.ceil(g.outH / g.rowsPerBlockRow))) continue;
          for (const cols of tune.colBlocks) {
            if (cols > powerOfTwoAtLeast(Math.ceil(g.outW / g.colsPerBlockCol))) continue;
            const structure = directFor(s, pass, layout, { ocb, kb, rows, cols, source });
            const candidate = scoreDirect(s, g, structure, tune, true);
            if (!candidate) continue;
            const total = totalCost(s, candidate.cost, source === "scratch" ? 1 : 0, tune);
            out.push({ choice: { ...candidate, source }, total });
          }
        }
      }
    }
  }
  // A stable sort keeps the enumeration order among equal costs (the model's former tie-break).
  return out.sort((a, b) => a.total - b.total).map((c) => c.choice);
}

/**
 * kb > 1 only for 1×1 kernels: there it costs nothing and lets weights with the reduced
 * channels innermost be read in place as vec4s; 3×3 blocks with kb > 1 ran at half speed on
 * lavapipe, whatever their size.
 */
function loopBlockFits(s: Conv2dShape, g: DirectGeometry, kb: number): boolean {
  return g.loopPerGroup % kb === 0 && (kb === 1 || s.kernelH * s.kernelW === 1);
}

function directFor(
  s: Conv2dShape,
  pass: "forward" | "data",
  layout: WeightLayout,
  b: Required<Omit<Conv2dBlock, "icb">>,
): DirectStructure {
  const vector = weightVectorFor(s, pass, layout, b.source, b.ocb, b.kb);
  const uniformVec4s = s.outChannels * (s.inChannels / s.groups) * s.kernelH * s.kernelW / 4;
  return directStructure(
    s,
    pass,
    b.ocb,
    b.rows,
    b.cols,
    b.kb,
    vector,
    b.source === "uniform" ? uniformVec4s : 0,
  );
}

/** The direct plan of a given blocking, or undefined where it cannot run on this shape. */
function givenDirect(
  s: Conv2dShape,
  pass: "forward" | "data",
  device: DeviceClass,
  layout: WeightLayout,
  blocks: ConvBlocks,
  b: Conv2dBlock,
): DirectChoice | undefined {
  const g = directGeometry(s, pass);
  const source = b.source ?? "direct";
  const kb = b.kb ?? 1;
  if (!loopBlockFits(s, g, kb) || (source === "uniform" && !uniformWeightsFit(s))) return undefined;
  const structure = directFor(s, pass, layout, { ...b, kb, source });
  const candidate = scoreDirect(s, g, structure, tuning(device, blocks), false);
  return candidate && { ...candidate, source };
}

/** Cost of a pass in FMAs: its MACs at `cost` per useful FMA plus its extra launches. */
function totalCost(s: Conv2dShape, cost: number, extraLaunches: number, tune: ClassTuning) {
  return (conv2dFlops(s) / 2) * cost + extraLaunches * tune.launchCost;
}

/** How a direct block of `ocb` dst channels × `kb` loop channels can load its weights. */
function weightVectorFor(
  s: Conv2dShape,
  pass: "forward" | "data",
  layout: WeightLayout,
  source: WeightSource,
  ocb: number,
  kb: number,
): WeightVector {
  // The transposed copy: [groups][CPG_LOOP][kh·kw][OCP], OCP a multiple of ocb.
  if (source === "scratch") return ocb % 4 === 0 ? "dst" : "none";
  const g = directGeometry(s, pass);
  const st = layoutStrides(s, pass, layout);
  // A stride only matters (must keep vec4 alignment) along an axis with more than one index.
  const aligned = (stride: number, extent: number) => extent <= 1 || stride % 4 === 0;
  const common = aligned(st.group, s.groups) && aligned(st.tap, s.kernelH * s.kernelW);
  if (
    st.channel === 1 && ocb % 4 === 0 && g.outPerGroup % 4 === 0 && common &&
    aligned(st.loop, g.loopPerGroup)
  ) {
    return "dst";
  }
  if (st.loop === 1 && kb % 4 === 0 && common && aligned(st.channel, g.outPerGroup)) {
    return "loop";
  }
  return "none";
}

function weightLoadCount(d: DirectStructure, taps: number): number {
  const vec4 = d.uniformVec4s > 0 ? UNIFORM_VEC4_LOADS : VEC4_LOADS;
  switch (d.weightVector) {
    case "dst":
      return d.kb * taps * (d.ocb / 4) * vec4;
    case "loop":
      return (d.kb / 4) * taps * d.ocb * vec4;
    case "none":
      return d.kb * taps * d.ocb * (d.uniformVec4s > 0 ? UNIFORM_F32_LOADS : 1);
  }
}

function scoreDirect(
  s: Conv2dShape,
  g: DirectGeometry,
  d: DirectStructure,
  tune: ClassTuning,
  capped: boolean,
): Candidate<DirectStructure> | undefined {
  const taps = directTaps(d);
  const tileRows = d.rows * g.rowsPerBlockRow;
  const tileCols = d.cols * g.colsPerBlockCol;
  const accumulators = d.ocb * tileRows * tileCols;
  const fmas = d.kb * d.ocb * sumOfProducts(taps.rows, taps.cols);
  const smallest = d.ocb === 1 && d.rows === 1 && d.cols === 1 && d.kb === 1;
  if (capped && !smallest && (fmas > tune.maxFmas || accumulators > tune.maxAccumulators)) {
    return undefined;
  }
  const srcLoads = d.kb * channelGathers(d.colAlign, taps.rows, taps.cols).size *
    (d.colAlign < 0 ? 1 : VEC4_LOADS);
  const loads = weightLoadCount(d, usedTaps(taps.rows, taps.cols, d.kernelW).length) + srcLoads;
  const useful = utilisation(g.outPerGroup, d.ocb) * utilisation(g.outH, tileRows) *
    utilisation(g.outW, tileCols);
  const invocations = s.groups * Math.ceil(g.outPerGroup / d.ocb) * s.batch *
    Math.ceil(g.outH / tileRows) * Math.ceil(g.outW / tileCols);
  const idle = Math.max(1, tune.minInvocations / invocations);
  // Stores (and, with `accumulate`, loads) of the outputs, spread over the loop iterations.
  const iterations = g.loopPerGroup / d.kb;
  const stores = d.vectorStore ? (accumulators / 4) * VEC4_LOADS : accumulators;
  // Zero-FMA blocks (a stride phase no tap reaches) still pay their stores.
  const work = Math.max(fmas, 1) * useful;
  const perIteration = tune.loadCost * loads + fmas + tune.accumulatorCost * accumulators +
    tune.loadCost * stores / iterations;
  const cost = perIteration / work * idle;
  return { structure: d, cost, fmas, loads };
}
export function chooseWeight(
  s: Conv2dShape,
  device: DeviceClass,
  withBias: boolean,
  blocks: ConvBlocks = "large",
  block?: Conv2dBlock,
): Candidate<WeightStructure> {
  const key = `weight ${device} ${blocks} ${withBias} ${JSON.stringify(s)} ` +
    JSON.stringify(block ?? null);
  return weightPlanCache.get(key, () => {
    if (block) {
      const w = weightStructure(s, block.ocb, block.icb ?? 1, block.rows, block.cols, withBias);
      const given = scoreWeight(s, w, tuning(device, blocks), false);
      if (!given) throw new Error("conv2d: uncapped weight blocking scored none (internal)");
      return given;
    }
    const best = weightCandidates(s, device, withBias, blocks)[0];
    if (!best) throw new Error("conv2d: no weight-gradient blocking fits (internal)");
    return best;
  });
}

/** Every weight-gradient blocking within the caps, cheapest first by the model. */
export function weightCandidates(
  s: Conv2dShape,
  device: DeviceClass,
  withBias: boolean,
  blocks: ConvBlocks = "large",
): Candidate<WeightStructure>[] {
  const tune = tuning(device, blocks);
  const { outH, outW } = conv2dOutputSize(s);
  const out: Candidate<WeightStructure>[] = [];
  for (const ocb of tune.channelBlocks) {
    if (ocb > powerOfTwoAtLeast(s.outChannels / s.groups)) continue;
    for (const icb of WEIGHT_INPUT_BLOCKS) {
      if (icb > powerOfTwoAtLeast(s.inChannels / s.groups)) continue;
      for (const rows of WEIGHT_ROW_BLOCKS) {
        if (rows > powerOfTwoAtLeast(outH)) continue;
        for (const cols of WEIGHT_COL_BLOCKS) {
          if (cols > powerOfTwoAtLeast(outW)) continue;
          const w = weightStructure(s, ocb, icb, rows, cols, withBias);
          const candidate = scoreWeight(s, w, tune, true);
          if (candidate) out.push(candidate);
        }
      }
    }
  }
  return out.sort((a, b) => a.cost - b.cost);
}

const WEIGHT_INPUT_BLOCKS = [1, 2, 4, 8, 16];
const WEIGHT_ROW_BLOCKS = [1, 2, 4];
const WEIGHT_COL_BLOCKS = [1, 2, 4, 8];

function scoreWeight(
  s: Conv2dShape,
  w: WeightStructure,
  tune: ClassTuning,
  capped: boolean,
): Candidate<WeightStructure> | undefined {
  const { outH, outW } = conv2dOutputSize(s);
  const taps = weightTaps(w);
  const fmas = w.ocb * w.icb * s.kernelH * s.kernelW * w.rows * w.cols;
  const accumulators = w.ocb * w.icb * s.kernelH * s.kernelW + (w.withBias ? w.ocb : 0);
  const smallest = w.ocb === 1 && w.icb === 1 && w.rows === 1 && w.cols === 1;
  if (capped && !smallest && (fmas > tune.maxFmas || accumulators > tune.maxAccumulators)) {
    return undefined;
  }
  const dyLoads = w.ocb * w.rows * (w.vectorDy ? (w.cols / 4) * VEC4_LOADS : w.cols);
  const xLoads = channelGathers(w.xAlign, taps.rows, taps.cols).size *
    (w.xAlign < 0 ? 1 : VEC4_LOADS);
  const loads = dyLoads + w.icb * xLoads;
  const useful = utilisation(s.outChannels / s.groups, w.ocb) *
    utilisation(s.inChannels / s.groups, w.icb) * utilisation(outH, w.rows) *
    utilisation(outW, w.cols);
  const cost = (tune.loadCost * loads + fmas + tune.accumulatorCost * accumulators) /
    (fmas * useful);
  return { structure: w, cost, fmas, loads };
}

/** Split-K: chunks of the N·outH·outW reduction (chunk c takes every CHUNKS-th unit). */
export function weightChunks(s: Conv2dShape, w: WeightStructure, device: DeviceClass): number {
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

export function directWorkgroupSize(
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

export function weightWorkgroupSize(invocations: number, device: DeviceClass): number {
  return device === "gpu" ? 64 : cpuWorkgroupSize(invocations);
}

/**
 * The blocking each pass would use for this shape on this device class, with these options
 * (`weightLayout`, `weightSource` as in `Conv2dOptions`; `bias`: the weight gradient also
 * computes dbias; `blocks` as `LaunchContext.convBlocks`).
 */
export function conv2dPlan(
  s: Conv2dShape,
  pass: Conv2dPass,
  device: DeviceClass,
  o: {
    weightLayout?: WeightLayout;
    weightSource?: WeightSource;
    bias?: boolean;
    blocks?: ConvBlocks;
    block?: Conv2dBlock;
  } = {},
): Conv2dPlan {
  if (pass === "weight") {
    const best = chooseWeight(s, device, o.bias ?? false, o.blocks, o.block);
    const w = best.structure;
    const chunks = weightChunks(s, w, device);
    const invocations = weightInvocations(s, w, chunks);
    return {
      pass,
      ocb: w.ocb,
      icb: w.icb,
      kb: 1,
      rows: w.rows,
      cols: w.cols,
      workgroupSize: weightWorkgroupSize(invocations, device),
      chunks,
      weights: "direct",
      weightVector: "none",
      launches: chunks > 1 ? 2 : 1,
      fmas: best.fmas,
      loads: best.loads,
    };
  }
  const best = chooseDirect(
    s,
    pass,
    device,
    o.weightLayout ?? "oihw",
    o.weightSource,
    o.blocks,
    o.block,
  );
  const d = best.structure;
  return {
    pass,
    ocb: d.ocb,
    icb: 1,
    kb: d.kb,
    rows: d.rows,
    cols: d.cols,
    workgroupSize: directWorkgroupSize(s, pass, d, device),
    chunks: 1,
    weights: best.source,
    weightVector: d.weightVector,
    launches: best.source === "scratch" ? 2 : 1,
    fmas: best.fmas,
    loads: best.loads,
  };
}

export function weightInvocations(s: Conv2dShape, w: WeightStructure, chunks: number): number {
  return s.groups * Math.ceil(s.outChannels / s.groups / w.ocb) *
    Math.ceil(s.inChannels / s.groups / w.icb) * chunks;
}
