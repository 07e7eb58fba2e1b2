/**
 * NDS AnyNet spaces (spec §4.4): ResNet, ResNeXt-A and ResNeXt-B, and their `_in` names (GenNAS
 * builds them the same way). An architecture is an NDS `net` record: `block_type`, and per stage
 * `ds` (blocks), `ws` (widths), `ss` (strides), plus `bot_muls` and `num_gs` (bottleneck
 * multiplier and group width) for bottleneck blocks. Text forms: the record as JSON, a table row
 * `{"net": …}` as JSON, `FILE.jsonl#N` (the row with `idx` N, else the N-th row from 0), or the
 * path of a JSON file holding a record or a row. The arch keeps the record as given; its key is
 * the network GenNAS builds from it (after the record conversion of §4.4), so `ss[0]` 8 and 1 share
 * a key.
 */
import { allowed, InputError } from "../util/errors.ts";
import type { Rng } from "../util/rng.ts";
import type { SearchSpace } from "./space.ts";
import type { SpaceName } from "./space.ts";
import {
  isJsonFile,
  parseRecordJson,
  readRecordText,
  tableFileRow,
  tableReference,
} from "./table_file.ts";

/** Block types of NDS records; `double_plain_block` is built as `vanilla_block` (spec §4.4). */
export const ANYNET_BLOCK_TYPES = [
  "res_bottleneck_block",
  "res_basic_block",
  "vanilla_block",
  "double_plain_block",
] as const;
export type AnyNetBlockType = typeof ANYNET_BLOCK_TYPES[number];
export type AnyNetBlock = Exclude<AnyNetBlockType, "double_plain_block">;

export const ANYNET_STAGES = 4;
/** GenNAS forces the stem (conv 3×3 stride 1 + BN + ReLU) to 12 channels, whatever the record. */
export const ANYNET_STEM_WIDTH = 12;
/** Input side and the side stage 4 must have (its tap is used as is, spec §4.4). */
const INPUT_SIZE = 32;
const STAGE4_SIZE = 8;

/** An NDS `net` record as given (pristine: the conversion is applied by `anyNetConfig`). */
export interface AnyNetArch {
  block_type: AnyNetBlockType;
  ds: number[];
  ws: number[];
  ss: number[];
  bot_muls?: number[];
  num_gs?: number[];
}

/** What GenNAS builds from a record: the converted stage parameters (spec §4.4). */
export interface AnyNetConfig {
  block: AnyNetBlock;
  ds: number[];
  ws: number[];
  /** A leading stride 8 (the NDS ImageNet stem stage) becomes 1. */
  ss: number[];
  /** Bottleneck multipliers (bms[0] = 0 becomes 1); bottleneck blocks only. */
  bms?: number[];
  /** Group widths of the grouped 3×3 (groups = w_b / gw); bottleneck blocks only. */
  gws?: number[];
}

const KEYS = ["block_type", "bot_muls", "ds", "num_gs", "ss", "ws"] as const;
const STAGE_FIELDS = ["ds", "ws", "ss"] as const;

function fail(problem: string): never {
  throw new InputError(`AnyNet net record: ${problem}`);
}

/** Bottleneck width round(w · bm), as pycls computes it (Python's round: half to even). */
export function bottleneckWidth(w: number, bm: number): number {
  const x = w * bm;
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Validates a parsed JSON value as a `net` record; InputError naming the field otherwise. */
export function anyNetFromJson(value: unknown): AnyNetArch {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail(`expected a JSON object with ${allowed(KEYS)}, got ${JSON.stringify(value)}`);
  }
  const record = value as Record<string, unknown>;
  const unknown = Object.keys(record).filter((k) => !(KEYS as readonly string[]).includes(k));
  if (unknown.length > 0) {
    fail(`unknown field(s) ${allowed(unknown)}; allowed: ${allowed(KEYS)}`);
  }
  const blockType = record.block_type;
  if (!(ANYNET_BLOCK_TYPES as readonly unknown[]).includes(blockType)) {
    fail(`block_type is ${JSON.stringify(blockType)}; allowed: ${allowed(ANYNET_BLOCK_TYPES)}`);
  }
  const arch: AnyNetArch = { block_type: blockType as AnyNetBlockType, ds: [], ws: [], ss: [] };
  for (const field of STAGE_FIELDS) {
    arch[field] = stageList(
      record[field],
      field,
      (v) => Number.isInteger(v) && v >= 1,
      "integers ≥ 1",
    );
  }
  const bottleneck = blockType === "res_bottleneck_block";
  for (const field of ["bot_muls", "num_gs"] as const) {
    const given = record[field];
    if (!bottleneck) {
      if (given !== undefined && !(Array.isArray(given) && given.length === 0)) {
        fail(`${field}: ${blockType} takes no ${field} (only res_bottleneck_block does); omit it`);
      }
      continue;
    }
    if (given === undefined) fail(`${field}: missing; res_bottleneck_block needs one per stage`);
    arch[field] = field === "bot_muls"
      ? stageList(given, field, (v, i) => v > 0 || (i === 0 && v === 0), "numbers > 0")
      : stageList(given, field, (v) => Number.isInteger(v) && v >= 1, "integers ≥ 1");
  }
  checkNetwork(arch);
  return arch;
}

function stageList(
  value: unknown,
  field: string,
  ok: (v: number, i: number) => boolean,
  what: string,
): number[] {
  if (!Array.isArray(value)) {
    fail(
      `${field}: expected a list of ${ANYNET_STAGES} ${what} (one per stage), got ${
        JSON.stringify(value) ?? "nothing"
      }`,
    );
  }
  if (value.length !== ANYNET_STAGES) {
    fail(`${field}: has ${value.length} entries, expected ${ANYNET_STAGES} (one per stage)`);
  }
  value.forEach((v, i) => {
    if (typeof v !== "number" || !Number.isFinite(v) || !ok(v, i)) {
      fail(`${field}[${i}] is ${JSON.stringify(v)}; expected ${what}`);
    }
  });
  return [...value];
}

/** The record conversion of spec §4.4 (the record itself is left untouched). */
export function anyNetConfig(arch: AnyNetArch): AnyNetConfig {
  const block = arch.block_type === "double_plain_block" ? "vanilla_block" : arch.block_type;
  const ss = [...arch.ss];
  if (ss[0] === 8) ss[0] = 1;
  const config: AnyNetConfig = { block, ds: [...arch.ds], ws: [...arch.ws], ss };
  if (block === "res_bottleneck_block") {
    const bms = [...arch.bot_muls!];
    if (bms[0] === 0) bms[0] = 1;
    config.bms = bms;
    config.gws = [...arch.num_gs!];
  }
  return config;
}

/** Feature-map side after each stage for a 32² input (3×3 pad 1 and 1×1 convs agree). */
export function anyNetStageSizes(config: AnyNetConfig): number[] {
  let size = INPUT_SIZE;
  return config.ss.map((s) => size = Math.floor((size - 1) / s) + 1);
}

function checkNetwork(arch: AnyNetArch): void {
  const config = anyNetConfig(arch);
  if (config.bms && config.gws) {
    config.ws.forEach((w, i) => {
      const wb = bottleneckWidth(w, config.bms![i]);
      if (wb < 1) fail(`bot_muls[${i}]: bottleneck width round(${w} × ${config.bms![i]}) is 0`);
      if (wb % config.gws![i] !== 0) {
        fail(
          `num_gs[${i}]: group width ${config.gws![i]} does not divide the bottleneck width ` +
            `${wb} (= round(ws[${i}] ${w} × bot_muls[${i}] ${config.bms![i]}))`,
        );
      }
    });
  }
  const sizes = anyNetStageSizes(config);
  if (sizes[ANYNET_STAGES - 1] !== STAGE4_SIZE) {
    fail(
      `ss: stage 4 would be ${sizes[3]}×${sizes[3]} (strides ${JSON.stringify(config.ss)} after ` +
        `a leading 8 becomes 1, from ${INPUT_SIZE}×${INPUT_SIZE}); GenNAS uses the stage-4 map ` +
        `as is, so it must be ${STAGE4_SIZE}×${STAGE4_SIZE}, e.g. ss [8, 1, 2, 2]`,
    );
  }
}

/** Parses any of the text forms (module comment); InputError naming what is wrong. */
export function parseAnyNet(text: string): AnyNetArch {
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) return fromObject(parseRecordJson(trimmed, "the --arch text", WHO));
  const row = tableReference(trimmed);
  if (row) return fromObject(tableFileRow(row.path, row.index, WHO));
  if (isJsonFile(trimmed)) {
    return fromObject(parseRecordJson(readRecordText(trimmed, WHO), trimmed, WHO));
  }
  throw new InputError(
    `AnyNet arch "${trimmed.length > 60 ? `${trimmed.slice(0, 57)}...` : trimmed}": expected an ` +
      `NDS net record as JSON ({"block_type": …, "ds": […], "ws": […], "ss": […], "bot_muls": ` +
      `[…], "num_gs": […]}), a table row {"net": …}, TABLE.jsonl#INDEX, or a .json file`,
  );
}

const WHO = "AnyNet arch";

/** A record, or a table row holding one in `net`. */
function fromObject(value: unknown): AnyNetArch {
  if (typeof value === "object" && value !== null && "net" in value) {
    return anyNetFromJson((value as { net: unknown }).net);
  }
  return anyNetFromJson(value);
}

/** The record as compact JSON, fields in NDS order; parse(format(a)) equals a. */
export function formatAnyNet(arch: AnyNetArch): string {
  const out: Record<string, unknown> = {};
  for (const k of KEYS) if (arch[k] !== undefined) out[k] = arch[k];
  return JSON.stringify(out);
}

/** Identity of the built network: the converted config, e.g. "res_bottleneck_block|ds=…|…". */
export function anyNetKey(arch: AnyNetArch): string {
  const c = anyNetConfig(arch);
  const parts = [c.block, `ds=${c.ds}`, `ws=${c.ws}`, `ss=${c.ss}`];
  if (c.bms) parts.push(`bms=${c.bms}`, `gws=${c.gws}`);
  return parts.join("|");
}

// ---------------------------------------------------------------------------------------------
// Sampling and mutation (spec §8). The ranges are those of the NDS design spaces as the shared
// `_in` tables realise them: stage 1 is fixed (1 block, width 64, stride 8, bm 1, gw 1: the NDS
// ImageNet stem stage) and stages 2–4 draw each parameter uniformly and independently.

export interface AnyNetRanges {
  block: AnyNetBlockType;
  depths: readonly number[];
  widths: readonly number[];
  /** Bottleneck spaces only. */
  botMuls?: readonly number[];
  groupWidths?: readonly number[];
}

const FIRST_STAGE = { d: 1, w: 64, s: 8, bm: 1, gw: 1 };
const LATER_STRIDES = [1, 2, 2];
const DEPTHS = [1, 2, 4, 8, 16];
const NARROW = [16, 32, 64, 128, 256];

export const ANYNET_RANGES = {
  resnet: { block: "res_basic_block", depths: DEPTHS, widths: NARROW },
  "resnext-a": {
    block: "res_bottleneck_block",
    depths: DEPTHS,
    widths: NARROW,
    botMuls: [0.25, 0.5, 1],
    groupWidths: [1, 2, 4],
  },
  "resnext-b": {
    block: "res_bottleneck_block",
    depths: DEPTHS,
    widths: [64, 128, 256, 512, 1024],
    botMuls: [0.25, 0.5, 1],
    groupWidths: [1, 2, 4, 8, 16],
  },
} as const satisfies Record<string, AnyNetRanges>;

/** One draw from the ranges; redrawn in the (here impossible) case gw ∤ w_b. */
export function sampleAnyNet(ranges: AnyNetRanges, rng: Rng): AnyNetArch {
  for (;;) {
    const later = (values: readonly number[]) => [0, 1, 2].map(() => rng.choice(values));
    const arch: AnyNetArch = {
      block_type: ranges.block,
      ds: [FIRST_STAGE.d, ...later(ranges.depths)],
      ws: [FIRST_STAGE.w, ...later(ranges.widths)],
      ss: [FIRST_STAGE.s, ...LATER_STRIDES],
    };
    if (ranges.botMuls && ranges.groupWidths) {
      arch.bot_muls = [FIRST_STAGE.bm, ...later(ranges.botMuls)];
      arch.num_gs = [FIRST_STAGE.gw, ...later(ranges.groupWidths)];
    }
    try {
      checkNetwork(arch);
      return arch;
    } catch {
      // draw again
    }
  }
}

/** GenNAS' get_diff: per field of the parent, differing list positions (over the shorter
 *  length), or 1 for a differing scalar; a field the candidate lacks counts 1. */
export function anyNetDistance(parent: AnyNetArch, candidate: AnyNetArch): number {
  let diff = 0;
  for (const k of KEYS) {
    const a = parent[k];
    const b = candidate[k];
    if (a === undefined) continue;
    if (Array.isArray(a)) {
      if (!Array.isArray(b)) {
        diff += 1;
        continue;
      }
      for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) diff += 1;
    } else if (a !== b) diff += 1;
  }
  return diff;
}

/** Candidates drawn per mutation (the reference's `--neighbor 200`). */
export const ANYNET_NEIGHBOURS = 200;

/** Draws 200 candidates from the ranges; the child is the first one nearest the parent. */
export function mutateAnyNet(ranges: AnyNetRanges, parent: AnyNetArch, rng: Rng): AnyNetArch {
  let best: AnyNetArch | undefined;
  let bestDistance = Infinity;
  for (let i = 0; i < ANYNET_NEIGHBOURS; i++) {
    const candidate = sampleAnyNet(ranges, rng);
    const d = anyNetDistance(parent, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best!;
}

export const ANYNET_SPACE_NAMES = [
  "resnet",
  "resnet_in",
  "resnext-a",
  "resnext-a_in",
  "resnext-b",
  "resnext-b_in",
] as const satisfies readonly SpaceName[];
export type AnyNetSpaceName = typeof ANYNET_SPACE_NAMES[number];

export function isAnyNetSpace(name: string): name is AnyNetSpaceName {
  return (ANYNET_SPACE_NAMES as readonly string[]).includes(name);
}

export function anyNetRanges(name: AnyNetSpaceName): AnyNetRanges {
  return ANYNET_RANGES[name.replace(/_in$/, "") as keyof typeof ANYNET_RANGES];
}

/** The encoding side of an AnyNet space (the network is in anynet_build.ts). */
export function anyNetSpace(name: AnyNetSpaceName): SearchSpace<AnyNetArch> {
  const ranges = anyNetRanges(name);
  return {
    name,
    parse: parseAnyNet,
    format: formatAnyNet,
    key: anyNetKey,
    sample: (rng) => sampleAnyNet(ranges, rng),
    mutate: (arch, rng) => mutateAnyNet(ranges, arch, rng),
  };
}

/** A small record of each space (ResNeXt-A/B: rows 13 and 117 of the NDS `_in` tables, the
 *  cheapest at GenNAS' 32² input; ResNet: a record of its ranges). */
export const ANYNET_EXAMPLES = {
  resnet: '{"block_type":"res_basic_block","ds":[1,1,2,1],"ss":[8,1,2,2],"ws":[64,16,32,64]}',
  "resnext-a": '{"block_type":"res_bottleneck_block","bot_muls":[1.0,0.5,0.5,0.25],' +
    '"ds":[1,2,1,1],"num_gs":[1,2,1,2],"ss":[8,1,2,2],"ws":[64,16,16,128]}',
  "resnext-b": '{"block_type":"res_bottleneck_block","bot_muls":[1.0,0.5,1.0,0.25],' +
    '"ds":[1,2,1,1],"num_gs":[1,8,8,16],"ss":[8,1,2,2],"ws":[64,64,64,128]}',
} as const;

/**
 * The search over a table's records (spec §8, GenNAS' explorer over an NDS dataset): a random
 * arch is a uniform row; a mutation draws 200 distinct rows (all when fewer) and takes the first
 * nearest the parent (the parent itself may be drawn).
 */
export function anyNetOverRecords(
  space: SearchSpace<AnyNetArch>,
  records: readonly AnyNetArch[],
): SearchSpace<AnyNetArch> {
  if (records.length === 0) throw new InputError(`${space.name}: the table has no records`);
  return {
    ...space,
    sample: (rng) => rng.choice(records),
    mutate: (parent, rng) => {
      const drawn = rng.sample(records, Math.min(ANYNET_NEIGHBOURS, records.length));
      let best = drawn[0];
      let bestDistance = anyNetDistance(parent, best);
      for (const candidate of drawn.slice(1)) {
        const d = anyNetDistance(parent, candidate);
        if (d < bestDistance) [best, bestDistance] = [candidate, d];
      }
      return best;
    },
  };
}
