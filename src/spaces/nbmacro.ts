/**
 * NAS-Bench-Macro (spec §4.6): 8 searchable layers in stages [2, 3, 3], each one of three choices.
 * Text form: the benchmark's 8-digit string (`nbmacro_cifar10.jsonl`'s `arch`), one digit per
 * layer; GenNAS's list form `[0,1,2,0,0,1,2,2]` is accepted too. Key = the string.
 */
import type { GraphBuilder } from "../graph/builder.ts";
import type { Tensor } from "../graph/tensor.ts";
import { allowed, InputError } from "../util/errors.ts";
import type { Rng } from "../util/rng.ts";
import type { SearchSpace } from "./space.ts";

/** Choice i of a layer, as the digit i of the arch string. */
export const NBMACRO_OPS = ["identity", "mbconv_k3_e3", "mbconv_k5_e6"] as const;
export type NbMacroOp = typeof NBMACRO_OPS[number];
export const NBMACRO_STAGES = [2, 3, 3] as const;
export const NBMACRO_LAYERS = 8;
/** init_channels default of spec §4.6 (the initial commit passed 16). */
export const NBMACRO_INIT_CHANNELS = 32;
/** Channels of the final 1×1 conv, the last tap. */
export const NBMACRO_LAST_CHANNELS = 1280;

/** One choice index (0, 1 or 2) per searchable layer, in layer order. */
export interface NbMacroArch {
  choices: number[];
}

const CHOICES = NBMACRO_OPS.map((op, i) => `${i}=${op}`).join(", ");
export const NBMACRO_EXAMPLE_TEXT = "01201122";
const EXAMPLE = NBMACRO_EXAMPLE_TEXT;

function fail(text: string, problem: string): never {
  const shown = text.length > 60 ? `${text.slice(0, 57)}...` : text;
  throw new InputError(`NAS-Bench-Macro arch "${shown}": ${problem}`);
}

/** Parses the 8-digit string (e.g. "01201122") or the list form [0,1,2,0,1,1,2,2]. */
export function parseNbMacro(text: string): NbMacroArch {
  const trimmed = text.trim();
  if (trimmed.startsWith("[")) return parseListForm(trimmed);
  if (trimmed.length !== NBMACRO_LAYERS) {
    fail(
      trimmed,
      `has ${trimmed.length} character(s), expected ${NBMACRO_LAYERS} digits ` +
        `(one per searchable layer, each ${allowed([0, 1, 2])}: ${CHOICES}), e.g. ${EXAMPLE}`,
    );
  }
  return {
    choices: [...trimmed].map((digit, layer) => {
      if (!/^[012]$/.test(digit)) {
        fail(trimmed, `layer ${layer} (digit ${layer + 1}) is "${digit}"; allowed: ${CHOICES}`);
      }
      return Number(digit);
    }),
  };
}

function parseListForm(text: string): NbMacroArch {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    fail(text, `is not valid JSON; expected the list form like [${[...EXAMPLE].join(",")}]`);
  }
  if (!Array.isArray(value) || value.length !== NBMACRO_LAYERS) {
    fail(text, `expected a list of ${NBMACRO_LAYERS} choices (${CHOICES})`);
  }
  return {
    choices: value.map((entry: unknown, layer: number) => {
      if (entry !== 0 && entry !== 1 && entry !== 2) {
        fail(text, `layer ${layer} is ${JSON.stringify(entry)}; allowed: ${CHOICES}`);
      }
      return entry;
    }),
  };
}

/** The benchmark's 8-digit string. */
export function formatNbMacro(arch: NbMacroArch): string {
  const { choices } = arch;
  if (
    !Array.isArray(choices) || choices.length !== NBMACRO_LAYERS ||
    !choices.every((c) => c === 0 || c === 1 || c === 2)
  ) {
    throw new InputError(
      `NAS-Bench-Macro arch must have ${NBMACRO_LAYERS} choices from ${CHOICES}, ` +
        `got ${JSON.stringify(choices)}`,
    );
  }
  return choices.join("");
}

/** Uniform over all 3^8 = 6,561 architectures. */
export function sampleNbMacro(rng: Rng): NbMacroArch {
  return { choices: Array.from({ length: NBMACRO_LAYERS }, () => rng.int(NBMACRO_OPS.length)) };
}

/** One uniformly chosen layer takes one of its two other choices (uniformly): never the parent. */
export function mutateNbMacro(arch: NbMacroArch, rng: Rng): NbMacroArch {
  const layer = rng.int(NBMACRO_LAYERS);
  const choices = [...arch.choices];
  choices[layer] = (choices[layer] + 1 + rng.int(NBMACRO_OPS.length - 1)) % NBMACRO_OPS.length;
  return { choices };
}

export const nbMacroSpace: SearchSpace<NbMacroArch> = {
  name: "nbmacro",
  parse: parseNbMacro,
  format: formatNbMacro,
  key: formatNbMacro,
  sample: sampleNbMacro,
  mutate: mutateNbMacro,
};

// ---------------------------------------------------------------------------------------------
// Network (spec §4.6, GenNAS pynbs/nasbenchmacro/nbmacro.py): stem conv3×3-BN-ReLU, 8 layers
// (stage 1 at C channels and full resolution; the first layer of stages 2 and 3 has stride 2 and
// doubles the channels), then conv1×1 → 1280 (no BN, no ReLU). Taps: the inputs of layers 2 and
// 5, and the 1280-channel output. Parameter names are the state_dict names of
// scripts/golden_nbmacro.py ("model.stem.0", "model.features.<i>.conv.<j>", "model.out.0").

export interface NbMacroNetworkOptions {
  /** Stem and stage-1 channels; 32 by default (spec §4.6). */
  initChannels: number;
}

/** Stride and output channels of each searchable layer for `initChannels` C. */
export function nbMacroLayout(initChannels: number): { stride: number; channels: number }[] {
  const layout: { stride: number; channels: number }[] = [];
  let channels = initChannels;
  NBMACRO_STAGES.forEach((layers, stage) => {
    for (let i = 0; i < layers; i++) {
      const stride = stage > 0 && i === 0 ? 2 : 1;
      if (stride === 2) channels *= 2;
      layout.push({ stride, channels });
    }
  });
  return layout;
}

/** Kernel and expansion ratio of the two MBConv choices. */
const MBCONV: Partial<Record<NbMacroOp, { kernel: number; expansion: number }>> = {
  mbconv_k3_e3: { kernel: 3, expansion: 3 },
  mbconv_k5_e6: { kernel: 5, expansion: 6 },
};

/** Layers whose input is tapped: the ends of stages 1 and 2. */
const TAP_BEFORE = [NBMACRO_STAGES[0], NBMACRO_STAGES[0] + NBMACRO_STAGES[1]];

/** Builds the backbone on `x` and returns the three taps (C at 32², 2C at 16², 1280 at 8²). */
export function buildNbMacroNetwork(
  g: GraphBuilder,
  x: Tensor,
  arch: NbMacroArch,
  o: NbMacroNetworkOptions,
): Tensor[] {
  formatNbMacro(arch); // validates the choices
  const name = "model";
  const c = o.initChannels;
  const stem = g.conv2d(`${name}.stem.0`, x, { outChannels: c, kernel: 3, pad: 1, bias: false });
  let h = g.batchNorm(`${name}.stem.1`, stem, { affine: true, track: true, relu: true });
  const taps: Tensor[] = [];
  nbMacroLayout(c).forEach(({ stride, channels }, i) => {
    if (TAP_BEFORE.includes(i)) taps.push(h);
    const layer = `${name}.features.${i}`;
    const block = MBCONV[NBMACRO_OPS[arch.choices[i]]];
    h = block
      ? mbConv(g, layer, h, channels, stride, block)
      : identityLayer(g, layer, h, channels, stride);
  });
  const last = g.conv2d(`${name}.out.0`, h, {
    outChannels: NBMACRO_LAST_CHANNELS,
    kernel: 1,
    bias: false,
  });
  taps.push(last);
  return taps;
}

/** x itself, or conv1×1 (stride) + BN where the stride or the channel count changes. */
function identityLayer(
  g: GraphBuilder,
  name: string,
  x: Tensor,
  channels: number,
  stride: number,
): Tensor {
  if (stride === 1 && channels === x.c) return x;
  const conv = g.conv2d(`${name}.downsample.0`, x, {
    outChannels: channels,
    kernel: 1,
    stride,
    bias: false,
  });
  return g.batchNorm(`${name}.downsample.1`, conv, { affine: true, track: true });
}

/**
 * Inverted residual: pw 1×1 → BN-ReLU → dw k×k (stride) → BN-ReLU → pw 1×1 → BN, plus x when the
 * shapes match. Module indices as in the reference's nn.Sequential (ReLUs at 2 and 5, fused).
 */
function mbConv(
  g: GraphBuilder,
  name: string,
  x: Tensor,
  channels: number,
  stride: number,
  { kernel, expansion }: { kernel: number; expansion: number },
): Tensor {
  const hidden = x.c * expansion;
  const bn = { affine: true, track: true };
  const expand = g.conv2d(`${name}.conv.0`, x, { outChannels: hidden, kernel: 1, bias: false });
  const a = g.batchNorm(`${name}.conv.1`, expand, { ...bn, relu: true });
  const depthwise = g.conv2d(`${name}.conv.3`, a, {
    outChannels: hidden,
    kernel,
    stride,
    pad: (kernel - 1) / 2,
    groups: hidden,
    bias: false,
  });
  const b = g.batchNorm(`${name}.conv.4`, depthwise, { ...bn, relu: true });
  const project = g.conv2d(`${name}.conv.6`, b, { outChannels: channels, kernel: 1, bias: false });
  const y = g.batchNorm(`${name}.conv.7`, project, bn);
  return stride === 1 && channels === x.c ? g.addInto(`${name}.shortcut`, x, y) : y;
}
