/**
 * Architectures named by file, shared by the spaces whose records are JSON objects (AnyNet, the
 * NDS cell spaces): `TABLE.jsonl#N` (the row whose `idx` is N, else the N-th row from 0 of a
 * table without `idx`) and a `.json` file holding one record. Read synchronously, since a
 * space's `parse` is synchronous; errors are InputErrors prefixed by `who`.
 */
import { InputError } from "../util/errors.ts";

/** `TABLE.jsonl#N`, or undefined when `text` is not of that form. */
export function tableReference(text: string): { path: string; index: number } | undefined {
  const row = /^(.+\.jsonl)#(\d+)$/.exec(text.trim());
  return row ? { path: row[1], index: Number(row[2]) } : undefined;
}

export function isJsonFile(text: string): boolean {
  return /\.json$/.test(text.trim());
}

export function readRecordText(path: string, who: string, hint = ""): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    throw new InputError(`${who}: cannot read "${path}"${hint}: ${(error as Error).message}`);
  }
}

export function parseRecordJson(text: string, where: string, who: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InputError(`${who}: ${where} is not valid JSON: ${(error as Error).message}`);
  }
}

const rowsCache = new Map<string, Record<string, unknown>[]>();

/** Every row of a JSON-lines table, read once per path; `hint` is added to a read error. */
export function tableFileRows(path: string, who: string, hint = ""): Record<string, unknown>[] {
  let rows = rowsCache.get(path);
  if (!rows) {
    rows = readRecordText(path, who, hint).split(/\r?\n/).filter((l) => l.trim() !== "")
      .map((line, i) =>
        parseRecordJson(line, `${path} line ${i + 1}`, who) as Record<string, unknown>
      );
    rowsCache.set(path, rows);
  }
  return rows;
}

/** The row whose `idx` is `index`, else the index-th row (from 0) of a JSON-lines table. */
export function tableFileRow(path: string, index: number, who: string): unknown {
  const rows = tableFileRows(path, who);
  const byIdx = rows.find((r) => r?.idx === index);
  if (byIdx) return byIdx;
  if (index < rows.length && rows.every((r) => r?.idx === undefined)) return rows[index];
  throw new InputError(`${who}: ${path} has no row with idx ${index} (${rows.length} rows)`);
}
