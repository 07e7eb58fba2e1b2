/**
 * A ReLU with a frozen activation pattern: y = x · [m > 0], m a host-written tensor (grasp's
 * Hessian, src/proxy/zc_grasp.ts). Forward and backward are the relu-derivative kernel with m as
 * its saved tensor: y = x · [m > 0] and dx = dy · [m > 0]; m gets no gradient.
 */
import type { Launch } from "../gpu/kernel.ts";
import { unaryBackward } from "../kernels/elementwise.ts";
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
    return [unaryBackward("relu", this.x.size, m, x, y, { accumulate: this.accumulate })];
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
