/**
 * The NDS cell ops on a GraphBuilder, as pycls/models/nas/operations.py defines them (affine BN,
 * bias-free convs, PyTorch default init). Parameter names follow the PyTorch modules of
 * scripts/golden_nds.py: `op.<i>` indices of the nn.Sequential (ReLUs take an index but are fused
 * into the next conv's input), FactorizedReduce's `conv_1`, `conv_2`, `bn`.
 */
import type { GraphBuilder } from "../graph/builder.ts";
import type { Tensor } from "../graph/tensor.ts";
import type { NdsOp } from "./nds_cell.ts";

const BN = { affine: true, track: true };

/**
 * ReLU → conv (k, stride, pad) → BN: pycls ReLUConvBN (params `${name}.op.1`, `.op.2`), or with
 * `bare` the nn.Sequential of the conv_1x1 / conv_3x3 ops (`${name}.1`, `.2`).
 */
export function reluConvBn(
  g: GraphBuilder,
  name: string,
  x: Tensor,
  channels: number,
  kernel: number,
  stride: number,
  pad: number,
  into?: Tensor,
  bare = false,
): Tensor {
  const at = bare ? name : `${name}.op`;
  const conv = g.conv2d(`${at}.1`, x, {
    outChannels: channels,
    kernel,
    stride,
    pad,
    bias: false,
    reluInput: true,
  });
  return g.batchNorm(`${at}.2`, conv, BN, into);
}

/** ReLU → [1×1 stride 2 on x ‖ 1×1 stride 2 on pad(x)[:, :, 1:, 1:]] → BN. */
export function factorizedReduce(
  g: GraphBuilder,
  name: string,
  x: Tensor,
  channels: number,
  into?: Tensor,
): Tensor {
  if (channels % 2 !== 0) throw new Error(`${name}: FactorizedReduce needs even channels`);
  const half = { outChannels: channels / 2, kernel: 1, bias: false, reluInput: true };
  const a = g.conv2d(`${name}.conv_1`, x, { ...half, stride: 2 });
  // The 1×1 conv commutes with the spatial pick, so pick first and convolve at stride 1.
  const shifted = g.pick(`${name}.shift`, x, 2, 1);
  const b = g.conv2d(`${name}.conv_2`, shifted, half);
  const joined = g.concat(`${name}.cat`, [a, b]);
  return g.batchNorm(`${name}.bn`, joined, BN, into);
}

/** Depthwise k×k (dilation, stride) → 1×1, with the ReLU before fused; returns the 1×1 output. */
function dwPw(
  g: GraphBuilder,
  name: string,
  x: Tensor,
  [dw, pw]: [number, number],
  o: { kernel: number; stride: number; pad: number; dilation: number; out: number },
): Tensor {
  const depthwise = g.conv2d(`${name}.op.${dw}`, x, {
    outChannels: x.c,
    kernel: o.kernel,
    stride: o.stride,
    pad: o.pad,
    dilation: o.dilation,
    groups: x.c,
    bias: false,
    reluInput: true,
  });
  return g.conv2d(`${name}.op.${pw}`, depthwise, { outChannels: o.out, kernel: 1, bias: false });
}

/** SepConv (dilation 1) and DilSepConv: (ReLU → dw → 1×1 → BN) twice, the first at `stride`. */
function sepConv(
  g: GraphBuilder,
  name: string,
  x: Tensor,
  o: { kernel: number; stride: number; pad: number; dilation: number },
  into?: Tensor,
): Tensor {
  const first = dwPw(g, name, x, [1, 2], { ...o, out: x.c });
  const mid = g.batchNorm(`${name}.op.3`, first, BN);
  const second = dwPw(g, name, mid, [5, 6], { ...o, stride: 1, out: x.c });
  return g.batchNorm(`${name}.op.7`, second, BN, into);
}

/** DilConv: ReLU → dw (dilation) → 1×1 → BN. */
function dilConv(
  g: GraphBuilder,
  name: string,
  x: Tensor,
  o: { kernel: number; stride: number; pad: number; dilation: number },
  into?: Tensor,
): Tensor {
  const y = dwPw(g, name, x, [1, 2], { ...o, out: x.c });
  return g.batchNorm(`${name}.op.3`, y, BN, into);
}

/** ReLU → conv 1×k (stride 1, s) → conv k×1 (stride s, 1) → BN (a bare nn.Sequential). */
function factorizedConv(
  g: GraphBuilder,
  name: string,
  x: Tensor,
  k: number,
  stride: number,
  into?: Tensor,
): Tensor {
  const p = (k - 1) / 2;
  const row = g.conv2d(`${name}.1`, x, {
    outChannels: x.c,
    kernel: [1, k],
    stride: [1, stride],
    pad: [0, p],
    bias: false,
    reluInput: true,
  });
  const col = g.conv2d(`${name}.2`, row, {
    outChannels: x.c,
    kernel: [k, 1],
    stride: [stride, 1],
    pad: [p, 0],
    bias: false,
  });
  return g.batchNorm(`${name}.3`, col, BN, into);
}

/** Whether `op` at `stride` is the identity (no tensor of its own). */
export function isIdentity(op: NdsOp, stride: number): boolean {
  return op === "skip_connect" && stride === 1;
}

/**
 * Applies `op` (C → C channels) to x, writing a new tensor or adding into `into`; undefined for
 * `none` (a zero contributes nothing to the node's sum). The identity copies x (or adds it).
 */
export function applyNdsOp(
  g: GraphBuilder,
  name: string,
  op: NdsOp,
  x: Tensor,
  stride: number,
  into?: Tensor,
): Tensor | undefined {
  const pool = (kernel: number) => ({ kernel, stride, pad: (kernel - 1) / 2 });
  switch (op) {
    case "none":
      return undefined;
    case "avg_pool_3x3":
      return g.avgPool(name, x, { ...pool(3), countIncludePad: false }, into);
    case "max_pool_3x3":
      return g.maxPool(name, x, pool(3), into);
    case "max_pool_5x5":
      return g.maxPool(name, x, pool(5), into);
    case "max_pool_7x7":
      return g.maxPool(name, x, pool(7), into);
    case "skip_connect":
      return stride === 1 ? g.addInto(name, x, into) : factorizedReduce(g, name, x, x.c, into);
    case "conv_1x1":
      return reluConvBn(g, name, x, x.c, 1, stride, 0, into, true);
    case "conv_3x3":
      return reluConvBn(g, name, x, x.c, 3, stride, 1, into, true);
    case "sep_conv_3x3":
      return sepConv(g, name, x, { kernel: 3, stride, pad: 1, dilation: 1 }, into);
    case "sep_conv_5x5":
      return sepConv(g, name, x, { kernel: 5, stride, pad: 2, dilation: 1 }, into);
    case "sep_conv_7x7":
      return sepConv(g, name, x, { kernel: 7, stride, pad: 3, dilation: 1 }, into);
    case "dil_conv_3x3":
      return dilConv(g, name, x, { kernel: 3, stride, pad: 2, dilation: 2 }, into);
    case "dil_conv_5x5":
      return dilConv(g, name, x, { kernel: 5, stride, pad: 4, dilation: 2 }, into);
    case "dil_sep_conv_3x3":
      return sepConv(g, name, x, { kernel: 3, stride, pad: 2, dilation: 2 }, into);
    case "conv_3x1_1x3":
      return factorizedConv(g, name, x, 3, stride, into);
    case "conv_7x1_1x7":
      return factorizedConv(g, name, x, 7, stride, into);
  }
}
