/**
 * NDS cell genotypes (spec §4.3): the DARTS-style normal and reduce cells shared by the DARTS,
 * ENAS, PNAS, Amoeba and NASNet spaces, plus the network's width and depth. One space is an op
 * set, a node count and a concat rule (every node, or the "loose ends" no node reads); this
 * module validates, parses, formats, keys, samples and mutates genotypes for any such definition.
 *
 * Text forms: the DARTS `Genotype(normal=[('sep_conv_3x3', 0), …], normal_concat=[2, 3, 4, 5],
 * reduce=[…], reduce_concat=[…])` (`range(2, 6)` accepted), optionally followed by
 * `# width=W depth=D` (a Python comment, so the line still evaluates in DARTS/pycls code); the
 * NDS record's `net` object (or a whole record, or a bare genotype) as JSON, inline or as a `.json`
 * file; a row index of the space's table; or `TABLE.jsonl#N` (the row whose `idx` is N).
 */
import { allowed, InputError } from "../util/errors.ts";
import type { Rng } from "../util/rng.ts";
import {
  isJsonFile,
  parseRecordJson,
  readRecordText,
  tableFileRow,
  tableReference,
} from "./table_file.ts";

export const NDS_OPS = [
  "none",
  "avg_pool_3x3",
  "max_pool_3x3",
  "max_pool_5x5",
  "max_pool_7x7",
  "skip_connect",
  "conv_1x1",
  "conv_3x3",
  "sep_conv_3x3",
  "sep_conv_5x5",
  "sep_conv_7x7",
  "dil_conv_3x3",
  "dil_conv_5x5",
  "dil_sep_conv_3x3",
  "conv_3x1_1x3",
  "conv_7x1_1x7",
] as const;
export type NdsOp = typeof NDS_OPS[number];

/** One space's genotype rules and the width/depth it samples. */
export interface NdsCellSpaceDef {
  /** The gennas space name, e.g. "darts_in". */
  name: string;
  /** The NDS name, e.g. "DARTS" (messages, table files). */
  label: string;
  ops: readonly NdsOp[];
  /** Intermediate nodes per cell (each: two ops on two earlier states, summed). */
  nodes: number;
  /** "all": the output concatenates every node; "loose": the nodes no other node reads. */
  concat: "all" | "loose";
  /** Sampled widths and depths; a fixed space has one of each and accepts only those. */
  widths: readonly number[];
  depths: readonly number[];
  fixed: boolean;
  /** ImageNet network with stride-1 stems (the `_in` variants). */
  imagenet: boolean;
  /** Width and depth of DARTS text without `# width= depth=` and without flags. */
  defaultWidth: number;
  defaultDepth: number;
  /** The ground-truth table's file name in the data folder, when there is one. */
  table?: string;
}

/** [op, input state] of one genotype entry; node k (k ≥ 0) is state k + 2. */
export type NdsEntry = [NdsOp, number];

export interface NdsArch {
  normal: NdsEntry[];
  normalConcat: number[];
  reduce: NdsEntry[];
  reduceConcat: number[];
  width: number;
  depth: number;
}

export const NDS_CELLS = ["normal", "reduce"] as const;
export type NdsCellName = typeof NDS_CELLS[number];

function concatOf(a: NdsArch, cell: NdsCellName): number[] {
  return cell === "normal" ? a.normalConcat : a.reduceConcat;
}

/** The states 2.. that no node of `entries` reads, ascending. */
export function looseEnds(entries: readonly NdsEntry[]): number[] {
  const used = new Set(entries.map(([, input]) => input));
  const nodes = entries.length / 2;
  return Array.from({ length: nodes }, (_, k) => k + 2).filter((s) => !used.has(s));
}

/** The concat a genotype's cell must have in `def` (every node, or its loose ends). */
export function expectedConcat(def: NdsCellSpaceDef, entries: readonly NdsEntry[]): number[] {
  return def.concat === "all"
    ? Array.from({ length: def.nodes }, (_, k) => k + 2)
    : looseEnds(entries);
}

function fail(def: NdsCellSpaceDef, problem: string): never {
  throw new InputError(`${def.name} architecture: ${problem}`);
}

/** InputError naming the cell and node at fault unless `a` belongs to `def`. */
export function validateNds(def: NdsCellSpaceDef, a: NdsArch): NdsArch {
  for (const cell of NDS_CELLS) {
    const entries = a[cell];
    if (!Array.isArray(entries) || entries.length !== 2 * def.nodes) {
      const got = Array.isArray(entries) ? `${entries.length} entries` : "no entry list";
      fail(
        def,
        `cell "${cell}" has ${got}; the ${def.label} space has ${def.nodes} nodes of 2 ` +
          `entries each (${2 * def.nodes})`,
      );
    }
    entries.forEach((entry, j) => {
      const node = Math.floor(j / 2);
      const where = `cell "${cell}" node ${node} (state ${node + 2}), entry ${j}`;
      if (!Array.isArray(entry) || entry.length !== 2) {
        fail(def, `${where}: expected [op, input], got ${JSON.stringify(entry)}`);
      }
      const [op, input] = entry;
      if (!(def.ops as readonly string[]).includes(op)) {
        fail(
          def,
          `${where}: op ${JSON.stringify(op)} is not in the ${def.label} op set; allowed: ${
            allowed(def.ops)
          }`,
        );
      }
      if (!Number.isInteger(input) || input < 0 || input > node + 1) {
        fail(
          def,
          `${where}: input ${JSON.stringify(input)} is out of range; node ${node} reads states ` +
            `0–${node + 1} (0, 1: the cell inputs; k ≥ 2: node k − 2)`,
        );
      }
    });
    const concat = concatOf(a, cell);
    const expected = expectedConcat(def, entries);
    const sorted = Array.isArray(concat) ? [...concat].sort((x, y) => x - y) : undefined;
    if (!sorted || sorted.join() !== expected.join() || new Set(sorted).size !== sorted.length) {
      const rule = def.concat === "all" ? "every node" : "the loose ends (nodes no node reads)";
      fail(
        def,
        `cell "${cell}": ${cell}_concat ${JSON.stringify(concat)} is invalid; the ${def.label} ` +
          `cell output concatenates ${rule}: [${expected.join(", ")}]`,
      );
    }
  }
  validateWidthDepth(def, a.width, a.depth);
  return a;
}

function validateWidthDepth(def: NdsCellSpaceDef, width: number, depth: number): void {
  if (def.fixed && (width !== def.widths[0] || depth !== def.depths[0])) {
    fail(
      def,
      `width ${width}, depth ${depth}: this space fixes width ${def.widths[0]} and depth ${
        def.depths[0]
      }`,
    );
  }
  if (!Number.isInteger(width) || width < 2 || width % 2 !== 0) {
    fail(def, `width must be an even integer ≥ 2, got ${JSON.stringify(width)}`);
  }
  if (!Number.isInteger(depth) || depth < 3) {
    fail(def, `depth must be an integer ≥ 3 (cells), got ${JSON.stringify(depth)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Text forms

export interface NdsParseDefaults {
  width?: number;
  depth?: number;
}

function tupleText(entries: readonly NdsEntry[]): string {
  return `[${entries.map(([op, i]) => `('${op}', ${i})`).join(", ")}]`;
}

/** The DARTS/pycls Genotype text (+ `# width=W depth=D`); parse(format(a)) equals a. */
export function formatNds(a: NdsArch): string {
  return `Genotype(normal=${tupleText(a.normal)}, normal_concat=[${a.normalConcat.join(", ")}], ` +
    `reduce=${tupleText(a.reduce)}, reduce_concat=[${a.reduceConcat.join(", ")}])` +
    ` # width=${a.width} depth=${a.depth}`;
}

/** Identity: the two entries of each node in a fixed order (their sum commutes), concat sorted. */
export function ndsKey(a: NdsArch): string {
  const canonical = (entries: readonly NdsEntry[]) => {
    const out: NdsEntry[] = [];
    for (let j = 0; j < entries.length; j += 2) {
      const pair = [entries[j], entries[j + 1]].sort((x, y) =>
        x[1] - y[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)
      );
      out.push(...pair);
    }
    return out;
  };
  const sorted = (c: readonly number[]) => [...c].sort((x, y) => x - y);
  return formatNds({
    normal: canonical(a.normal),
    normalConcat: sorted(a.normalConcat),
    reduce: canonical(a.reduce),
    reduceConcat: sorted(a.reduceConcat),
    width: a.width,
    depth: a.depth,
  });
}

/** Parses any accepted form (see the module comment) and validates it against `def`. */
export function parseNds(
  def: NdsCellSpaceDef,
  text: string,
  defaults: NdsParseDefaults = {},
  table?: (index: number) => unknown,
): NdsArch {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) {
    if (!table) {
      fail(def, `a row index ("${trimmed}") needs the space's table; ${def.name} has none`);
    }
    return ndsFromJson(def, table(Number(trimmed)), defaults);
  }
  if (trimmed.startsWith("{")) {
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (error) {
      fail(def, `invalid JSON: ${(error as Error).message}`);
    }
    return ndsFromJson(def, value, defaults);
  }
  if (trimmed.startsWith("Genotype")) return parseGenotypeText(def, trimmed, defaults);
  const who = `${def.name} arch`;
  const row = tableReference(trimmed);
  if (row) return ndsFromJson(def, tableFileRow(row.path, row.index, who), defaults);
  if (isJsonFile(trimmed)) {
    const value = parseRecordJson(readRecordText(trimmed, who), trimmed, who);
    return ndsFromJson(def, value, defaults);
  }
  const shown = trimmed.length > 60 ? `${trimmed.slice(0, 57)}...` : trimmed;
  fail(
    def,
    `"${shown}" is not a DARTS Genotype(normal=[...], normal_concat=[...], reduce=[...], ` +
      `reduce_concat=[...]) text, an NDS net JSON object, a row index of the space's table, ` +
      `TABLE.jsonl#INDEX or a .json file`,
  );
}

function parseGenotypeText(def: NdsCellSpaceDef, text: string, d: NdsParseDefaults): NdsArch {
  const [body, comment = ""] = splitComment(text);
  const field = (name: string): string => {
    const m = body.match(new RegExp(`\\b${name}\\s*=\\s*(\\[[^\\]]*\\]|range\\([^)]*\\))`));
    if (!m) fail(def, `the Genotype text has no ${name}=[...]`);
    return m[1];
  };
  const entries = (name: string): NdsEntry[] => {
    const list = field(name);
    const items = [...list.matchAll(/\(\s*['"]([^'"]*)['"]\s*,\s*(-?\d+)\s*\)/g)];
    const rest = list.replace(/\(\s*['"][^'"]*['"]\s*,\s*-?\d+\s*\)/g, "").replace(/[\s,[\]]/g, "");
    if (rest !== "") fail(def, `${name}: expected a list of ('op', input) tuples, got ${list}`);
    return items.map((m) => [m[1] as NdsOp, Number(m[2])]);
  };
  const concat = (name: string): number[] => {
    const value = field(name);
    const range = value.match(/^range\(\s*(\d+)\s*,\s*(\d+)\s*\)$/);
    if (range) {
      const [a, b] = [Number(range[1]), Number(range[2])];
      return Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);
    }
    const inner = value.slice(1, -1).trim();
    if (inner === "") return [];
    return inner.split(",").map((s) => {
      if (!/^\s*\d+\s*$/.test(s)) fail(def, `${name}: expected integers, got ${value}`);
      return Number(s);
    });
  };
  const width = commentNumber(def, comment, "width") ?? d.width ?? def.defaultWidth;
  const depth = commentNumber(def, comment, "depth") ?? d.depth ?? def.defaultDepth;
  return validateNds(def, {
    normal: entries("normal"),
    normalConcat: concat("normal_concat"),
    reduce: entries("reduce"),
    reduceConcat: concat("reduce_concat"),
    width,
    depth,
  });
}

function splitComment(text: string): [string, string?] {
  const at = text.indexOf("#");
  return at < 0 ? [text] : [text.slice(0, at), text.slice(at + 1)];
}

function commentNumber(def: NdsCellSpaceDef, comment: string, name: string): number | undefined {
  const m = comment.match(new RegExp(`\\b${name}\\s*=\\s*(\\S+)`));
  if (!m) return undefined;
  if (!/^\d+$/.test(m[1])) fail(def, `${name}=${m[1]} is not a positive integer`);
  return Number(m[1]);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** An NDS record, its `net` ({genotype, width, depth}) or a bare genotype. */
export function ndsFromJson(
  def: NdsCellSpaceDef,
  value: unknown,
  d: NdsParseDefaults = {},
): NdsArch {
  if (!isObject(value)) fail(def, `expected a JSON object, got ${JSON.stringify(value)}`);
  const net = isObject(value.net) ? value.net : value;
  const genotype = isObject(net.genotype) ? net.genotype : net;
  for (const key of ["normal", "normal_concat", "reduce", "reduce_concat"]) {
    if (!Array.isArray(genotype[key])) {
      fail(def, `the genotype has no list "${key}" (fields: ${Object.keys(genotype).join(", ")})`);
    }
  }
  const number = (key: "width" | "depth", fallback: number) => {
    const v = net[key];
    if (v === undefined) return fallback;
    if (typeof v !== "number") fail(def, `"${key}" must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  return validateNds(def, {
    normal: genotype.normal as NdsEntry[],
    normalConcat: genotype.normal_concat as number[],
    reduce: genotype.reduce as NdsEntry[],
    reduceConcat: genotype.reduce_concat as number[],
    width: number("width", d.width ?? def.defaultWidth),
    depth: number("depth", d.depth ?? def.defaultDepth),
  });
}

/** The NDS `net` object of `a` (the tables' form; aux off, drop_prob 0 as GenNAS trains). */
export function ndsToNet(a: NdsArch): Record<string, unknown> {
  return {
    aux: false,
    depth: a.depth,
    drop_prob: 0,
    genotype: {
      normal: a.normal,
      normal_concat: a.normalConcat,
      reduce: a.reduce,
      reduce_concat: a.reduceConcat,
    },
    width: a.width,
  };
}

// ---------------------------------------------------------------------------------------------
// Sampling and mutation

function sampleCell(def: NdsCellSpaceDef, rng: Rng): { entries: NdsEntry[]; concat: number[] } {
  const entries: NdsEntry[] = [];
  for (let node = 0; node < def.nodes; node++) {
    for (let k = 0; k < 2; k++) entries.push([def.ops[rng.int(def.ops.length)], rng.int(node + 2)]);
  }
  return { entries, concat: expectedConcat(def, entries) };
}

/** Independent uniform normal and reduce cells; width and depth uniform over the space's lists
 *  (or the given ones). */
export function sampleNds(def: NdsCellSpaceDef, rng: Rng, fixed: NdsParseDefaults = {}): NdsArch {
  const normal = sampleCell(def, rng);
  const reduce = sampleCell(def, rng);
  const width = fixed.width ?? def.widths[rng.int(def.widths.length)];
  const depth = fixed.depth ?? def.depths[rng.int(def.depths.length)];
  return validateNds(def, {
    normal: normal.entries,
    normalConcat: normal.concat,
    reduce: reduce.entries,
    reduceConcat: reduce.concat,
    width,
    depth,
  });
}

/** One entry of one cell changes its op (to another of the set) or its input (to another earlier
 *  state), uniformly; loose-end concats follow. Width and depth stay. */
export function mutateNds(def: NdsCellSpaceDef, a: NdsArch, rng: Rng): NdsArch {
  const cell = NDS_CELLS[rng.int(2)];
  const entries = a[cell].map(([op, i]) => [op, i] as NdsEntry);
  const j = rng.int(entries.length);
  const node = Math.floor(j / 2);
  const [op, input] = entries[j];
  if (rng.int(2) === 0) {
    const others = def.ops.filter((o) => o !== op);
    entries[j] = [others[rng.int(others.length)], input];
  } else {
    const choices = node + 2;
    entries[j] = [op, (input + 1 + rng.int(choices - 1)) % choices];
  }
  const concat = expectedConcat(def, entries);
  const next = cell === "normal"
    ? { ...a, normal: entries, normalConcat: concat, reduce: a.reduce.map(copy) }
    : { ...a, reduce: entries, reduceConcat: concat, normal: a.normal.map(copy) };
  return validateNds(def, next);
}

function copy([op, i]: NdsEntry): NdsEntry {
  return [op, i];
}
