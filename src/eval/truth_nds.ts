/**
 * Ground truth from the NDS tables (`../shared/data/nds_<Space>.jsonl`): one JSON object per line
 * with `net` (the NDS network config), `params`, `flops` and the accuracy (`test_acc` = 100 −
 * final top-1 error, % — the value GenNAS ranks against). Generic over the space: the caller
 * passes the function that validates a `net` and gives its key (AnyNet and cell spaces alike).
 * Every problem is an InputError naming the file and line.
 */
import { InputError } from "../util/errors.ts";

export const NDS_DEFAULT_METRIC = "test_acc";

/** A TruthTable (truth.ts, not imported so that truth.ts can import this module) plus columns. */
export interface NdsTable {
  source: string;
  metric: string;
  /** key → accuracy (%) */
  accuracy: Map<string, number>;
  /** key → the row's `net` record, as stored. */
  extra: Map<string, unknown>;
  /** key → the table's `params` / `flops` columns (rows lacking them are left out). */
  params: Map<string, number>;
  flops: Map<string, number>;
  /** key → the row's `idx` when rows carry one. */
  index: Map<string, number>;
  /** Rows left out because their network repeats an earlier row's ("keep-first" only). */
  duplicates: number;
}

export interface NdsTruthOptions {
  /** Accuracy field, `test_acc` by default (in %). */
  metric?: string;
  /** Validates a row's `net` and returns its key; throws InputError naming the problem. */
  key: (net: unknown) => string;
  /** A row whose network repeats an earlier row's: an InputError (default), or left out and
   *  counted (the cell tables hold a few repeated genotypes). */
  onDuplicate?: "error" | "keep-first";
}

export async function loadNdsTruth(path: string, o: NdsTruthOptions): Promise<NdsTable> {
  const metric = o.metric ?? NDS_DEFAULT_METRIC;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new InputError(`truth table: cannot read "${path}": ${(error as Error).message}`);
  }
  const table: NdsTable = {
    source: path,
    metric,
    accuracy: new Map(),
    extra: new Map(),
    params: new Map(),
    flops: new Map(),
    index: new Map(),
    duplicates: 0,
  };
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
    if (row.net === undefined) throw new InputError(`${where}: missing "net" (the NDS config)`);
    let key: string;
    try {
      key = o.key(row.net);
    } catch (error) {
      if (error instanceof InputError) throw new InputError(`${where}: ${error.message}`);
      throw error;
    }
    if (table.accuracy.has(key) && o.onDuplicate === "keep-first") {
      table.duplicates++;
      return;
    }
    if (table.accuracy.has(key)) {
      throw new InputError(`${where}: the same network as an earlier row (key "${key}")`);
    }
    const value = row[metric];
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 100) {
      const fields = Object.keys(row).map((f) => `"${f}"`).join(", ");
      throw new InputError(
        `${where}: "${metric}" must be an accuracy in % (a number in 0–100), got ` +
          `${value === undefined ? "nothing" : JSON.stringify(value)}; fields found: ${fields}`,
      );
    }
    table.accuracy.set(key, value);
    table.extra.set(key, row.net);
    if (typeof row.params === "number") table.params.set(key, row.params);
    if (typeof row.flops === "number") table.flops.set(key, row.flops);
    if (typeof row.idx === "number") table.index.set(key, row.idx);
  });
  if (table.accuracy.size === 0) throw new InputError(`${path}: no rows`);
  return table;
}
