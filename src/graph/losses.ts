/**
 * The loss launches of a compiled graph, by the kind of its loss stages: the GenNAS weighted MSE
 * (every stage "mse"), a softmax cross-entropy against class labels (the classification copy of
 * the zero-cost proxies), or a "seed" loss whose gradient w.r.t. the output is a given tensor
 * (dL/dout = seed, i.e. L = Σ out ⊙ seed; its value is not computed).
 */
import type { Launch, LaunchContext } from "../gpu/kernel.ts";
import { softmaxCrossEntropy } from "../kernels/cross_entropy.ts";
import { unary } from "../kernels/elementwise.ts";
import { mseLoss } from "../kernels/loss.ts";
import type { LossStage } from "./builder.ts";
import type { Mode, Slot } from "./ops.ts";
import type { Tensor } from "./tensor.ts";

export function lossLaunches(
  ctx: LaunchContext<Slot>,
  stages: readonly LossStage[],
  mode: Mode,
  slots: { value(t: Tensor): Slot; grad(stage: LossStage): Slot | undefined },
  io: { loss: Slot; index?: Slot },
): Launch<Slot>[] {
  const kind = stages[0]?.kind ?? "mse";
  if (stages.some((s) => (s.kind ?? "mse") !== kind)) {
    throw new Error(`a graph's loss stages must be of one kind, got ${kind} and others`);
  }
  const weight = (s: LossStage) => mode === "train" ? s.trainWeight : s.evalWeight;
  if (kind === "mse") {
    return mseLoss(
      ctx,
      stages.map((s) => ({
        n: s.output.size,
        out: slots.value(s.output),
        target: slots.value(s.target),
        weight: weight(s),
        grad: slots.grad(s),
      })),
      io,
    );
  }
  if (stages.length !== 1) throw new Error(`a ${kind} loss has one stage, got ${stages.length}`);
  const [s] = stages;
  if (kind === "cross_entropy") {
    const [batch, classes] = s.output.shape;
    return softmaxCrossEntropy(ctx, { batch, classes, weight: weight(s) }, {
      logits: slots.value(s.output),
      labels: slots.value(s.target),
      grad: slots.grad(s),
      ...io,
    });
  }
  const grad = slots.grad(s);
  return grad
    ? [unary("scale", s.output.size, slots.value(s.target), grad, { alpha: weight(s) })]
    : [];
}
