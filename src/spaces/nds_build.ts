/**
 * The NDS cell network (spec §4.3, pycls NetworkCIFAR / NetworkImageNet with the stems at stride
 * 1 for the `_in` variants) and its three GenNAS taps: s1 before cells ⌊L/3⌋ and ⌊2L/3⌋ (the
 * reduction cells) and the last cell's output. Parameter names are the state_dict names of
 * scripts/golden_nds.py (`model.stem.*` / `model.stem0.*`, `model.stem1.*`,
 * `model.cells.<i>.preprocess{0,1}.*`, `model.cells.<i>._ops.<j>.*`).
 */
import type { GraphBuilder } from "../graph/builder.ts";
import type { Tensor } from "../graph/tensor.ts";
import { type NdsArch, type NdsCellSpaceDef, validateNds } from "./nds_cell.ts";
import { applyNdsOp, factorizedReduce, isIdentity, reluConvBn } from "./nds_ops.ts";

const BN = { affine: true, track: true };

/** Whether cell i of a depth-L network is a reduction cell. */
export function isReductionCell(i: number, depth: number): boolean {
  return i === Math.floor(depth / 3) || i === Math.floor((2 * depth) / 3);
}

interface CellInputs {
  s0: Tensor;
  s1: Tensor;
  channels: number;
  reduction: boolean;
  reductionPrev: boolean;
}

function buildCell(
  g: GraphBuilder,
  name: string,
  arch: NdsArch,
  { s0, s1, channels, reduction, reductionPrev }: CellInputs,
): Tensor {
  const p0 = reductionPrev
    ? factorizedReduce(g, `${name}.preprocess0`, s0, channels)
    : reluConvBn(g, `${name}.preprocess0`, s0, channels, 1, 1, 0);
  const p1 = reluConvBn(g, `${name}.preprocess1`, s1, channels, 1, 1, 0);
  const entries = reduction ? arch.reduce : arch.normal;
  const concat = reduction ? arch.reduceConcat : arch.normalConcat;
  const states = [p0, p1];
  for (let node = 0; node < entries.length / 2; node++) {
    const parts = [2 * node, 2 * node + 1].map((j) => {
      const [op, input] = entries[j];
      return { j, op, x: states[input], stride: reduction && input < 2 ? 2 : 1 };
    }).filter((p) => p.op !== "none");
    // Ops with a tensor of their own first, so the identity adds into it instead of copying.
    parts.sort((a, b) => Number(isIdentity(a.op, a.stride)) - Number(isIdentity(b.op, b.stride)));
    let sum: Tensor | undefined;
    for (const p of parts) sum = applyNdsOp(g, `${name}._ops.${p.j}`, p.op, p.x, p.stride, sum);
    if (!sum) {
      const h = reduction ? Math.ceil(p1.h / 2) : p1.h;
      const w = reduction ? Math.ceil(p1.w / 2) : p1.w;
      sum = g.zeros(`${name}.node${node}.zero`, [p1.n, channels, h, w]);
    }
    states.push(sum);
  }
  return g.concat(`${name}.out`, concat.map((s) => states[s]));
}

/**
 * The width built for `width` under --width-scale `scale`: the nearest even integer (the
 * ImageNet stem halves it, FactorizedReduce splits it), at least 2; `width` itself without scale.
 */
export function scaledNdsWidth(width: number, scale = 1): number {
  if (scale === 1) return width;
  return Math.max(2, 2 * Math.round((width * scale) / 2));
}

/**
 * Stem → `depth` cells; returns the taps [before cell ⌊L/3⌋, before cell ⌊2L/3⌋, last cell].
 * The architecture is validated at its own width; `widthScale` only changes the width built.
 */
export function buildNdsNetwork(
  g: GraphBuilder,
  x: Tensor,
  def: NdsCellSpaceDef,
  arch: NdsArch,
  o: { widthScale?: number } = {},
): Tensor[] {
  validateNds(def, arch);
  const c = scaledNdsWidth(arch.width, o.widthScale);
  const conv = (name: string, input: Tensor, out: number, relu = false) =>
    g.conv2d(name, input, { outChannels: out, kernel: 3, pad: 1, bias: false, reluInput: relu });
  let s0: Tensor;
  let s1: Tensor;
  if (def.imagenet) {
    // stem0: conv(3 → C/2) BN ReLU conv(→ C) BN; stem1: ReLU conv BN, every stride 1 (spec §4.3).
    const a = g.batchNorm("model.stem0.1", conv("model.stem0.0", x, c / 2), { ...BN, relu: true });
    s0 = g.batchNorm("model.stem0.4", conv("model.stem0.3", a, c), BN);
    s1 = g.batchNorm("model.stem1.2", conv("model.stem1.1", s0, c, true), BN);
  } else {
    s0 = s1 = g.batchNorm("model.stem.1", conv("model.stem.0", x, 3 * c), BN);
  }
  const taps: Tensor[] = [];
  let channels = c;
  let reductionPrev = false;
  for (let i = 0; i < arch.depth; i++) {
    const reduction = isReductionCell(i, arch.depth);
    if (reduction) {
      channels *= 2;
      taps.push(s1);
    }
    const out = buildCell(g, `model.cells.${i}`, arch, {
      s0,
      s1,
      channels,
      reduction,
      reductionPrev,
    });
    [s0, s1] = [s1, out];
    reductionPrev = reduction;
  }
  taps.push(s1);
  return taps;
}
