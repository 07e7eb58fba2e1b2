/** The optimizer step over the flat parameter buffer: one SGD or Adam launch list. */
import type { DeviceClass, Launch } from "../gpu/kernel.ts";
import { adamStep, sgdStep } from "../kernels/optim.ts";
import type { Slot } from "./ops.ts";

export type OptimizerConfig =
  | { kind: "sgd"; lr: number; momentum: number; weightDecay: number }
  | { kind: "adam"; lr: number; beta1: number; beta2: number; eps: number; weightDecay: number };

export interface OptimizerSlots {
  table: { create(floats: number, label: string, kind: "optimizer" | "transient"): Slot };
  place: (slot: Slot, buffer: string, offsetFloats?: number) => Slot;
  counter: Slot;
  deviceClass: DeviceClass;
}

export function optimizerLaunches(
  config: OptimizerConfig,
  layout: { decayFloats: number; trainedFloats: number },
  s: OptimizerSlots,
): Launch<Slot>[] {
  const n = layout.trainedFloats;
  if (n === 0) return [];
  const flat = (buffer: string) => s.place(s.table.create(n, buffer, "optimizer"), buffer);
  const ctx = {
    deviceClass: s.deviceClass,
    scratch: (floats: number, label: string) => s.table.create(floats, label, "transient"),
  };
  if (config.kind === "sgd") {
    return sgdStep(ctx, n, {
      params: flat("params"),
      grads: flat("grads"),
      momentum: flat("momentum"),
    }, {
      lr: config.lr,
      momentum: config.momentum,
      weightDecay: config.weightDecay,
      decayCount: layout.decayFloats,
    });
  }
  return adamStep(ctx, n, {
    params: flat("params"),
    grads: flat("grads"),
    m: flat("adam_m"),
    v: flat("adam_v"),
    step: s.counter,
  }, {
    lr: config.lr,
    beta1: config.beta1,
    beta2: config.beta2,
    eps: config.eps,
    weightDecay: config.weightDecay,
    decayCount: layout.decayFloats,
  });
}
