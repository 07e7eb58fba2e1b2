/**
 * NAS-Bench-NLP tables (../shared/data/nbnlp_ptb.jsonl, nbnlp_wikitext2.jsonl): one training log
 * per line. The files are Python JSON dumps with bare NaN / Infinity, read here as null. Rows are
 * read synchronously (space.parse is synchronous) and cached per path.
 */
import { resolve } from "node:path";
import { InputError } from "../util/errors.ts";
import { type NlpArgs, PTB_ARGS } from "./nbnlp_build.ts";
import { type Cell, validateRecipe } from "./nbnlp_recipe.ts";

export interface NlpRow {
  recepie_id: number;
  log_file: string;
  status: string;
  recipe: unknown;
  args: NlpArgs;
  final_test_loss: number | null;
  test_losses: (number | null)[];
  num_params: number | null;
  /** The validated cell, or why the recipe is invalid. */
  cell?: Cell;
  invalid?: string;
}

const NON_FINITE = /([:,[]\s*)(-?Infinity|NaN)\b/g;

/** One JSON line, with Python's bare NaN / Infinity read as null. */
export function parsePythonJson(line: string): unknown {
  return JSON.parse(line.replace(NON_FINITE, "$1null"));
}

/** The table arguments the network uses, defaults from PTB for absent keys. */
export function nlpArgs(raw: unknown, where: string): NlpArgs {
  const a = { ...PTB_ARGS, ...(raw && typeof raw === "object" ? raw : {}) } as NlpArgs;
  for (const key of ["emsize", "nhid", "nlayers"] as const) {
    if (!Number.isInteger(a[key]) || a[key] < 1) {
      throw new InputError(`${where}: args.${key} must be a positive integer, got ${a[key]}`);
    }
  }
  for (const key of ["dropout", "dropouth", "wdrop"] as const) {
    if (!(a[key] >= 0 && a[key] < 1)) {
      throw new InputError(`${where}: args.${key} must be in [0, 1), got ${a[key]}`);
    }
  }
  if (!(a.wdecay >= 0)) throw new InputError(`${where}: args.wdecay must be >= 0, got ${a.wdecay}`);
  return {
    emsize: a.emsize,
    nhid: a.nhid,
    nlayers: a.nlayers,
    dropout: a.dropout,
    dropouth: a.dropouth,
    wdrop: a.wdrop,
    tied: Boolean(a.tied),
    wdecay: a.wdecay,
  };
}

/** The recipe of a row or file: an object, or the benchmark's JSON string. */
export function recipeValue(raw: unknown, where: string): unknown {
  if (typeof raw !== "string") return raw;
  try {
    return JSON.parse(raw);
  } catch {
    throw new InputError(`${where}: "recipe" is a string but not valid JSON`);
  }
}

const cache = new Map<string, NlpRow[]>();

/** Every row of a table (cached); InputError naming the file and line for malformed rows. */
export function loadNlpTable(path: string): NlpRow[] {
  const full = resolve(path);
  const hit = cache.get(full);
  if (hit) return hit;
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    throw new InputError(`NAS-Bench-NLP table ${path}: ${(e as Error).message}`);
  }
  const rows: NlpRow[] = [];
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    const where = `${path}: line ${i + 1}`;
    let r: Record<string, unknown>;
    try {
      r = parsePythonJson(line) as Record<string, unknown>;
    } catch {
      throw new InputError(`${where}: not valid JSON`);
    }
    const raw = r.recipe ?? r.recepie;
    if (raw === undefined) throw new InputError(`${where}: no "recipe" field`);
    const row: NlpRow = {
      recepie_id: Number(r.recepie_id),
      log_file: String(r.log_file ?? ""),
      status: String(r.status ?? "OK"),
      recipe: recipeValue(raw, where),
      args: nlpArgs(r.args, where),
      final_test_loss: typeof r.final_test_loss === "number" ? r.final_test_loss : null,
      test_losses: Array.isArray(r.test_losses) ? r.test_losses as (number | null)[] : [],
      num_params: typeof r.num_params === "number" ? r.num_params : null,
    };
    try {
      row.cell = validateRecipe(row.recipe);
    } catch (e) {
      row.invalid = (e as Error).message;
    }
    rows.push(row);
  });
  if (rows.length === 0) throw new InputError(`NAS-Bench-NLP table ${path}: no rows`);
  cache.set(full, rows);
  return rows;
}

/** The row with this recepie_id or log_file name. */
export function findNlpRow(path: string, id: string): NlpRow {
  const rows = loadNlpTable(path);
  const row = rows.find((r) => String(r.recepie_id) === id || r.log_file === id);
  if (!row) {
    throw new InputError(`${path}: no row with recepie_id or log_file "${id}"`);
  }
  return row;
}
