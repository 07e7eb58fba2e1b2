/** Elementwise kernels over flat f32 arrays: activations, their gradients, add/mul, fill. */
import template from "../../shaders/elementwise.wgsl" with { type: "text" };
import { declareBindings } from "../gpu/bindings.ts";
import { grid1d, type Launch } from "../gpu/kernel.ts";
import { preprocess } from "../gpu/wgsl.ts";

const WG = 256;
const source = preprocess(template);

const UNARY = declareBindings({ src: "read", dst: "read_write" });
const UNARY_BACKWARD = declareBindings({ saved: "read", gradOut: "read", gradIn: "read_write" });
const BINARY = declareBindings({ lhs: "read", rhs: "read", out: "read_write" });
const FILL = declareBindings({ dst: "read_write" });

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

/** dst (= or +=) op(src), over n elements. */
export function unary<B>(op: UnaryOp, n: number, src: B, dst: B, o: UnaryOptions = {}): Launch<B> {
  return {
    kernel: {
      name: `unary_${op}`,
      source,
      entryPoint: "unary",
      constants: {
        N: n,
        OP: UNARY_OPS.indexOf(op),
        ALPHA: o.alpha ?? defaultAlpha(op),
        ACCUMULATE: o.accumulate ? 1 : 0,
      },
      layout: UNARY,
    },
    bindings: UNARY.bind({ src, dst }),
    workgroups: grid1d(n, WG),
  };
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
  return {
    kernel: {
      name: `unary_backward_${op}`,
      source,
      entryPoint: "unary_backward",
      constants: {
        N: n,
        OP: UNARY_OPS.indexOf(op),
        ALPHA: o.alpha ?? defaultAlpha(op),
        ACCUMULATE: o.accumulate ? 1 : 0,
      },
      layout: UNARY_BACKWARD,
    },
    bindings: UNARY_BACKWARD.bind({ saved, gradOut, gradIn }),
    workgroups: grid1d(n, WG),
  };
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
  return {
    kernel: {
      name: `binary_${op}`,
      source,
      entryPoint: "binary",
      constants: { N: n, BINOP: op === "mul" ? 1 : 0, ACCUMULATE: o.accumulate ? 1 : 0 },
      layout: BINARY,
    },
    bindings: BINARY.bind({ lhs, rhs, out }),
    workgroups: grid1d(n, WG),
  };
}

/** dst = value over n elements. */
export function fill<B>(n: number, dst: B, value: number): Launch<B> {
  return {
    kernel: {
      name: "fill",
      source,
      entryPoint: "fill",
      constants: { N: n, ALPHA: value },
      layout: FILL,
    },
    bindings: FILL.bind({ dst }),
    workgroups: grid1d(n, WG),
  };
}
