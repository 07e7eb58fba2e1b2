/**
 * The AnyNet backbone GenNAS regresses from (spec §4.4; pycls AnyNet as wrapped by the reference's
 * ResNetSeriesWrapper): stem conv 3×3 (3 → 12) + BN + ReLU, then four stages of d blocks (the
 * first with the stage stride and the width change). Parameter names are the PyTorch state_dict
 * names of scripts/golden_anynet.py ("model.stem.conv", "model.s2.b1.f.a_bn", …). Convs are drawn
 * from N(0, √(2/fan_out)) with fan_out = k²·C_out (pycls init_weights; groups do not enter), BN
 * γ 1 β 0, eps 1e-5, momentum 0.1. The unused classifier (AnyHead) is not built.
 *
 * Taps: the outputs of stages 2, 3 and 4 before their last ReLU (the wrapper replaces it by an
 * identity); the ReLU is applied to what feeds the next stage. Stage 4 is 8×8 (validated).
 */
import type { GraphBuilder } from "../graph/builder.ts";
import type { Tensor } from "../graph/tensor.ts";
import {
  ANYNET_STAGES,
  ANYNET_STEM_WIDTH,
  type AnyNetArch,
  type AnyNetConfig,
  anyNetConfig,
  anyNetFromJson,
  bottleneckWidth,
} from "./anynet.ts";

const BN = { affine: true, track: true, eps: 1e-5, momentum: 0.1 };

interface ConvSpec {
  out: number;
  kernel: number;
  stride?: number;
  groups?: number;
}

function conv(g: GraphBuilder, name: string, x: Tensor, c: ConvSpec): Tensor {
  const fanOut = c.kernel * c.kernel * c.out;
  return g.conv2d(name, x, {
    outChannels: c.out,
    kernel: c.kernel,
    stride: c.stride ?? 1,
    pad: (c.kernel - 1) / 2,
    groups: c.groups ?? 1,
    bias: false,
    weightInit: { kind: "normal", std: Math.sqrt(2 / fanOut) },
  });
}

function convBn(g: GraphBuilder, conv_: string, bn: string, x: Tensor, c: ConvSpec, relu: boolean) {
  return g.batchNorm(bn, conv(g, conv_, x, c), { ...BN, relu });
}

interface BlockArgs {
  wOut: number;
  stride: number;
  bm?: number;
  gw?: number;
}

/** The block's output before its final ReLU. */
function block(
  g: GraphBuilder,
  kind: string,
  name: string,
  x: Tensor,
  b: BlockArgs,
): Tensor {
  const { wOut, stride } = b;
  if (kind === "vanilla_block") {
    const a = convBn(g, `${name}.a`, `${name}.a_bn`, x, { out: wOut, kernel: 3, stride }, true);
    return convBn(g, `${name}.b`, `${name}.b_bn`, a, { out: wOut, kernel: 3 }, false);
  }
  const f = `${name}.f`;
  let y: Tensor;
  if (kind === "res_basic_block") {
    const a = convBn(g, `${f}.a`, `${f}.a_bn`, x, { out: wOut, kernel: 3, stride }, true);
    y = convBn(g, `${f}.b`, `${f}.b_bn`, a, { out: wOut, kernel: 3 }, false);
  } else {
    const wb = bottleneckWidth(wOut, b.bm!);
    const a = convBn(g, `${f}.a`, `${f}.a_bn`, x, { out: wb, kernel: 1 }, true);
    const groups = wb / b.gw!;
    const mid = convBn(g, `${f}.b`, `${f}.b_bn`, a, { out: wb, kernel: 3, stride, groups }, true);
    y = convBn(g, `${f}.c`, `${f}.c_bn`, mid, { out: wOut, kernel: 1 }, false);
  }
  const shortcut = x.c !== wOut || stride !== 1
    ? convBn(g, `${name}.proj`, `${name}.bn`, x, { out: wOut, kernel: 1, stride }, false)
    : x;
  return g.addInto(`${name}.add`, shortcut, y);
}

/**
 * The stage widths (and group widths) built under --width-scale `scale`, as pycls quantises
 * them: w' = round(w · scale) ≥ 1; for bottleneck blocks the group width becomes min(gw, w_b')
 * and w_b' the nearest multiple of it (≥ one group), w' the width whose bottleneck is w_b'
 * (exact for the tables' bot_muls 1, 1/2, 1/4; the nearest integer that works otherwise, else
 * one channel per group). Depths, strides and the stem (12) keep their values.
 */
export function scaledAnyNetConfig(config: AnyNetConfig, scale = 1): AnyNetConfig {
  if (scale === 1) return config;
  const ws: number[] = [];
  const gws: number[] = [];
  config.ws.forEach((w, i) => {
    const scaled = Math.max(1, Math.round(w * scale));
    if (!config.bms) {
      ws.push(scaled);
      return;
    }
    const bm = config.bms[i];
    const wb = Math.max(1, bottleneckWidth(scaled, bm));
    let gw = Math.min(config.gws![i], wb);
    const target = Math.max(gw, Math.round(wb / gw) * gw);
    const guess = Math.max(1, Math.round(target / bm));
    let width = [guess, guess - 1, guess + 1, guess - 2, guess + 2]
      .find((v) => v >= 1 && bottleneckWidth(v, bm) === target);
    if (width === undefined) {
      width = scaled;
      gw = 1;
    }
    ws.push(width);
    gws.push(gw);
  });
  return { ...config, ws, ...(config.bms ? { gws } : {}) };
}

/** Builds the backbone on x (N×3×32×32) and returns the three taps (stages 2, 3 and 4). */
export function buildAnyNetNetwork(
  g: GraphBuilder,
  x: Tensor,
  arch: AnyNetArch,
  o: { widthScale?: number } = {},
): Tensor[] {
  // Validated again (arch may be hand-made), at its own widths: the scale only changes what is
  // built.
  const config = scaledAnyNetConfig(anyNetConfig(anyNetFromJson(arch)), o.widthScale);
  let h = convBn(
    g,
    "model.stem.conv",
    "model.stem.bn",
    x,
    { out: ANYNET_STEM_WIDTH, kernel: 3 },
    true,
  );
  const taps: Tensor[] = [];
  for (let s = 0; s < ANYNET_STAGES; s++) {
    for (let i = 0; i < config.ds[s]; i++) {
      const name = `model.s${s + 1}.b${i + 1}`;
      const preRelu = block(g, config.block, name, h, {
        wOut: config.ws[s],
        stride: i === 0 ? config.ss[s] : 1,
        bm: config.bms?.[s],
        gw: config.gws?.[s],
      });
      const last = i === config.ds[s] - 1;
      if (last && s >= 1) taps.push(preRelu);
      if (!(last && s === ANYNET_STAGES - 1)) h = g.unary(`${name}.relu`, "relu", preRelu);
    }
  }
  return taps;
}
