/**
 * Ground-truth accuracy tables (spec §6.1): NAS-Bench-201 (CSV, keyed by arch string) and
 * NAS-Bench-101 (JSON lines, keyed by the module hash of §4.1.1). Accuracies are in percent.
 * Every problem with a table is an InputError naming the file and the row or line at fault.
 */
import { csvParseSync } from "../deps.ts";
import { allowed, InputError } from "../util/errors.ts";
import { formatNbMacro, NBMACRO_EXAMPLE_TEXT, parseNbMacro } from "../spaces/nbmacro.ts";
import { loadNbNlpTruth } from "./truth_nbnlp.ts";
import { ANYNET_SPACE_NAMES, anyNetFromJson, anyNetKey } from "../spaces/anynet.ts";
import { loadNdsTruth } from "./truth_nds.ts";
import { isNdsSpace, NDS_SPACE_NAMES } from "../spaces/nds.ts";
import { loadNdsCellTruth } from "./truth_nds_cell.ts";

export interface TruthTable {
  /** Where the table was read from. */
  source: string;
  /** The column or field the accuracies came from, e.g. "cifar10_test" or "acc". */
  metric: string;
  /** key → accuracy (%) */
  accuracy: Map<string, number>;
  /** optional extra per key (e.g. NB-101 spec JSON, NB-201 index) */
  extra?: Map<string, unknown>;
  /** Set for loss tables (nbnlp): `accuracy` then holds −loss, so higher is still better. */
  lowerIsBetter?: boolean;
  /** Lines to show the user (rows skipped, cells joined, the sign convention). */
  notes?: string[];
  /** key → the table's own `params` / `flops` columns, where it has them (NDS, NB-Macro). */
  params?: Map<string, number>;
  flops?: Map<string, number>;
}

export const NB201_DATASETS = ["cifar10", "cifar100", "imagenet16_120"] as const;
export type Nb201Dataset = (typeof NB201_DATASETS)[number];

export const TRUTH_SPACES = [
  "nb201",
  "nb101",
  "nbmacro",
  "nbnlp",
  ...ANYNET_SPACE_NAMES,
  ...NDS_SPACE_NAMES,
] as const;
export type TruthSpace = (typeof TRUTH_SPACES)[number];

/** NB-101 accuracy fields in the order they are tried when no metric is given. */
export const NB101_DEFAULT_METRICS = ["val_acc_mean_of_samples", "acc"] as const;
/** NB-101 fields stored as a fraction in [0, 1]; they are converted to percent. */
const FRACTION_METRICS: ReadonlySet<string> = new Set(["acc"]);

/** The NB-101 cell of a row: adjacency matrix and op labels, as stored in the table. */
export interface Nb101Spec {
  matrix: number[][];
  ops: string[];
}

export function isNb201Dataset(name: string): name is Nb201Dataset {
  return (NB201_DATASETS as readonly string[]).includes(name);
}

/** Validates a dataset name; InputError listing the allowed names otherwise. */
export function parseNb201Dataset(name: string): Nb201Dataset {
  if (!isNb201Dataset(name)) {
    throw new InputError(
      `dataset: unknown NAS-Bench-201 dataset "${name}"; allowed: ${allowed(NB201_DATASETS)}`,
    );
  }
  return name;
}

/**
 * NAS-Bench-201 table (columns index, arch, <dataset>_test, ...). key = arch string,
 * extra = arch → benchmark index; indexToArch maps the benchmark index back.
 */
export async function loadNb201Truth(
  path: string,
  dataset: Nb201Dataset,
): Promise<TruthTable & { indexToArch: Map<number, string> }> {
  parseNb201Dataset(dataset);
  const metric = `${dataset}_test`;
  const [header, ...rows] = parseCsv(path, await readTable(path));
  const column = columnIndices(path, header ?? [], ["index", "arch", metric]);

  const accuracy = new Map<string, number>();
  const extra = new Map<string, unknown>();
  const indexToArch = new Map<number, string>();
  rows.forEach((row, r) => {
    const where = `${path}: row ${r + 1} (line ${r + 2})`;
    const arch = row[column.arch];
    const index = parseNumber(row[column.index], `${where}, column "index"`);
    if (!Number.isInteger(index) || index < 0) {
      throw new InputError(`${where}: "index" must be a non-negative integer, got "${index}"`);
    }
    if (!arch) throw new InputError(`${where}: empty "arch"`);
    if (accuracy.has(arch)) throw new InputError(`${where}: arch "${arch}" appears twice`);
    if (indexToArch.has(index)) throw new InputError(`${where}: index ${index} appears twice`);
    accuracy.set(arch, parseAccuracy(row[column[metric]], `${where}, column "${metric}"`));
    extra.set(arch, index);
    indexToArch.set(index, arch);
  });
  return { source: path, metric, accuracy, extra, indexToArch };
}

/**
 * NAS-Bench-101 JSON lines with `hash` and an accuracy field. Without `o.metric` the first of
 * NB101_DEFAULT_METRICS present in the first row is used ("val_acc_mean_of_samples" of the NASLib
 * sample, in %; "acc" of the GenNAS search set, a fraction converted to %). The metric used is
 * the table's `metric`. key = hash, extra = hash → {matrix, ops} when the row has both.
 */
export async function loadNb101Truth(
  path: string,
  o: { metric?: string } = {},
): Promise<TruthTable> {
  const rows = parseJsonLines(path, await readTable(path));
  if (rows.length === 0) throw new InputError(`${path}: no rows`);
  const metric = o.metric ?? detectNb101Metric(path, rows[0].value);
  const scale = FRACTION_METRICS.has(metric) ? 100 : 1;

  const accuracy = new Map<string, number>();
  const extra = new Map<string, unknown>();
  for (const { line, value } of rows) {
    const where = `${path}: line ${line}`;
    const hash = value.hash;
    if (typeof hash !== "string" || hash === "") {
      throw new InputError(`${where}: missing "hash" (a non-empty string)`);
    }
    if (accuracy.has(hash)) throw new InputError(`${where}: hash "${hash}" appears twice`);
    const raw = value[metric];
    if (typeof raw !== "number" || !Number.isFinite(raw)) {
      throw new InputError(`${where}: missing "${metric}" (a finite number), got ${describe(raw)}`);
    }
    accuracy.set(hash, checkPercent(raw * scale, `${where}, "${metric}"`));
    const spec = nb101Spec(value);
    if (spec) extra.set(hash, spec);
  }
  return { source: path, metric, accuracy, extra };
}

/** Loads the ground truth of a search space; `dataset` (NB-201, default cifar10) / `metric` (NB-101). */
export async function loadTruth(
  space: TruthSpace,
  path: string,
  o: { dataset?: string; metric?: string } = {},
): Promise<TruthTable> {
  // The NDS tables are ImageNet-trained; --dataset (NB-201's choice) does not apply.
  if (isNdsSpace(space)) {
    return await loadNdsCellTruth(space, path, { metric: o.metric });
  }
  switch (space) {
    case "nb201":
      if (o.metric !== undefined) {
        throw new InputError(
          `metric: NAS-Bench-201 truth is chosen by dataset (${
            allowed(NB201_DATASETS)
          }), not by metric`,
        );
      }
      return await loadNb201Truth(path, parseNb201Dataset(o.dataset ?? "cifar10"));
    case "nb101":
      if (o.dataset !== undefined && o.dataset !== "cifar10") {
        throw new InputError(
          `dataset: NAS-Bench-101 truth exists only for "cifar10", got "${o.dataset}"`,
        );
      }
      return await loadNb101Truth(path, o.metric === undefined ? {} : { metric: o.metric });
    case "nbmacro":
      if (o.dataset !== undefined && o.dataset !== "cifar10") {
        throw new InputError(
          `dataset: NAS-Bench-Macro truth exists only for "cifar10", got "${o.dataset}"`,
        );
      }
      return await loadNbMacroTruth(path, { metric: o.metric });
    case "nbnlp":
      // "cifar10" is the CLI's --dataset default; NLP tables are one file per dataset.
      if (o.dataset !== undefined && o.dataset !== "cifar10") {
        throw new InputError(
          `dataset: NAS-Bench-NLP tables are per dataset (nbnlp_ptb.jsonl, nbnlp_wikitext2.jsonl); ` +
            `pass the file as --truth, not --dataset`,
        );
      }
      return loadNbNlpTruth(path, { metric: o.metric });
    case "resnet":
    case "resnet_in":
    case "resnext-a":
    case "resnext-a_in":
    case "resnext-b":
    case "resnext-b_in":
      if (o.dataset !== undefined && o.dataset !== "cifar10") {
        throw new InputError(
          `dataset: an NDS table holds one accuracy per row (test_acc by default); choose ` +
            `another field with metric, not dataset (got "${o.dataset}")`,
        );
      }
      return await loadNdsTruth(path, {
        metric: o.metric,
        key: (net) => anyNetKey(anyNetFromJson(net)),
      });
    default:
      throw new InputError(
        `space: no ground-truth loader for "${space}"; allowed: ${allowed(TRUTH_SPACES)}`,
      );
  }
}

/** Accuracies for `keys` in order; InputError naming the keys the table lacks. */
export function accuraciesFor(table: TruthTable, keys: readonly string[]): number[] {
  const missing = keys.filter((k) => !table.accuracy.has(k));
  if (missing.length > 0) {
    const shown = missing.slice(0, 3).map((k) => `"${k}"`).join(", ");
    const more = missing.length > 3 ? ` and ${missing.length - 3} more` : "";
    throw new InputError(
      `${table.source}: ${missing.length} of ${keys.length} keys are not in the table: ${shown}${more}`,
    );
  }
  return keys.map((k) => table.accuracy.get(k)!);
}

async function readTable(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InputError(`truth table: cannot read "${path}": ${reason}`);
  }
}

function parseCsv(path: string, text: string): string[][] {
  try {
    return csvParseSync(text, { skip_empty_lines: true, trim: true }) as string[][];
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InputError(`${path}: not a valid CSV table: ${reason}`);
  }
}

function columnIndices<C extends string>(
  path: string,
  header: readonly string[],
  required: readonly C[],
): Record<C, number> {
  const missing = required.filter((c) => !header.includes(c));
  if (missing.length > 0) {
    throw new InputError(
      `${path}: missing column(s) ${missing.map((c) => `"${c}"`).join(", ")}; columns found: ${
        header.length > 0 ? header.map((c) => `"${c}"`).join(", ") : "none"
      }`,
    );
  }
  return Object.fromEntries(required.map((c) => [c, header.indexOf(c)])) as Record<C, number>;
}

function parseNumber(text: string | undefined, where: string): number {
  const value = text === undefined || text === "" ? NaN : Number(text);
  if (!Number.isFinite(value)) {
    throw new InputError(`${where}: not a number: "${text ?? ""}"`);
  }
  return value;
}

function parseAccuracy(text: string | undefined, where: string): number {
  return checkPercent(parseNumber(text, where), where);
}

function checkPercent(value: number, where: string): number {
  if (value < 0 || value > 100) {
    throw new InputError(`${where}: accuracy ${value} is outside 0–100 %`);
  }
  return value;
}

interface JsonLine {
  line: number;
  value: Record<string, unknown>;
}

function parseJsonLines(path: string, text: string): JsonLine[] {
  const rows: JsonLine[] = [];
  text.split(/\r?\n/).forEach((content, i) => {
    if (content.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(content);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new InputError(`${path}: line ${i + 1}: invalid JSON: ${reason}`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new InputError(`${path}: line ${i + 1}: expected a JSON object`);
    }
    rows.push({ line: i + 1, value: value as Record<string, unknown> });
  });
  return rows;
}

function detectNb101Metric(path: string, firstRow: Record<string, unknown>): string {
  const found = NB101_DEFAULT_METRICS.find((m) => m in firstRow);
  if (found === undefined) {
    throw new InputError(
      `${path}: no accuracy field; expected ${allowed(NB101_DEFAULT_METRICS)} (or pass metric); ` +
        `fields found: ${allowed(Object.keys(firstRow))}`,
    );
  }
  return found;
}

function nb101Spec(row: Record<string, unknown>): Nb101Spec | undefined {
  const { matrix, ops } = row;
  if (!Array.isArray(matrix) || !Array.isArray(ops)) return undefined;
  return { matrix: matrix as number[][], ops: ops as string[] };
}

function describe(value: unknown): string {
  return value === undefined ? "nothing" : JSON.stringify(value);
}

// ---------------------------------------------------------------------------------------------
// Ground truth: nbmacro_cifar10.jsonl, one JSON object per line with `arch` (8 digits) and the
// accuracies in percent (`mean_acc` of 3 runs by default).

export const NBMACRO_DEFAULT_METRIC = "mean_acc";

/** key = arch string → `metric` (%); every problem is an InputError naming the file and line. */
export async function loadNbMacroTruth(
  path: string,
  o: { metric?: string } = {},
): Promise<TruthTable> {
  const metric = o.metric ?? NBMACRO_DEFAULT_METRIC;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new InputError(`truth table: cannot read "${path}": ${(error as Error).message}`);
  }
  const accuracy = new Map<string, number>();
  const params = new Map<string, number>();
  const flops = new Map<string, number>();
  text.split(/\r?\n/).forEach((content, i) => {
    if (content.trim() === "") return;
    const where = `${path}: line ${i + 1}`;
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(content);
    } catch (error) {
      throw new InputError(`${where}: invalid JSON: ${(error as Error).message}`);
    }
    if (typeof row !== "object" || row === null || Array.isArray(row)) {
      throw new InputError(`${where}: expected a JSON object`);
    }
    if (typeof row.arch !== "string") {
      throw new InputError(
        `${where}: missing "arch" (an 8-digit string such as "${NBMACRO_EXAMPLE_TEXT}")`,
      );
    }
    let key: string;
    try {
      key = formatNbMacro(parseNbMacro(row.arch));
    } catch (error) {
      throw new InputError(`${where}: ${(error as Error).message}`);
    }
    if (accuracy.has(key)) throw new InputError(`${where}: arch "${key}" appears twice`);
    const value = row[metric];
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 100) {
      const fields = Object.keys(row).map((f) => `"${f}"`).join(", ");
      throw new InputError(
        `${where}: "${metric}" must be an accuracy in % (a number in 0–100), got ` +
          `${value === undefined ? "nothing" : JSON.stringify(value)}; fields found: ${fields}`,
      );
    }
    accuracy.set(key, value);
    if (typeof row.params === "number") params.set(key, row.params);
    if (typeof row.flops === "number") flops.set(key, row.flops);
  });
  if (accuracy.size === 0) throw new InputError(`${path}: no rows`);
  return { source: path, metric, accuracy, params, flops };
}
