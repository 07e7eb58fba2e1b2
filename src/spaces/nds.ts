/**
 * The NDS cell spaces (spec §4.3; op sets, nodes and concat rules as ../shared/data/README.md reads
 * them from the NDS tables): one small definition per space, each also as an `_in` (ImageNet
 * network, stride-1 stems) variant. Genotype rules live in nds_cell.ts, the network in
 * nds_build.ts.
 */
import { InputError } from "../util/errors.ts";
import type { GraphBuilder } from "../graph/builder.ts";
import type { Tensor } from "../graph/tensor.ts";
import type { Rng } from "../util/rng.ts";
import { buildNdsNetwork } from "./nds_build.ts";
import { tableFileRows } from "./table_file.ts";
import {
  formatNds,
  mutateNds,
  type NdsArch,
  type NdsCellSpaceDef,
  ndsFromJson,
  ndsKey,
  type NdsOp,
  type NdsParseDefaults,
  parseNds,
  sampleNds,
} from "./nds_cell.ts";

const DARTS_OPS: NdsOp[] = [
  "none",
  "max_pool_3x3",
  "avg_pool_3x3",
  "skip_connect",
  "sep_conv_3x3",
  "sep_conv_5x5",
  "dil_conv_3x3",
  "dil_conv_5x5",
];
const ENAS_OPS: NdsOp[] = [
  "avg_pool_3x3",
  "max_pool_3x3",
  "skip_connect",
  "sep_conv_3x3",
  "sep_conv_5x5",
];
const PNAS_OPS: NdsOp[] = [
  "avg_pool_3x3",
  "max_pool_3x3",
  "skip_connect",
  "sep_conv_3x3",
  "sep_conv_5x5",
  "sep_conv_7x7",
  "dil_conv_3x3",
  "conv_7x1_1x7",
];
const AMOEBA_OPS: NdsOp[] = [
  "avg_pool_3x3",
  "max_pool_3x3",
  "skip_connect",
  "sep_conv_3x3",
  "sep_conv_5x5",
  "sep_conv_7x7",
  "dil_sep_conv_3x3",
  "conv_7x1_1x7",
];
const NASNET_OPS: NdsOp[] = [
  "avg_pool_3x3",
  "max_pool_3x3",
  "max_pool_5x5",
  "max_pool_7x7",
  "skip_connect",
  "conv_1x1",
  "conv_3x3",
  "conv_3x1_1x3",
  "conv_7x1_1x7",
  "sep_conv_3x3",
  "sep_conv_5x5",
  "sep_conv_7x7",
  "dil_conv_3x3",
];

interface Family {
  base: string;
  label: string;
  ops: NdsOp[];
  nodes: number;
  concat: "all" | "loose";
  fixed: boolean;
  /** Table file of the `_in` variant (../shared/data). */
  table?: string;
}

const FAMILIES: Family[] = [
  { base: "darts", label: "DARTS", ops: DARTS_OPS, nodes: 4, concat: "all", fixed: false },
  { base: "darts-fix-w-d", label: "DARTS", ops: DARTS_OPS, nodes: 4, concat: "all", fixed: true },
  { base: "enas", label: "ENAS", ops: ENAS_OPS, nodes: 5, concat: "loose", fixed: false },
  { base: "enas-fix-w-d", label: "ENAS", ops: ENAS_OPS, nodes: 5, concat: "loose", fixed: true },
  { base: "pnas", label: "PNAS", ops: PNAS_OPS, nodes: 5, concat: "all", fixed: false },
  { base: "pnas-fix-w-d", label: "PNAS", ops: PNAS_OPS, nodes: 5, concat: "all", fixed: true },
  { base: "amoeba", label: "Amoeba", ops: AMOEBA_OPS, nodes: 5, concat: "loose", fixed: false },
  { base: "nasnet", label: "NASNet", ops: NASNET_OPS, nodes: 5, concat: "loose", fixed: false },
];

const TABLES: Record<string, string> = {
  darts_in: "nds_DARTS_in.jsonl",
  "darts-fix-w-d_in": "nds_DARTS_fix-w-d_in.jsonl",
  enas_in: "nds_ENAS_in.jsonl",
  pnas_in: "nds_PNAS_in.jsonl",
  amoeba_in: "nds_Amoeba_in.jsonl",
  nasnet_in: "nds_NASNet_in.jsonl",
};

/**
 * Widths/depths: `_in` as in the ImageNet tables (32–96 by 16, 6–22 by 4; fix-w-d 32 and 22);
 * CIFAR per the NDS paper as spec §4.3 quotes it ({16, 24, 32}, {4, 8, …, 20}; fix-w-d 32, 20),
 * not checked against a CIFAR table (none is in ../shared/data).
 */
function definition(f: Family, imagenet: boolean): NdsCellSpaceDef {
  const name = imagenet ? `${f.base}_in` : f.base;
  const widths = f.fixed ? [32] : imagenet ? [32, 48, 64, 80, 96] : [16, 24, 32];
  const depths = f.fixed
    ? [imagenet ? 22 : 20]
    : imagenet
    ? [6, 10, 14, 18, 22]
    : [4, 8, 12, 16, 20];
  return {
    name,
    label: f.label + (f.fixed ? " fix-w-d" : "") + (imagenet ? " (ImageNet)" : ""),
    ops: f.ops,
    nodes: f.nodes,
    concat: f.concat,
    widths,
    depths,
    fixed: f.fixed,
    imagenet,
    defaultWidth: f.fixed ? widths[0] : imagenet ? 32 : 16,
    defaultDepth: f.fixed ? depths[0] : imagenet ? 6 : 8,
    table: TABLES[name],
  };
}

export const NDS_DEFS: readonly NdsCellSpaceDef[] = FAMILIES.flatMap((f) => [
  definition(f, false),
  definition(f, true),
]);

export const NDS_SPACE_NAMES = [
  "darts",
  "darts_in",
  "darts-fix-w-d",
  "darts-fix-w-d_in",
  "enas",
  "enas_in",
  "enas-fix-w-d",
  "enas-fix-w-d_in",
  "pnas",
  "pnas_in",
  "pnas-fix-w-d",
  "pnas-fix-w-d_in",
  "amoeba",
  "amoeba_in",
  "nasnet",
  "nasnet_in",
] as const;
export type NdsSpaceName = typeof NDS_SPACE_NAMES[number];

export function isNdsSpace(name: string): name is NdsSpaceName {
  return (NDS_SPACE_NAMES as readonly string[]).includes(name);
}

export function ndsDef(name: NdsSpaceName): NdsCellSpaceDef {
  const def = NDS_DEFS.find((d) => d.name === name);
  if (!def) throw new Error(`no NDS definition for ${name}`);
  return def;
}

/** The data folder: $GENNAS_DATA, else ../shared/data (as the tests and fidelity runs use). */
export function ndsDataDir(): string {
  return Deno.env.get("GENNAS_DATA") ?? "../shared/data";
}

/** Row `index` (0-based line = the record's `idx`) of the space's table, read synchronously. */
function tableRow(def: NdsCellSpaceDef, index: number): unknown {
  if (!def.table) throw new InputError(`${def.name}: no table for a row index; use a genotype`);
  const path = `${ndsDataDir()}/${def.table}`;
  const rows = tableFileRows(path, `${def.name}: a row index`, " (set GENNAS_DATA)");
  if (index >= rows.length) {
    throw new InputError(
      `${def.name}: row ${index} is out of range; "${path}" has ${rows.length} rows (0–${
        rows.length - 1
      })`,
    );
  }
  return rows[index];
}

/** Default genotype per family: DARTS-V2's (DARTS paper) where the ops allow, else a sample-free
 *  fixed cell of the set's first ops. */
const DARTS_V2 =
  "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), " +
  "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), " +
  "('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), " +
  "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), " +
  "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])";

function exampleOf(def: NdsCellSpaceDef): string {
  if (def.label.startsWith("DARTS")) return formatNds(parseNds(def, DARTS_V2));
  // node k: sep_conv_3x3 on state k + 1 plus skip on state k (every node read but the last).
  const cell = Array.from({ length: def.nodes }, (_, k) => [
    ["sep_conv_3x3", k + 1],
    ["skip_connect", k],
  ]).flat();
  const concat = def.concat === "all"
    ? Array.from({ length: def.nodes }, (_, k) => k + 2)
    : [def.nodes + 1];
  return formatNds(ndsFromJson(def, {
    normal: cell,
    normal_concat: concat,
    reduce: cell,
    reduce_concat: concat,
  }));
}

export interface NdsNetworkSpace {
  readonly name: NdsSpaceName;
  readonly def: NdsCellSpaceDef;
  parse(text: string): NdsArch;
  format(a: NdsArch): string;
  key(a: NdsArch): string;
  sample(rng: Rng): NdsArch;
  mutate(a: NdsArch, rng: Rng): NdsArch;
  build(g: GraphBuilder, x: Tensor, a: NdsArch, o?: { widthScale?: number }): Tensor[];
  fromTable(key: string, extra: unknown): NdsArch;
  readonly example: string;
}

/** The space `name`, with width/depth defaults for text that does not give them (and for
 *  sampling, fixing them). */
export function ndsSpace(name: NdsSpaceName, o: NdsParseDefaults = {}): NdsNetworkSpace {
  const def = ndsDef(name);
  return {
    name,
    def,
    parse: (text) => parseNds(def, text, o, (i) => tableRow(def, i)),
    format: formatNds,
    key: ndsKey,
    sample: (rng) => sampleNds(def, rng, o),
    mutate: (a, rng) => mutateNds(def, a, rng),
    build: (g, x, a, b) => buildNdsNetwork(g, x, def, a, b),
    fromTable: (_key, extra) => ndsFromJson(def, extra),
    example: exampleOf(def),
  };
}
