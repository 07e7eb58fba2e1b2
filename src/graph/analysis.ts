/**
 * What a compiled graph computes: the ops whose outputs reach the loss, the tensors that carry
 * gradient, and where every parameter sits in the flat parameter buffer.
 */
import { alignUp } from "../gpu/buffers.ts";
import type { GraphBuilder } from "./builder.ts";
import type { OpNode } from "./ops.ts";
import type { OptimizerConfig } from "./optimizer.ts";
import type { Param, Tensor } from "./tensor.ts";

/** Where a parameter sits in the flat buffers, and how it is treated. */
export interface ParamInfo {
  readonly name: string;
  readonly shape: readonly number[];
  readonly size: number;
  /** Offset in floats into the flat parameter (and gradient) buffer. */
  readonly offset: number;
  /** Updated by the optimizer (false: frozen, or unreachable from the loss). */
  readonly trained: boolean;
  readonly decay: boolean;
}

/** Floats between parameter offsets (256-byte storage-offset alignment). */
export const PARAM_ALIGN = 64;

export interface Analysis {
  live: Set<Tensor>;
  liveOps: OpNode[];
  requiresGrad: Set<Tensor>;
}

/** Ops whose outputs reach the loss, and the tensors that carry gradient. */
export function analyse(builder: GraphBuilder): Analysis {
  const live = new Set<Tensor>(builder.losses.map((s) => s.output));
  const liveOps: OpNode[] = [];
  for (let i = builder.ops.length - 1; i >= 0; i--) {
    const op = builder.ops[i];
    if (!op.outputs.some((t) => live.has(t))) continue;
    liveOps.unshift(op);
    for (const t of op.inputs) live.add(t);
  }
  const requiresGrad = new Set<Tensor>();
  for (const p of builder.params) {
    if (p.trainable && !builder.paramsFrozen && live.has(p)) requiresGrad.add(p);
  }
  for (const t of builder.gradInputs) if (live.has(t)) requiresGrad.add(t);
  // An observed gradient is computed even when nothing upstream of it requires one (fisher
  // with frozen parameters).
  for (const t of builder.observedGrads) if (live.has(t)) requiresGrad.add(t);
  for (const op of liveOps) {
    if (!op.inputs.some((t) => requiresGrad.has(t))) continue;
    for (const t of op.outputs) if (t.kind === "activation") requiresGrad.add(t);
  }
  return { live, liveOps, requiresGrad };
}

export function layoutParams(
  params: readonly Param[],
  analysis: Analysis,
  optimizer: OptimizerConfig,
): { infos: ParamInfo[]; decayFloats: number; trainedFloats: number; totalFloats: number } {
  const trained = (p: Param) => analysis.requiresGrad.has(p);
  const decays = (p: Param) => trained(p) && (optimizer.kind === "adam" || p.options.decay);
  const groups = [
    params.filter((p) => decays(p)),
    params.filter((p) => trained(p) && !decays(p)),
    params.filter((p) => !trained(p)),
  ];
  const infos: ParamInfo[] = [];
  let offset = 0;
  const ends: number[] = [];
  for (const group of groups) {
    for (const p of group) {
      infos.push({
        name: p.name,
        shape: p.shape,
        size: p.size,
        offset,
        trained: trained(p),
        decay: decays(p),
      });
      offset = alignUp(offset + p.size, PARAM_ALIGN);
    }
    ends.push(offset);
  }
  return { infos, decayFloats: ends[0], trainedFloats: ends[1], totalFloats: ends[2] };
}
