/**
 * Pooling and layout op nodes (max/average/global pooling, nearest subsampling, channel slices
 * and concatenation): the graph's ops that move values without weights.
 */
import {
  avgPool2dBackward,
  avgPool2dForward,
  globalAvgPoolBackward,
  globalAvgPoolForward,
  maxPool2dBackward,
  maxPool2dForward,
  maxPool2dFrozenForward,
  type Pool2dShape,
} from "../kernels/pool.ts";
import {
  channelCopy,
  nearestSubsampleBackward,
  nearestSubsampleForward,
  type SubsampleShape,
} from "../kernels/layout.ts";
import type { Launch } from "../gpu/kernel.ts";
import { type BackwardContext, type ForwardContext, MapOp, OpNode, type Slot } from "./ops.ts";
import type { Tensor } from "./tensor.ts";
export class MaxPoolOp extends OpNode {
  constructor(
    name: string,
    readonly x: Tensor,
    readonly y: Tensor,
    readonly argmax: Tensor,
    readonly shape: Pool2dShape,
    /** Switches found at step 0 and kept (argmax is then a persistent input tensor). */
    readonly frozen = false,
  ) {
    super(name);
  }
  get inputs(): readonly Tensor[] {
    return this.frozen ? [this.x, this.argmax] : [this.x];
  }
  get outputs(): readonly Tensor[] {
    return this.frozen ? [this.y] : [this.y, this.argmax];
  }
  forward(ctx: ForwardContext): Launch<Slot>[] {
    if (this.frozen) {
      return maxPool2dFrozenForward(ctx, this.shape, {
        x: ctx.value(this.x),
        y: ctx.value(this.y),
        argmax: ctx.value(this.argmax),
        step: ctx.counter,
      }, { accumulate: this.accumulate });
    }
    return maxPool2dForward(ctx, this.shape, {
      x: ctx.value(this.x),
      y: ctx.value(this.y),
      argmax: ctx.value(this.argmax),
    }, { accumulate: this.accumulate });
  }
  override backward(ctx: BackwardContext): Launch<Slot>[] {
    const dx = ctx.gradTarget(0);
    if (!dx) return [];
    return maxPool2dBackward(ctx, this.shape, {
      dy: ctx.grad(this.y),
      argmax: ctx.value(this.argmax),
      dx: dx.slot,
    }, { accumulate: dx.accumulate });
  }
}

export class AvgPoolOp extends MapOp {
  constructor(
    name: string,
    x: Tensor,
    y: Tensor,
    readonly shape: Pool2dShape,
    readonly countIncludePad: boolean,
  ) {
    super(name, x, y);
  }
  protected forwardLaunches(ctx: ForwardContext, x: Slot, y: Slot, accumulate: boolean) {
    return avgPool2dForward(ctx, this.shape, { x, y }, {
      countIncludePad: this.countIncludePad,
      accumulate,
    });
  }
  protected backwardLaunches(
    ctx: BackwardContext,
    dy: Slot,
    dx: Slot,
    accumulate: boolean,
  ): Launch<Slot>[] {
    return avgPool2dBackward(ctx, this.shape, { dy, dx }, {
      countIncludePad: this.countIncludePad,
      accumulate,
    });
  }
}

export class GlobalAvgPoolOp extends MapOp {
  get #shape() {
    return { batch: this.x.n, channels: this.x.c, spatial: this.x.size / (this.x.n * this.x.c) };
  }
  protected forwardLaunches(ctx: ForwardContext, x: Slot, y: Slot, accumulate: boolean) {
    return globalAvgPoolForward(ctx, this.#shape, { x, y }, { accumulate });
  }
  protected backwardLaunches(
    ctx: BackwardContext,
    dy: Slot,
    dx: Slot,
    accumulate: boolean,
  ): Launch<Slot>[] {
    return globalAvgPoolBackward(ctx, this.#shape, { dy, dx }, { accumulate });
  }
}

export class SubsampleOp extends MapOp {
  constructor(name: string, x: Tensor, y: Tensor, readonly shape: SubsampleShape) {
    super(name, x, y);
  }
  protected forwardLaunches(ctx: ForwardContext, x: Slot, y: Slot, accumulate: boolean) {
    return nearestSubsampleForward(ctx, this.shape, { x, y }, { accumulate });
  }
  protected backwardLaunches(
    ctx: BackwardContext,
    dy: Slot,
    dx: Slot,
    accumulate: boolean,
  ): Launch<Slot>[] {
    return nearestSubsampleBackward(ctx, this.shape, { dy, dx }, { accumulate });
  }
}

/** The first `count` channels of x (NB-101's Truncate). */
export class SliceChannelsOp extends MapOp {
  #shape(srcChannels: number, dstChannels: number) {
    return {
      batch: this.x.n,
      spatial: this.x.h * this.x.w,
      srcChannels,
      srcOffset: 0,
      dstChannels,
      dstOffset: 0,
      count: this.y.c,
    };
  }
  protected forwardLaunches(ctx: ForwardContext, x: Slot, y: Slot, accumulate: boolean) {
    return channelCopy(ctx, this.#shape(this.x.c, this.y.c), { src: x, dst: y }, { accumulate });
  }
  protected backwardLaunches(
    ctx: BackwardContext,
    dy: Slot,
    dx: Slot,
    accumulate: boolean,
  ): Launch<Slot>[] {
    return channelCopy(ctx, this.#shape(this.y.c, this.x.c), { src: dy, dst: dx }, {
      accumulate,
      zeroRest: !accumulate,
    });
  }
}

/** Channel concatenation of NCHW tensors with equal N, H, W. */
export class ConcatOp extends OpNode {
  constructor(name: string, readonly parts: readonly Tensor[], readonly y: Tensor) {
    super(name);
  }
  get inputs(): readonly Tensor[] {
    return this.parts;
  }
  get outputs(): readonly Tensor[] {
    return [this.y];
  }
  #copy(part: Tensor, offset: number) {
    return {
      batch: this.y.n,
      spatial: this.y.h * this.y.w,
      srcChannels: part.c,
      srcOffset: 0,
      dstChannels: this.y.c,
      dstOffset: offset,
      count: part.c,
    };
  }
  forward(ctx: ForwardContext): Launch<Slot>[] {
    const launches: Launch<Slot>[] = [];
    let offset = 0;
    for (const part of this.parts) {
      launches.push(
        ...channelCopy(ctx, this.#copy(part, offset), {
          src: ctx.value(part),
          dst: ctx.value(this.y),
        }, { accumulate: this.accumulate }),
      );
      offset += part.c;
    }
    return launches;
  }
  override backward(ctx: BackwardContext): Launch<Slot>[] {
    const dy = ctx.grad(this.y);
    const launches: Launch<Slot>[] = [];
    let offset = 0;
    this.parts.forEach((part, i) => {
      const target = ctx.gradTarget(i);
      if (target) {
        const s = this.#copy(part, offset);
        launches.push(
          ...channelCopy(
            ctx,
            {
              ...s,
              srcChannels: s.dstChannels,
              srcOffset: offset,
              dstChannels: part.c,
              dstOffset: 0,
            },
            { src: dy, dst: target.slot },
            { accumulate: target.accumulate },
          ),
        );
      }
      offset += part.c;
    });
    return launches;
  }
}
