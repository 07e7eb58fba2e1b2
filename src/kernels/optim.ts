/**
 * Optimizer updates as one dispatch each over a flat parameter buffer (shaders/optim.wgsl), and
 * the u32 step counter that Adam's bias correction, the loss history and the noise read.
 */
import template from "../../shaders/optim.wgsl" with { type: "text" };
import { declareBindings } from "../gpu/bindings.ts";
import { grid1d, type Launch, type LaunchContext } from "../gpu/kernel.ts";
import { preprocess } from "../gpu/wgsl.ts";

const WG = 256;
const source = preprocess(template);

const SGD = declareBindings({ params: "read_write", grads: "read", momentum: "read_write" });
const ADAM = declareBindings({
  params: "read_write",
  grads: "read",
  m: "read_write",
  v: "read_write",
  step: "read",
});
const INCREMENT = declareBindings({ counter: "read_write" });

export interface SgdOptions {
  lr: number;
  momentum: number;
  weightDecay: number;
  /** Parameters [0, decayCount) get weight decay; the rest none. */
  decayCount: number;
}

export interface AdamOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Parameters [0, decayCount) get weight decay; the rest none. */
  decayCount: number;
}

function checkCount(n: number, decayCount: number, what: string): void {
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`${what}: n must be a positive integer, got ${n}`);
  }
  if (!Number.isInteger(decayCount) || decayCount < 0 || decayCount > n) {
    throw new RangeError(`${what}: decayCount must be an integer in [0, ${n}], got ${decayCount}`);
  }
}

function checkFinite(what: string, values: Record<string, number>): void {
  for (const [name, value] of Object.entries(values)) {
    if (!Number.isFinite(value)) {
      throw new RangeError(`${what}: ${name} must be finite, got ${value}`);
    }
  }
}

/**
 * torch.optim.SGD (dampening 0, no nesterov): g = grad + (i < decayCount ? wd·p : 0);
 * buf = momentum·buf + g (buf starts at 0); p −= lr·buf.
 */
export function sgdStep<B>(
  _ctx: LaunchContext<B>,
  n: number,
  io: { params: B; grads: B; momentum: B },
  o: SgdOptions,
): Launch<B>[] {
  checkCount(n, o.decayCount, "sgdStep");
  checkFinite("sgdStep", { lr: o.lr, momentum: o.momentum, weightDecay: o.weightDecay });
  return [{
    kernel: {
      name: "sgd",
      source,
      entryPoint: "sgd",
      constants: {
        N: n,
        LR: o.lr,
        MOMENTUM: o.momentum,
        WEIGHT_DECAY: o.weightDecay,
        DECAY_COUNT: o.decayCount,
      },
      layout: SGD,
    },
    bindings: SGD.bind(io),
    workgroups: grid1d(n, WG),
  }];
}

/**
 * torch.optim.Adam (amsgrad off, L2 decay coupled into the gradient for i < decayCount), bias
 * corrected with t = step[0] + 1; `step` (u32, completed steps) is only read.
 */
export function adamStep<B>(
  _ctx: LaunchContext<B>,
  n: number,
  io: { params: B; grads: B; m: B; v: B; step: B },
  o: AdamOptions,
): Launch<B>[] {
  checkCount(n, o.decayCount, "adamStep");
  checkFinite("adamStep", { lr: o.lr, eps: o.eps, weightDecay: o.weightDecay });
  for (const [name, beta] of [["beta1", o.beta1], ["beta2", o.beta2]] as const) {
    if (!(beta > 0 && beta < 1)) {
      throw new RangeError(`adamStep: ${name} must be in (0, 1), got ${beta}`);
    }
  }
  return [{
    kernel: {
      name: "adam",
      source,
      entryPoint: "adam",
      constants: {
        N: n,
        LR: o.lr,
        BETA1: o.beta1,
        BETA2: o.beta2,
        ONE_MINUS_BETA1: 1 - o.beta1,
        ONE_MINUS_BETA2: 1 - o.beta2,
        LN_BETA1: Math.log(o.beta1),
        LN_BETA2: Math.log(o.beta2),
        EPS: o.eps,
        WEIGHT_DECAY: o.weightDecay,
        DECAY_COUNT: o.decayCount,
      },
      layout: ADAM,
    },
    bindings: ADAM.bind(io),
    workgroups: grid1d(n, WG),
  }];
}

/** counter[0] += 1 (one invocation). */
export function stepIncrement<B>(counter: B): Launch<B> {
  return {
    kernel: { name: "step_increment", source, entryPoint: "increment", layout: INCREMENT },
    bindings: INCREMENT.bind({ counter }),
    workgroups: [1, 1, 1],
  };
}
