/** Conv FLOPs of the part of a proxy graph that reaches the loss (what gennas trains). */
import type { GraphBuilder } from "../../src/graph/builder.ts";
import { Conv2dOp } from "../../src/graph/ops.ts";
import type { Tensor } from "../../src/graph/tensor.ts";
import { conv2dFlops } from "../../src/kernels/conv2d/mod.ts";

/** Forward conv FLOPs (2·MACs) of the live graph; one training iteration is ≈ 3× this. */
export function liveConvFlops(g: GraphBuilder): number {
  const live = new Set<Tensor>(g.losses.map((s) => s.output));
  let flops = 0;
  for (let i = g.ops.length - 1; i >= 0; i--) {
    const op = g.ops[i];
    if (!op.outputs.some((t) => live.has(t))) continue;
    for (const t of op.inputs) live.add(t);
    if (op instanceof Conv2dOp) flops += conv2dFlops(op.shape);
  }
  return flops;
}
