/**
 * The launches of the three passes: plan, kernel, override constants, bindings and grid, plus
 * the small conv2d_aux.wgsl launches (weight transpose, split-K reduction).
 */
import auxTemplate from "../../../shaders/conv2d_aux.wgsl" with { type: "text" };
import { declareBindings } from "../../gpu/bindings.ts";
import { grid, grid1d, type Launch, type LaunchContext } from "../../gpu/kernel.ts";
import { preprocess, widthDefines } from "../../gpu/wgsl.ts";
import {
  chooseDirect,
  chooseWeight,
  type Conv2dBlock,
  directWorkgroupSize,
  weightChunks,
  weightInvocations,
  weightWorkgroupSize,
} from "./plan.ts";
import { conv2dOutputSize, type Conv2dShape } from "./shape.ts";
import { directGeometry } from "./structure.ts";
import {
  gradientStrides,
  layoutStrides,
  type WeightLayout,
  type WeightSource,
  type WeightStrides,
} from "./weights.ts";
import { directKernel, weightKernel } from "./wgsl.ts";

/** Options of the three passes. */
export interface Conv2dOptions {
  /** Add to y, dx or dw (and dbias) instead of overwriting them. */
  accumulate?: boolean;
  /** Layout of w and of dw (default "oihw"). */
  weightLayout?: WeightLayout;
  /**
   * The convolution's input is max(x, 0): forward and weight gradient read x through a ReLU,
   * and the data gradient (which then needs `io.x`) is masked by x > 0.
   */
  reluInput?: boolean;
  /**
   * For tests and benchmarks: the forward and data passes read the weights in place ("direct")
   * or from a transposed copy ("scratch") whatever the cost model says (default: its choice).
   */
  weightSource?: WeightSource;
  /** For the tuner and tests: this register blocking instead of the planner's. */
  block?: Conv2dBlock;
}

interface DirectFlags {
  bias: boolean;
  /** Data gradient with a fused input ReLU: aux is x, dx is masked by x > 0. */
  mask: boolean;
  /** Forward with `reluInput`: src is read through a ReLU. */
  relu: boolean;
}

/** aux is the bias (forward) or the forward's input (data gradient through a fused ReLU). */
const DIRECT = declareBindings({ src: "read", weights: "read", aux: "read?", dst: "read_write" });
/**
 * Uniform weights: one layout per weight size (minBindingSize). Pipelines of different sizes
 * sharing one layout let wgpu check a bound group against the previous pipeline's size when the
 * pipeline changes (seen on lavapipe: "bound with size 512 where the shader expects 9216").
 */
const directUniform = (() => {
  const layouts = new Map<number, ReturnType<typeof declareUniform>>();
  const declareUniform = (bytes: number) =>
    declareBindings({ src: "read", weights: "uniform", aux: "read?", dst: "read_write" }, {
      minBytes: { weights: bytes },
    });
  return (bytes: number) => {
    let layout = layouts.get(bytes);
    if (!layout) layouts.set(bytes, layout = declareUniform(bytes));
    return layout;
  };
})();

function directLaunch<B>(
  ctx: LaunchContext<B>,
  s: Conv2dShape,
  pass: "forward" | "data",
  bindings: { src: B; weights: B; aux?: B; dst: B },
  flags: DirectFlags,
  o: Conv2dOptions,
): Launch<B>[] {
  const weightLayout = o.weightLayout ?? "oihw";
  const choice = chooseDirect(
    s,
    pass,
    ctx.deviceClass,
    weightLayout,
    o.weightSource,
    ctx.convBlocks,
    o.block,
  );
  const d = { ...choice.structure, vectorMask: flags.mask && choice.structure.vectorStore };
  const g = directGeometry(s, pass);
  const { outH, outW } = conv2dOutputSize(s);
  const kk = s.kernelH * s.kernelW;
  const tileRows = d.rows * g.rowsPerBlockRow;
  const tileCols = d.cols * g.colsPerBlockCol;
  const rowBlocks = Math.ceil(g.outH / tileRows);
  const colBlocks = Math.ceil(g.outW / tileCols);
  const bpg = Math.ceil(g.outPerGroup / d.ocb);
  const ocp = bpg * d.ocb;
  const wg = directWorkgroupSize(s, pass, d, ctx.deviceClass);
  const forward = pass === "forward";
  const layout = layoutStrides(s, pass, weightLayout);
  const scratch = choice.source === "scratch";
  const strides: WeightStrides = scratch
    ? { group: g.loopPerGroup * kk * ocp, loop: kk * ocp, tap: ocp, channel: 1 }
    : layout;
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
    W_GROUP: strides.group,
    W_LOOP: strides.loop,
    W_TAP: strides.tap,
    W_CH: strides.channel,
    W_CH_LAST: (scratch ? ocp : g.outPerGroup) - 1,
    HAS_BIAS: flags.bias ? 1 : 0,
    MASK_DST: flags.mask ? 1 : 0,
    RELU_SRC: flags.relu ? 1 : 0,
    ACCUMULATE: o.accumulate ? 1 : 0,
  };
  const tiles = s.batch * rowBlocks * colBlocks;
  const launches: Launch<B>[] = [];
  let weights = bindings.weights;
  if (scratch) {
    const count = s.groups * g.loopPerGroup * kk * ocp;
    weights = ctx.scratch(count, "conv2d transposed weights");
    launches.push({
      kernel: {
        name: "conv2d_transpose_weights",
        source: preprocess(auxTemplate, widthDefines(1)),
        entryPoint: "transpose_weights",
        constants: {
          WG: AUX_WG,
          COUNT: count,
          CPG_LOOP: g.loopPerGroup,
          CPG_OUTCH: g.outPerGroup,
          KHW: kk,
          OCP: ocp,
          W_GROUP_STRIDE: layout.group,
          W_OUT_STRIDE: layout.channel,
          W_C_STRIDE: layout.loop,
          W_TAP_STRIDE: layout.tap,
        },
      },
      bindings: [bindings.weights, weights],
      workgroups: grid1d(count, AUX_WG),
    });
  }
  const layoutDecl = choice.source === "uniform"
    ? directUniform(choice.structure.uniformVec4s * 16)
    : DIRECT;
  launches.push({
    kernel: { ...directKernel(d), constants, layout: layoutDecl },
    bindings: layoutDecl.bind({ ...bindings, weights }),
    workgroups: grid(s.groups * bpg * Math.ceil(tiles / wg)),
  });
  return launches;
}

/** y (= or +=) conv(x, w) + bias, or conv(max(x, 0), w) + bias with `reluInput`. */
export function conv2dForward<B>(
  ctx: LaunchContext<B>,
  s: Conv2dShape,
  io: { x: B; w: B; bias?: B; y: B },
  o: Conv2dOptions = {},
): Launch<B>[] {
  return directLaunch(ctx, s, "forward", {
    src: io.x,
    weights: io.w,
    aux: io.bias,
    dst: io.y,
  }, {
    bias: io.bias !== undefined,
    mask: false,
    relu: o.reluInput ?? false,
  }, o);
}

/**
 * dx (= or +=) ∂(Σ y·dy)/∂x: the transposed convolution of dy; with `reluInput`, times [x > 0]
 * (the gradient through the fused ReLU; `io.x` is then required: the forward's input).
 */
export function conv2dBackwardData<B>(
  ctx: LaunchContext<B>,
  s: Conv2dShape,
  io: { dy: B; w: B; dx: B; x?: B },
  o: Conv2dOptions = {},
): Launch<B>[] {
  const relu = o.reluInput ?? false;
  if (relu && io.x === undefined) {
    throw new Error("conv2dBackwardData: reluInput needs io.x (the forward input)");
  }
  return directLaunch(ctx, s, "data", {
    src: io.dy,
    weights: io.w,
    aux: relu ? io.x : undefined,
    dst: io.dx,
  }, {
    bias: false,
    mask: relu,
    relu: false,
  }, o);
}

/**
 * dw (= or +=) ∂/∂w, in `weightLayout`, and, when given, dbias (= or +=) Σ dy over n, y, x;
 * with `reluInput` the forward's input was max(x, 0).
 */
export function conv2dBackwardWeight<B>(
  ctx: LaunchContext<B>,
  s: Conv2dShape,
  io: { dy: B; x: B; dw: B; dbias?: B },
  o: Conv2dOptions = {},
): Launch<B>[] {
  const withBias = io.dbias !== undefined;
  const planned = chooseWeight(s, ctx.deviceClass, withBias, ctx.convBlocks, o.block).structure;
  const dwStrides = gradientStrides(s, o.weightLayout ?? "oihw");
  const cpgOut = s.outChannels / s.groups;
  const w = {
    ...planned,
    vectorPartials: dwStrides.co === 1 && planned.ocb % 4 === 0 && cpgOut % 4 === 0,
  };
  const chunks = weightChunks(s, w, ctx.deviceClass);
  const { outH, outW } = conv2dOutputSize(s);
  const cin = s.inChannels / s.groups;
  const kk = s.kernelH * s.kernelW;
  const dwSize = s.outChannels * cin * kk;
  const invocations = weightInvocations(s, w, chunks);
  const wg = weightWorkgroupSize(invocations, ctx.deviceClass);
  const accumulate = o.accumulate ?? false;
  const split = chunks > 1;
  // Unsplit, the kernel writes (or adds to) dw and dbias itself.
  const partial = split ? ctx.scratch(chunks * dwSize, "conv2d dw partials") : io.dw;
  const biasPartial = io.dbias === undefined
    ? undefined
    : split
    ? ctx.scratch(chunks * s.outChannels, "conv2d dbias partials")
    : io.dbias;
  const rowBlocks = Math.ceil(outH / w.rows);
  const colBlocks = Math.ceil(outW / w.cols);
  const coBlocks = Math.ceil(cpgOut / w.ocb);
  const ciBlocks = Math.ceil(cin / w.icb);
  // Spatial shape and blocking: override constants (they enter every gather's index).
  const constants: Record<string, number> = {
    WG: wg,
    H: s.inH,
    W: s.inW,
    OH: outH,
    OW: outW,
    OCB: w.ocb,
    ICB: w.icb,
    ROWS_PER_UNIT: w.rows,
    COLS_PER_UNIT: w.cols,
    ROW_BLOCKS: rowBlocks,
    COL_BLOCKS: colBlocks,
    ROW_STEP: w.rows * s.strideH,
    COL_STEP: w.cols * s.strideW,
    PH: s.padH,
    PW: s.padW,
    KHW: kk,
    RELU_X: o.reluInput ? 1 : 0,
    ACCUMULATE: accumulate && !split ? 1 : 0,
  };
  // Channel counts and batch: the uniform `Dims` of conv2d_wgrad.wgsl, in its field order.
  const dims = [
    s.batch,
    s.inChannels,
    s.outChannels,
    cin,
    cpgOut,
    coBlocks,
    ciBlocks,
    chunks,
    s.groups,
    dwStrides.co,
    dwStrides.ci,
    dwStrides.tap,
    s.batch * rowBlocks * colBlocks,
    dwSize,
    invocations,
  ];
  const launches: Launch<B>[] = [{
    kernel: { ...weightKernel(w), constants },
    uniforms: { binding: WGRAD_DIMS_BINDING, values: dims },
    bindings: biasPartial === undefined ? [io.dy, io.x, partial] : [
      io.dy,
      io.x,
      partial,
      biasPartial,
    ],
    workgroups: grid(Math.ceil(invocations / wg)),
  }];
  if (split) {
    launches.push(
      reduceLaunch(
        partial,
        io.dw,
        dwSize,
        chunks,
        accumulate,
        biasPartial,
        io.dbias,
        s.outChannels,
      ),
    );
  }
  return launches;
}

/** Binding of the weight-gradient kernel's uniform `Dims` (conv2d_wgrad.wgsl). */
const WGRAD_DIMS_BINDING = 4;

const AUX_WG = 64;

/** Sums split-K partials into dw and, in the same launch, bias partials into dbias. */
function reduceLaunch<B>(
  partial: B,
  out: B,
  count: number,
  chunks: number,
  accumulate: boolean,
  biasPartial: B | undefined,
  biasOut: B | undefined,
  biasCount: number,
): Launch<B> {
  const withBias = biasPartial !== undefined && biasOut !== undefined;
  const width = count % 4 === 0 ? 4 : 1;
  return {
    kernel: {
      name: (withBias ? "conv2d_reduce_bias" : "conv2d_reduce") + (width === 4 ? "_vec4" : ""),
      source: preprocess(auxTemplate, widthDefines(width)),
      entryPoint: withBias ? "reduce_chunks_bias" : "reduce_chunks",
      constants: {
        WG: AUX_WG,
        COUNT: count / width,
        CHUNKS: chunks,
        ACCUMULATE: accumulate ? 1 : 0,
        ...(withBias ? { BIAS_COUNT: biasCount } : {}),
      },
    },
    bindings: withBias ? [partial, out, biasPartial, biasOut] : [partial, out],
    workgroups: grid1d(count / width + (withBias ? biasCount : 0), AUX_WG),
  };
}
