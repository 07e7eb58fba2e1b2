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
import { isNdsSpace, ndsSpace } from "./nds.ts";
import { type SearchSpace, SPACE_NAMES, type SpaceName } from "./space.ts";

export interface BackboneOptions {
  initChannels: number;
  /** NB-101 only: backbone init ("pytorch" default, or the reference HEAD's Kaiming fan-out). */
  nb101Init?: "pytorch" | "kaiming-fan-out";
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
}

export const NB201: NetworkSpace<Nb201Arch> = {
  ...nb201Space,
  build: (g, x, arch, o) => buildNb201Network(g, x, arch, { initChannels: o.initChannels }),
  fromTable: (key) => parseNb201(key),
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
    return { ...space, build: (g, x, arch) => space.build(g, x, arch as never) } as NetworkSpace<
      unknown
    >;
  }
  switch (name) {
    case "nb201":
      return NB201 as NetworkSpace<unknown>;
    case "nb101":
      return NB101 as NetworkSpace<unknown>;
    case "nbmacro":
      return NBMACRO as NetworkSpace<unknown>;
    default:
      throw new InputError(`--space "${name}" is not supported; allowed: ${allowed(SPACE_NAMES)}`);
  }
}

export { SPACE_NAMES };
export type { SpaceName };
