/** The strided-pick op node (FactorizedReduce's shifted path, src/kernels/pick.ts). */
import type { Launch } from "../gpu/kernel.ts";
import { pickBackward, pickForward, type PickShape } from "../kernels/pick.ts";
import { type BackwardContext, type ForwardContext, MapOp, type Slot } from "./ops.ts";
import type { Tensor } from "./tensor.ts";

export class PickOp extends MapOp {
  constructor(name: string, x: Tensor, y: Tensor, readonly shape: PickShape) {
    super(name, x, y);
  }
  protected forwardLaunches(ctx: ForwardContext, x: Slot, y: Slot, accumulate: boolean) {
    return pickForward(ctx, this.shape, { x, y }, { accumulate });
  }
  protected backwardLaunches(
    ctx: BackwardContext,
    dy: Slot,
    dx: Slot,
    accumulate: boolean,
  ): Launch<Slot>[] {
    return pickBackward(ctx, this.shape, { dy, dx }, { accumulate });
  }
}
