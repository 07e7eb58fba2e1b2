/**
 * nn.Linear with PyTorch's layout: x [N][in], w [out][in], bias [out], y [N][out]. Forward and
 * both gradients are one strided matrix-product kernel (shaders/linear.wgsl) with 8×4 register
 * blocks per invocation; only the strides differ. Under the "cpu" tilings, shapes that fit take
 * the blocked form of src/kernels/linear_blocked.ts instead.
 */
import template from "../../shaders/linear.wgsl" with { type: "text" };
import columnSumTemplate from "../../shaders/column_sum.wgsl" with { type: "text" };
import { declareBindings, type DeclaredBindings } from "../gpu/bindings.ts";
import { type DeviceClass, grid, type Launch, type LaunchContext } from "../gpu/kernel.ts";
import { preprocess } from "../gpu/wgsl.ts";
import { checkPositiveIntegers } from "./common.ts";
import {
  blockedGemm,
  blockedGemmSum,
  blockedMode,
  blockedSumMode,
  gemmConstants,
  type GemmEntry,
  type GemmShape,
  MAX_TERMS,
} from "./linear_blocked.ts";

const source = preprocess(template);

/** Bindings of gemm and gemm_bias (C + bias[n]), and of gemm_row_sum (row_sum[m] = Σ_k A). */
const WITH_BIAS = declareBindings({ a: "read", b: "read", c: "read_write", bias: "read?" });
const WITH_ROW_SUM = declareBindings({
  a: "read",
  b: "read",
  c: "read_write",
  rowSum: "read_write?",
});

export interface LinearShape {
  batch: number;
  inFeatures: number;
  outFeatures: number;
}

export interface AccumulateOption {
  /** Add into the destination(s) instead of overwriting them. */
  accumulate?: boolean;
}

/** Rows and columns of C per invocation: TM and TN in shaders/linear.wgsl. */
const BLOCK_ROWS = 8;
const BLOCK_COLS = 4;

/**
 * Invocations per workgroup, all sharing one row block. On lavapipe 16 (two 8-wide SIMD batches)
 * ran 128×600×600 in 16 ms against 24 ms with 64 (and 23–26 ms for a flat 4×4 tiling without
 * shared rows); GPUs want at least a full warp.
 */
function workgroupSize(deviceClass: DeviceClass): number {
  return deviceClass === "cpu" ? 16 : 64;
}

function gemm<B>(
  ctx: LaunchContext<B>,
  name: string,
  entryPoint: GemmEntry,
  g: GemmShape,
  layout: DeclaredBindings,
  bindings: readonly (B | undefined)[],
  accumulate: boolean | undefined,
): Launch<B> {
  if (ctx.deviceClass === "cpu" && blockedMode(g, entryPoint)) {
    const [a, b, c, extra] = bindings;
    return blockedGemm(name, entryPoint, g, { a: a!, b: b!, c: c!, extra }, accumulate);
  }
  const wg = workgroupSize(ctx.deviceClass);
  const groupsPerRowBlock = Math.ceil(Math.ceil(g.n / BLOCK_COLS) / wg);
  return {
    kernel: {
      name,
      source,
      entryPoint,
      constants: gemmConstants(g, wg, accumulate),
      layout,
    },
    bindings,
    workgroups: grid(Math.ceil(g.m / BLOCK_ROWS) * groupsPerRowBlock),
  };
}

function checkShape(s: LinearShape): void {
  checkPositiveIntegers("linear", { ...s });
}

/** y (= or +=) x·wᵀ (+ bias). */
export function linearForward<B>(
  ctx: LaunchContext<B>,
  s: LinearShape,
  io: { x: B; w: B; bias?: B; y: B },
  o: AccumulateOption = {},
): Launch<B>[] {
  checkShape(s);
  const shape = {
    m: s.batch,
    n: s.outFeatures,
    k: s.inFeatures,
    aSm: s.inFeatures,
    aSk: 1,
    bSk: 1,
    bSn: s.inFeatures,
  };
  const bindings = WITH_BIAS.bind({ a: io.x, b: io.w, c: io.y, bias: io.bias });
  const entry = io.bias === undefined ? "gemm" : "gemm_bias";
  return [gemm(ctx, `linear_fwd_${entry}`, entry, shape, WITH_BIAS, bindings, o.accumulate)];
}

/** dx (= or +=) dy·w. */
export function linearBackwardData<B>(
  ctx: LaunchContext<B>,
  s: LinearShape,
  io: { dy: B; w: B; dx: B },
  o: AccumulateOption = {},
): Launch<B>[] {
  checkShape(s);
  const shape = {
    m: s.batch,
    n: s.inFeatures,
    k: s.outFeatures,
    aSm: s.outFeatures,
    aSk: 1,
    bSk: s.inFeatures,
    bSn: 1,
  };
  const bindings = WITH_BIAS.bind({ a: io.dy, b: io.w, c: io.dx });
  return [gemm(ctx, "linear_bwd_data", "gemm", shape, WITH_BIAS, bindings, o.accumulate)];
}

/** dw (= or +=) dyᵀ·x and dbias (= or +=) Σ_batch dy. */
export function linearBackwardWeight<B>(
  ctx: LaunchContext<B>,
  s: LinearShape,
  io: { dy: B; x: B; dw: B; dbias?: B },
  o: AccumulateOption = {},
): Launch<B>[] {
  checkShape(s);
  const shape = {
    m: s.outFeatures,
    n: s.inFeatures,
    k: s.batch,
    aSm: 1,
    aSk: s.outFeatures,
    bSk: s.inFeatures,
    bSn: 1,
  };
  const bindings = WITH_ROW_SUM.bind({ a: io.dy, b: io.x, c: io.dw, rowSum: io.dbias });
  const entry = io.dbias === undefined ? "gemm" : "gemm_row_sum";
  const name = `linear_bwd_weight_${entry}`;
  return [gemm(ctx, name, entry, shape, WITH_ROW_SUM, bindings, o.accumulate)];
}

/** One product of a sum: its input (x, or dy for the data gradient) and weight. */
export interface LinearTerm<B> {
  x: B;
  w: B;
  /** inFeatures (forward) or outFeatures (data gradient) of this term. */
  features: number;
}

/** Consecutive groups of at most `size`. */
function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * C (= or +=) Σ_t of the products, the bias (if any) added once: one blocked launch per MAX_TERMS
 * products where the blocked kernel takes them all, else `single` launches one product.
 */
function sumOfProducts<B>(
  ctx: LaunchContext<B>,
  name: string,
  shapes: readonly GemmShape[],
  terms: readonly LinearTerm<B>[],
  io: { c: B; bias?: B },
  accumulate: boolean | undefined,
  single: (t: LinearTerm<B>, bias: B | undefined, accumulate: boolean | undefined) => Launch<B>[],
): Launch<B>[] {
  const launches: Launch<B>[] = [];
  for (const group of chunks(range(terms.length), MAX_TERMS)) {
    const first = launches.length === 0;
    const acc = first ? accumulate : true;
    const bias = first ? io.bias : undefined;
    const entry = bias === undefined ? "gemm" : "gemm_bias";
    const g = group.map((i) => shapes[i]);
    if (ctx.deviceClass === "cpu" && group.length > 1 && blockedSumMode(g, entry)) {
      const a = group.map((i) => terms[i].x);
      const b = group.map((i) => terms[i].w);
      launches.push(
        blockedGemmSum(`${name}_${entry}`, entry, g, { a, b, c: io.c, extra: bias }, acc),
      );
      continue;
    }
    group.forEach((i, j) => {
      launches.push(...single(terms[i], j === 0 ? bias : undefined, j === 0 ? acc : true));
    });
  }
  return launches;
}

/** y (= or +=) Σ_t x_t·w_tᵀ (+ bias): the products of one recurrent-cell node. */
export function linearForwardSum<B>(
  ctx: LaunchContext<B>,
  s: { batch: number; outFeatures: number },
  terms: readonly LinearTerm<B>[],
  io: { bias?: B; y: B },
  o: AccumulateOption = {},
): Launch<B>[] {
  const shapes = terms.map((t): GemmShape => ({
    m: s.batch,
    n: s.outFeatures,
    k: t.features,
    aSm: t.features,
    aSk: 1,
    bSk: 1,
    bSn: t.features,
  }));
  return sumOfProducts(
    ctx,
    "linear_fwd",
    shapes,
    terms,
    { c: io.y, bias: io.bias },
    o.accumulate,
    (t, bias, accumulate) =>
      linearForward(
        ctx,
        { batch: s.batch, inFeatures: t.features, outFeatures: s.outFeatures },
        { x: t.x, w: t.w, y: io.y, bias },
        { accumulate },
      ),
  );
}

/** dx (= or +=) Σ_t dy_t·w_t: the data gradient of an input several products read. */
export function linearBackwardDataSum<B>(
  ctx: LaunchContext<B>,
  s: { batch: number; inFeatures: number },
  terms: readonly LinearTerm<B>[],
  io: { dx: B },
  o: AccumulateOption = {},
): Launch<B>[] {
  const shapes = terms.map((t): GemmShape => ({
    m: s.batch,
    n: s.inFeatures,
    k: t.features,
    aSm: t.features,
    aSk: 1,
    bSk: s.inFeatures,
    bSn: 1,
  }));
  return sumOfProducts(
    ctx,
    "linear_bwd_data",
    shapes,
    terms,
    { c: io.dx },
    o.accumulate,
    (t, _bias, accumulate) =>
      linearBackwardData(
        ctx,
        { batch: s.batch, inFeatures: s.inFeatures, outFeatures: t.features },
        { dy: t.x, w: t.w, dx: io.dx },
        { accumulate },
      ),
  );
}

const COLUMN_SUM = declareBindings({ x: "read", out: "read_write" });
const columnSumSource = preprocess(columnSumTemplate);

/** dbias (= or +=) Σ_batch dy, for a bias whose weight takes no gradient. */
export function linearBackwardBias<B>(
  s: { batch: number; outFeatures: number },
  io: { dy: B; dbias: B },
  o: AccumulateOption = {},
): Launch<B> {
  checkPositiveIntegers("linear bias", { ...s });
  return {
    kernel: {
      name: "linear_bwd_bias",
      source: columnSumSource,
      entryPoint: "main",
      constants: { WG: 64, R: s.batch, N: s.outFeatures, ACCUMULATE: o.accumulate ? 1 : 0 },
      layout: COLUMN_SUM,
    },
    bindings: COLUMN_SUM.bind({ x: io.dy, out: io.dbias }),
    workgroups: grid(Math.ceil(s.outFeatures / 64)),
  };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
