/**
 * Row-wise dot products of two [rows][length] tensors on the GPU, so that a reduction over each
 * row is read back instead of both tensors (fisher: Σ_spatial a·∂L/∂a per sample and channel).
 */
import template from "../../shaders/row_dot.wgsl" with { type: "text" };
import { declareBindings } from "../gpu/bindings.ts";
import { grid1d, type Launch } from "../gpu/kernel.ts";
import { preprocess } from "../gpu/wgsl.ts";
import { checkPositiveIntegers } from "./common.ts";

const WG = 64;
const LAYOUT = declareBindings({ a: "read", b: "read", out: "read_write" });

/** out[r] = Σ_s a[r·length + s] · b[r·length + s], r < rows (out: rows f32). */
export function rowDot<B>(
  s: { rows: number; length: number },
  io: { a: B; b: B; out: B },
): Launch<B> {
  checkPositiveIntegers("row_dot", s);
  return {
    kernel: {
      name: "row_dot",
      source: preprocess(template, {}),
      entryPoint: "row_dot",
      constants: { WG, R: s.rows, S: s.length },
      layout: LAYOUT,
    },
    bindings: LAYOUT.bind(io),
    workgroups: grid1d(s.rows, WG),
  };
}
