/** The registry of search spaces that gennas can score, sample and search. */
import type { GraphBuilder } from "../graph/builder.ts";
import type { Tensor } from "../graph/tensor.ts";
import { allowed, InputError } from "../util/errors.ts";
import { buildNb101Network, nb101FromJson, nb101Space, type Nb101Spec } from "./nb101.ts";
import { buildNb201Network, type Nb201Arch, nb201Space, parseNb201 } from "./nb201.ts";
import {
  buildNbMacroNetwork,
  NBMACRO_INIT_CHANNELS,
  type NbMacroArch,
  nbMacroSpace,
} from "./nbmacro.ts";
import { type NbNlpArch, nbNlpOverPool, nbNlpSpace } from "./nbnlp.ts";
import { buildNbNlpNetwork } from "./nbnlp_build.ts";
import { isNdsSpace, ndsSpace } from "./nds.ts";
import { type SearchSpace, SPACE_NAMES, type SpaceName } from "./space.ts";
import {
  ANYNET_EXAMPLES,
  type AnyNetArch,
  anyNetFromJson,
  anyNetOverRecords,
  anyNetSpace,
  type AnyNetSpaceName,
  isAnyNetSpace,
} from "./anynet.ts";
import { buildAnyNetNetwork } from "./anynet_build.ts";

export interface BackboneOptions {
  initChannels: number;
  /** NB-101 only: backbone init ("pytorch" default, or the reference HEAD's Kaiming fan-out). */
  nb101Init?: "pytorch" | "kaiming-fan-out";
  /**
   * NDS cell and AnyNet spaces only: multiplies each architecture's width (see scaledNdsWidth,
   * scaledAnyNetConfig).
   */
  widthScale?: number;
}

/**
 * What the proxy regresses: "image" — build() returns stage taps of an N×3×32×32 input, each
 * gets a BN + 1×1 conv head (CNN tasks); "sequence" — buildSequence() maps the [L·B, d] input
 * sequence to one [L·B, d] output, regressed by plain MSE (NLP tasks, spec §5.2).
 */
export type ProxyKind = "image" | "sequence";

export interface SequenceOptions {
  length: number;
  batch: number;
  /** nbnlp: train the raw hidden-to-hidden weights that WeightDrop otherwise freezes. */
  trainRecurrent: boolean;
  /** Seeds dropout masks (the same for every architecture of a run). */
  seed: number;
  /** nbnlp: fuse each step's nodes (default true; src/spaces/nbnlp_fuse.ts). */
  fuse?: boolean;
  /** Storage buffers one fused kernel may bind (the device's limit; default WebGPU's least, 8). */
  maxBindings?: number;
  /** false: build without dropout (the zero-cost proxies' deterministic build). */
  dropout?: boolean;
}

/** Optimizer defaults of a space; flags override lr and weight decay. */
export interface OptimizerDefaults {
  kind: "sgd" | "adam";
  lr: number;
  weightDecay: number;
}

/** A search space that can also build its backbone and name a default architecture. */
export interface NetworkSpace<A> extends SearchSpace<A> {
  /** Builds the backbone on x (N×3×32×32) and returns its three stage taps. */
  build(g: GraphBuilder, x: Tensor, arch: A, o: BackboneOptions): Tensor[];
  /** A well-known architecture of the space, for first runs and smoke tests. */
  readonly example: string;
  /** The architecture of a ground-truth row, from its key and the table's extra value for it
   *  (NB-201: the key is the arch string; NB-101: the extra value is the {matrix, ops} cell). */
  fromTable(key: string, extra: unknown): A;
  /** init channels when the user gives none (the proxy default, 16, when absent). */
  readonly defaultInitChannels?: number;
  /** "image" when absent. */
  readonly proxy?: ProxyKind;
  /** Sequence spaces: input [L·B, d] → output [L·B, d]. */
  buildSequence?(g: GraphBuilder, x: Tensor, arch: A, o: SequenceOptions): Tensor;
  /** SGD lr 0.1, momentum 0.9, weight decay 4e-5 (spec §5.1) when absent. */
  readonly optimizer?: OptimizerDefaults;
  /** The task when the user names none ("combo" when absent). */
  readonly defaultTask?: string;
  /** Where a search with a truth table draws from the table's rows (AnyNet, spec §8; nbnlp's
   *  nearest-cell mutation): the space whose sample/mutate pick rows, given the table's extra
   *  values (the records). */
  overTable?(extras: readonly unknown[]): NetworkSpace<A>;
  /** The benchmark's classifier applies BN + ReLU before its global pooling (NB-201 lastact). */
  readonly classifierLastAct?: boolean;
  /** Whether build() honours BackboneOptions.widthScale (--width-scale). */
  readonly widthScalable?: boolean;
}

export const NB201: NetworkSpace<Nb201Arch> = {
  ...nb201Space,
  build: (g, x, arch, o) => buildNb201Network(g, x, arch, { initChannels: o.initChannels }),
  fromTable: (key) => parseNb201(key),
  classifierLastAct: true,
  // The best CIFAR-10 cell of NAS-Bench-201 (94.37 %).
  example:
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
};

export const NB101: NetworkSpace<Nb101Spec> = {
  ...nb101Space,
  build: (g, x, spec, o) =>
    buildNb101Network(g, x, spec, { initChannels: o.initChannels, init: o.nb101Init }),
  fromTable: (_key, extra) => nb101FromJson(extra),
  // The example cell of the NAS-Bench-101 documentation (hash 00005c142e6f48ac74fdcf73e3439874).
  example: JSON.stringify({
    matrix: [
      [0, 1, 0, 0, 1, 1, 0],
      [0, 0, 1, 0, 0, 0, 0],
      [0, 0, 0, 1, 0, 0, 1],
      [0, 0, 0, 0, 0, 1, 0],
      [0, 0, 0, 0, 0, 1, 0],
      [0, 0, 0, 0, 0, 0, 1],
      [0, 0, 0, 0, 0, 0, 0],
    ],
    ops: [
      "input",
      "conv3x3-bn-relu",
      "maxpool3x3",
      "conv3x3-bn-relu",
      "conv3x3-bn-relu",
      "conv1x1-bn-relu",
      "output",
    ],
  }),
};

export const NBMACRO: NetworkSpace<NbMacroArch> = {
  ...nbMacroSpace,
  build: (g, x, arch, o) => buildNbMacroNetwork(g, x, arch, { initChannels: o.initChannels }),
  fromTable: (key) => nbMacroSpace.parse(key),
  // The best CIFAR-10 architecture of NAS-Bench-Macro (mean of 3 runs 93.13 %, tied with 22212220).
  example: "22212202",
  defaultInitChannels: NBMACRO_INIT_CHANNELS,
};

export const NBNLP: NetworkSpace<NbNlpArch> = {
  ...nbNlpSpace,
  build: () => {
    throw new Error("nbnlp is a sequence space: use buildSequence");
  },
  proxy: "sequence",
  buildSequence: (g, x, arch, o) => buildNbNlpNetwork(g, x, arch.cell, arch.args, o),
  fromTable: (_key, extra) => extra as NbNlpArch,
  // NAS-Bench-NLP recepie 1000000, a plain tanh RNN.
  example:
    '{"f":{"op":"linear","input":["x","h_prev_0"]},"h_new_0":{"op":"activation_tanh","input":["f"]}}',
  // Adam lr 1e-3 (paper, initial commit); weight decay = the PTB logs' wdecay (spec §5.2).
  optimizer: { kind: "adam", lr: 1e-3, weightDecay: 1.2e-6 },
  defaultTask: "nlp-search",
  overTable: (extras) => ({
    ...NBNLP,
    ...nbNlpOverPool(nbNlpSpace, "the truth table", extras as NbNlpArch[]),
  }),
};
/** ResNet / ResNeXt-A / ResNeXt-B and their `_in` names (spec §4.4): an arch is an NDS `net`
 *  record; widths come from it (the stem is always 12), so --init-channels does not apply. */
export function anyNetNetworkSpace(name: AnyNetSpaceName): NetworkSpace<AnyNetArch> {
  const network = {
    build: (g: GraphBuilder, x: Tensor, arch: AnyNetArch, o?: BackboneOptions) =>
      buildAnyNetNetwork(g, x, arch, { widthScale: o?.widthScale }),
    widthScalable: true,
    fromTable: (_key: string, extra: unknown) => anyNetFromJson(extra),
    example: ANYNET_EXAMPLES[name.replace(/_in$/, "") as keyof typeof ANYNET_EXAMPLES],
  };
  const base = anyNetSpace(name);
  return {
    ...base,
    ...network,
    overTable: (extras) => ({
      ...anyNetOverRecords(base, extras.map(anyNetFromJson)),
      ...network,
    }),
  };
}

/**
 * `name` is a space name, for the NDS cell spaces optionally with the width and depth that text
 * without them and sampling use: `darts@w16d8` (what --width 16 --depth 8 give).
 */
export function getSpace(name: string): NetworkSpace<unknown> {
  const nds = name.match(/^([a-z-_]+)@(?:w(\d+))?(?:d(\d+))?$/);
  const base = nds ? nds[1] : name;
  if (isNdsSpace(base)) {
    const o = nds
      ? { width: nds[2] ? Number(nds[2]) : undefined, depth: nds[3] ? Number(nds[3]) : undefined }
      : {};
    const space = ndsSpace(base, o);
    return {
      ...space,
      build: (g, x, arch, b) => space.build(g, x, arch as never, b),
      widthScalable: true,
    } as NetworkSpace<unknown>;
  }
  switch (name) {
    case "nb201":
      return NB201 as NetworkSpace<unknown>;
    case "nb101":
      return NB101 as NetworkSpace<unknown>;
    case "nbmacro":
      return NBMACRO as NetworkSpace<unknown>;
    case "nbnlp":
      return NBNLP as NetworkSpace<unknown>;
    default:
      if (isAnyNetSpace(name)) return anyNetNetworkSpace(name) as NetworkSpace<unknown>;
      throw new InputError(`--space "${name}" is not supported; allowed: ${allowed(SPACE_NAMES)}`);
  }
}

export { SPACE_NAMES };
export type { SpaceName };
