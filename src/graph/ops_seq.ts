/**
 * Sequence ops of the recurrent networks: slice one time step out of a [L·B, D] tensor, stack
 * L steps back, and dropout whose mask is fresh each training step (LockedDropout shares it over
 * the time steps; WeightDrop applies it to a weight). Dropout is the identity in eval mode.
 */
import type { Launch } from "../gpu/kernel.ts";
import { fill } from "../kernels/elementwise.ts";
import { copyRange, dropout } from "../kernels/sequence.ts";
import { type BackwardContext, type ForwardContext, OpNode, type Slot } from "./ops.ts";
import type { Tensor } from "./tensor.ts";

/**
 * y = rows [offset, offset + y rows) of x: one time step of a [L·B, D] tensor. One op per step, so
 * a step whose output gets no gradient (an input unused at the last step) costs nothing; the
 * first gradient written into dx zero-fills it, later ones add into their rows.
 */
export class SliceRowsOp extends OpNode {
  constructor(name: string, readonly x: Tensor, readonly y: Tensor, readonly offset: number) {
    super(name);
  }
  get inputs(): readonly Tensor[] {
    return [this.x];
  }
  get outputs(): readonly Tensor[] {
    return [this.y];
  }
  override get canAccumulate(): boolean {
    return false;
  }
  get #start(): number {
    return this.offset * this.y.shape[1];
  }
  forward(ctx: ForwardContext): Launch<Slot>[] {
    return [
      copyRange(this.y.size, ctx.value(this.x), ctx.value(this.y), { srcOffset: this.#start }),
    ];
  }
  override backward(ctx: BackwardContext): Launch<Slot>[] {
    const dx = ctx.gradTarget(0);
    if (!dx) return [];
    const copy = copyRange(this.y.size, ctx.grad(this.y), dx.slot, {
      dstOffset: this.#start,
      accumulate: dx.accumulate,
    });
    return dx.accumulate ? [copy] : [fill(this.x.size, dx.slot, 0), copy];
  }
}

/** L tensors [B, D] → y [L·B, D]. */
export class StackRowsOp extends OpNode {
  constructor(name: string, readonly steps: readonly Tensor[], readonly y: Tensor) {
    super(name);
  }
  get inputs(): readonly Tensor[] {
    return this.steps;
  }
  get outputs(): readonly Tensor[] {
    return [this.y];
  }
  override get canAccumulate(): boolean {
    return false;
  }
  forward(ctx: ForwardContext): Launch<Slot>[] {
    const y = ctx.value(this.y);
    return this.steps.map((s, t) => copyRange(s.size, ctx.value(s), y, { dstOffset: t * s.size }));
  }
  override backward(ctx: BackwardContext): Launch<Slot>[] {
    const dy = ctx.grad(this.y);
    const launches: Launch<Slot>[] = [];
    this.steps.forEach((s, t) => {
      const target = ctx.gradTarget(t);
      if (target) {
        launches.push(
          copyRange(s.size, dy, target.slot, {
            srcOffset: t * s.size,
            accumulate: target.accumulate,
          }),
        );
      }
    });
    return launches;
  }
}

export interface DropoutConfig {
  p: number;
  /** The mask repeats every `period` elements (LockedDropout: B·D; a weight: its size). */
  period: number;
  seed: number;
}

/** y = x · mask / (1 − p) in train mode (mask fresh per step), y = x in eval mode. */
export class DropoutOp extends OpNode {
  /** The step counter, taken from the forward context: the backward context carries none, and
   *  the compiler always derives the forward before the backward. */
  #counter: Slot | undefined;
  constructor(
    name: string,
    readonly x: Tensor,
    readonly y: Tensor,
    readonly config: DropoutConfig,
  ) {
    super(name);
  }
  get inputs(): readonly Tensor[] {
    return [this.x];
  }
  get outputs(): readonly Tensor[] {
    return [this.y];
  }
  override get canAccumulate(): boolean {
    return false;
  }
  forward(ctx: ForwardContext): Launch<Slot>[] {
    const src = ctx.value(this.x);
    const dst = ctx.value(this.y);
    this.#counter = ctx.counter;
    if (ctx.mode === "eval" || this.config.p === 0) return [copyRange(this.x.size, src, dst, {})];
    return [dropout(this.x.size, { src, dst, step: ctx.counter }, this.config)];
  }
  override backward(ctx: BackwardContext): Launch<Slot>[] {
    const dx = ctx.gradTarget(0);
    if (!dx) return [];
    const dy = ctx.grad(this.y);
    if (this.config.p === 0) {
      return [copyRange(this.x.size, dy, dx.slot, { accumulate: dx.accumulate })];
    }
    if (!this.#counter) throw new Error(`${this.name}: backward derived before forward`);
    return [
      dropout(this.x.size, { src: dy, dst: dx.slot, step: this.#counter }, {
        ...this.config,
        accumulate: dx.accumulate,
      }),
    ];
  }
}
