/**
 * A ReLU with a frozen activation pattern: y = x · [m > 0] (grasp's Hessian,
 * src/proxy/zc_grasp.ts). The forward captures m from x in the first training iteration (step
 * counter 0), so that pass is a plain ReLU, and keeps it afterwards (the host may overwrite it);
 * the backward is the relu-derivative kernel with m as its saved tensor, dx = dy · [m > 0]; m gets
 * no gradient.
 */
import type { Launch } from "../gpu/kernel.ts";
import { reluMask, unaryBackward } from "../kernels/elementwise.ts";
import { type BackwardContext, type ForwardContext, OpNode, type Slot } from "./ops.ts";
import type { Tensor } from "./tensor.ts";

export class ReluMaskOp extends OpNode {
  constructor(name: string, readonly x: Tensor, readonly mask: Tensor, readonly y: Tensor) {
    super(name);
  }
  get inputs(): readonly Tensor[] {
    return [this.x, this.mask];
  }
  get outputs(): readonly Tensor[] {
    return [this.y];
  }
  forward(ctx: ForwardContext): Launch<Slot>[] {
    const [m, x, y] = [ctx.value(this.mask), ctx.value(this.x), ctx.value(this.y)];
    const io = { x, mask: m, y, step: ctx.counter };
    return [reluMask(this.x.size, io, { accumulate: this.accumulate })];
  }
  override backward(ctx: BackwardContext): Launch<Slot>[] {
    const dx = ctx.gradTarget(0);
    if (!dx) return [];
    const m = ctx.value(this.mask);
    return [
      unaryBackward("relu", this.x.size, m, ctx.grad(this.y), dx.slot, {
        accumulate: dx.accumulate,
      }),
    ];
  }
}
