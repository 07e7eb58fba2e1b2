/**
 * Weighted multi-stage MSE loss and its gradients (shaders/loss.wgsl), reduced deterministically:
 * per-workgroup partial sums into a scratch buffer, then one final launch. The value stays on
 * the GPU, optionally in the slot of a loss-history buffer named by a u32 counter.
 */
import template from "../../shaders/loss.wgsl" with { type: "text" };
import { declareBindings } from "../gpu/bindings.ts";
import { type DeviceClass, grid, type Launch, type LaunchContext } from "../gpu/kernel.ts";
import { preprocess } from "../gpu/wgsl.ts";

const source = preprocess(template);

const PARTIAL = declareBindings({
  out: "read",
  target: "read",
  partials: "read_write",
  grad: "read_write?",
});
const FINAL = declareBindings({ partials: "read", loss: "read_write", index: "read?" });

export interface MseStage<B> {
  /** Elements in out, target and grad. */
  n: number;
  out: B;
  target: B;
  /** Stage weight; 0 drops the stage (no loss term, grad not written). */
  weight: number;
  /** Receives weight·2·(out − target)/n (overwritten) when given. */
  grad?: B;
}

interface ReductionTiling {
  /** Invocations per workgroup (a power of two: the tree reduction halves it). */
  wg: number;
  /** Elements each invocation sums serially before the tree. */
  perThread: number;
}

/** Fewer, longer serial sums on lavapipe, where each workgroup barrier is a context switch. */
function tiling(deviceClass: DeviceClass): ReductionTiling {
  return deviceClass === "cpu" ? { wg: 64, perThread: 16 } : { wg: 256, perThread: 4 };
}

function checkStage<B>(stage: MseStage<B>, index: number): void {
  if (!Number.isInteger(stage.n) || stage.n < 1) {
    throw new RangeError(`mseLoss: stages[${index}].n must be a positive integer, got ${stage.n}`);
  }
  if (!Number.isFinite(stage.weight)) {
    throw new RangeError(`mseLoss: stages[${index}].weight must be finite, got ${stage.weight}`);
  }
}

function stagePartial<B>(
  stage: MseStage<B>,
  partials: B,
  partOffset: number,
  groups: number,
  t: ReductionTiling,
): Launch<B> {
  const withGrad = stage.grad !== undefined;
  return {
    kernel: {
      name: withGrad ? "mse_partial_grad" : "mse_partial",
      source,
      entryPoint: "mse_partial",
      constants: {
        WG: t.wg,
        PER_THREAD: t.perThread,
        N: stage.n,
        SCALE: stage.weight / stage.n,
        PART_OFFSET: partOffset,
        GROUPS: groups,
        GRAD: withGrad ? 1 : 0,
      },
      layout: PARTIAL,
    },
    bindings: PARTIAL.bind({ out: stage.out, target: stage.target, partials, grad: stage.grad }),
    workgroups: grid(groups),
  };
}

/**
 * loss[i] = Σ_s weight_s·mean_s((out_s − target_s)²), i = index[0] (a u32 counter; a slot past
 * the end of `loss` is not written) or 0 without index. Writes each stage's `grad` if given.
 */
export function mseLoss<B>(
  ctx: LaunchContext<B>,
  stages: readonly MseStage<B>[],
  io: { loss: B; index?: B },
): Launch<B>[] {
  stages.forEach(checkStage);
  const t = tiling(ctx.deviceClass);
  const live = stages.filter((s) => s.weight !== 0);
  const groups = live.map((s) => Math.ceil(s.n / (t.wg * t.perThread)));
  const parts = groups.reduce((a, b) => a + b, 0);
  const partials = ctx.scratch(Math.max(parts, 1), "mse partials");
  const launches: Launch<B>[] = [];
  let offset = 0;
  live.forEach((stage, s) => {
    launches.push(stagePartial(stage, partials, offset, groups[s], t));
    offset += groups[s];
  });
  const indexed = io.index !== undefined;
  launches.push({
    kernel: {
      name: indexed ? "mse_final_indexed" : "mse_final",
      source,
      entryPoint: "mse_final",
      constants: { WG: t.wg, PARTS: parts, INDEXED: indexed ? 1 : 0 },
      layout: FINAL,
    },
    bindings: FINAL.bind({ partials, loss: io.loss, index: io.index }),
    workgroups: [1, 1, 1],
  });
  return launches;
}
