/**
 * Elementwise kernels over flat f32 arrays: activations, their gradients, add/mul, fill. Counts
 * that are a multiple of 4 run over vec4f elements (same values, a quarter of the invocations).
 */
import template from "../../shaders/elementwise.wgsl" with { type: "text" };
import { declareBindings, type DeclaredBindings } from "../gpu/bindings.ts";
import { grid1d, type Launch } from "../gpu/kernel.ts";
import { preprocess, widthDefines } from "../gpu/wgsl.ts";

const WG = 256;

const UNARY = declareBindings({ src: "read", dst: "read_write" });
const UNARY_BACKWARD = declareBindings({ saved: "read", gradOut: "read", gradIn: "read_write" });
const BINARY = declareBindings({ lhs: "read", rhs: "read", out: "read_write" });
const FILL = declareBindings({ dst: "read_write" });
const RELU_MASK = declareBindings({
  x: "read",
  mask: "read_write",
  y: "read_write",
  step: "read",
});

export const UNARY_OPS = ["identity", "relu", "sigmoid", "tanh", "leaky_relu", "scale"] as const;
export type UnaryOp = typeof UNARY_OPS[number];

export interface UnaryOptions {
  /** Slope of leaky_relu or factor of scale. */
  alpha?: number;
  /** Add into dst instead of overwriting it. */
  accumulate?: boolean;
}

function defaultAlpha(op: UnaryOp): number {
  return op === "leaky_relu" ? 0.01 : op === "scale" ? 1 : 0;
}

/** One invocation per element (vec4f where constants.N, a float count, allows) over N floats. */
function elementwise<B>(
  name: string,
  entryPoint: string,
  constants: Record<string, number>,
  layout: DeclaredBindings,
  bindings: (B | undefined)[],
): Launch<B> {
  const width = constants.N % 4 === 0 ? 4 : 1;
  const n = constants.N / width;
  return {
    kernel: {
      name: width === 4 ? `${name}_vec4` : name,
      source: preprocess(template, widthDefines(width)),
      entryPoint,
      constants: { ...constants, N: n },
      layout,
    },
    bindings,
    workgroups: grid1d(n, WG),
  };
}

function unaryConstants(op: UnaryOp, n: number, o: UnaryOptions): Record<string, number> {
  return {
    N: n,
    OP: UNARY_OPS.indexOf(op),
    ALPHA: o.alpha ?? defaultAlpha(op),
    ACCUMULATE: o.accumulate ? 1 : 0,
  };
}

/** dst (= or +=) op(src), over n elements. */
export function unary<B>(op: UnaryOp, n: number, src: B, dst: B, o: UnaryOptions = {}): Launch<B> {
  const bindings = UNARY.bind({ src, dst });
  return elementwise(`unary_${op}`, "unary", unaryConstants(op, n, o), UNARY, bindings);
}

/**
 * gradIn (= or +=) gradOut · op'(saved). `saved` is the forward output for relu, sigmoid and
 * tanh, and the forward input for leaky_relu (identity and scale ignore it).
 */
export function unaryBackward<B>(
  op: UnaryOp,
  n: number,
  saved: B,
  gradOut: B,
  gradIn: B,
  o: UnaryOptions = {},
): Launch<B> {
  const constants = unaryConstants(op, n, o);
  const bindings = UNARY_BACKWARD.bind({ saved, gradOut, gradIn });
  return elementwise(`unary_backward_${op}`, "unary_backward", constants, UNARY_BACKWARD, bindings);
}

export type BinaryOp = "add" | "mul";

/** out (= or +=) lhs (+ or ·) rhs. */
export function binary<B>(
  op: BinaryOp,
  n: number,
  lhs: B,
  rhs: B,
  out: B,
  o: { accumulate?: boolean } = {},
): Launch<B> {
  const constants = { N: n, BINOP: op === "mul" ? 1 : 0, ACCUMULATE: o.accumulate ? 1 : 0 };
  return elementwise(`binary_${op}`, "binary", constants, BINARY, BINARY.bind({ lhs, rhs, out }));
}

/**
 * y (= or +=) x · [m > 0]: a ReLU whose pattern m is captured from x while the u32 step counter
 * `step` is 0 and frozen after it (grasp's Hessian, src/proxy/zc_grasp.ts).
 */
export function reluMask<B>(
  n: number,
  io: { x: B; mask: B; y: B; step: B },
  o: { accumulate?: boolean } = {},
): Launch<B> {
  const constants = { N: n, ACCUMULATE: o.accumulate ? 1 : 0 };
  return elementwise("relu_mask", "relu_mask", constants, RELU_MASK, RELU_MASK.bind(io));
}

/** dst = value over n elements. */
export function fill<B>(n: number, dst: B, value: number): Launch<B> {
  return elementwise("fill", "fill", { N: n, ALPHA: value }, FILL, FILL.bind({ dst }));
}
