/**
 * Append-only JSONL journals, so that a long search can be killed and resumed. Line 1 is a header
 * `{"type":"header","kind":…,"version":1,"settings":{…},"created":iso}`, then one record per line.
 * Each append is one write of the line and its newline followed by an fsync, so a kill can only
 * leave a final line without its newline; that line is dropped on resume.
 *
 * Records go through JSON: NaN and ±Infinity come back as null.
 */
import { dirname } from "node:path";
import { InputError } from "./errors.ts";

export const JOURNAL_VERSION = 1;

export interface JournalHeader {
  type: "header";
  kind: string;
  version: number;
  settings: Record<string, unknown>;
  created: string;
}

export interface JournalOpen<R> {
  journal: Journal<R>;
  /** Records already in the file (empty for a new journal). */
  records: R[];
  /** True when an existing journal with the same kind and settings was reopened. */
  resumed: boolean;
  /** True when an unfinished final line (a write cut short) was dropped from the file. */
  droppedPartialLine: boolean;
}

const NEWLINE = 0x0a;
const encoder = new TextEncoder();

/**
 * Opens `path` for appending records of a `kind` run with `settings`. A missing file is created
 * with a header. An existing one must have the same kind and settings (deep-equal, key order
 * irrelevant); its records are returned. On any mismatch the file is left untouched.
 */
export async function openJournal<R>(
  path: string,
  kind: string,
  settings: Record<string, unknown>,
): Promise<JournalOpen<R>> {
  const requested = toJsonValue(settings) as Record<string, unknown>;
  const bytes = await readExisting(path);
  if (bytes === undefined || isUnfinishedHeader(bytes)) {
    const journal = await createJournal<R>(path, kind, requested);
    const droppedPartialLine = bytes !== undefined && bytes.length > 0;
    return { journal, records: [], resumed: false, droppedPartialLine };
  }
  const parsed = parseJournal<R>(path, bytes);
  checkHeader(path, parsed.header, kind, requested);
  const file = await openForAppend(path);
  if (parsed.droppedPartialLine) {
    await file.truncate(parsed.completeBytes);
    await file.syncData();
  }
  const journal = new Journal<R>(path, file);
  return {
    journal,
    records: parsed.records,
    resumed: true,
    droppedPartialLine: parsed.droppedPartialLine,
  };
}

/** Reads a journal without opening it for writing: its header and complete records. */
export async function readJournal<R>(
  path: string,
): Promise<{ header: JournalHeader; records: R[]; droppedPartialLine: boolean }> {
  const bytes = await readExisting(path);
  if (bytes === undefined) throw new InputError(`journal ${path} does not exist`);
  const { header, records, droppedPartialLine } = parseJournal<R>(path, bytes);
  return { header, records, droppedPartialLine };
}

/** `--out auto`: the journal a run gets when none is named. */
export const AUTO_JOURNAL = "auto";
export const AUTO_JOURNAL_DIR = "gennas-runs";

/**
 * The path of an automatic journal: gennas-runs/<kind>-<label>-<hash of the settings>.jsonl, so
 * that rerunning the same command resumes it and other settings never collide with it.
 */
export function autoJournalPath(
  kind: string,
  label: string,
  settings: Record<string, unknown>,
): string {
  const text = canonicalJson(toJsonValue(settings));
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return `${AUTO_JOURNAL_DIR}/${kind}-${label}-${(h >>> 0).toString(16).padStart(8, "0")}.jsonl`;
}

/** A file next to a journal: run.jsonl → run.html, run.task.json, … */
export function besideJournal(journal: string, suffix: string): string {
  return journal.replace(/\.jsonl?$/, "") + suffix;
}

/** JSON with object keys sorted at every level, so equal settings always read the same. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0
    );
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * Resolves `out` (a path, "auto" or nothing) for a run; an automatic journal's folder is created.
 */
export async function journalPath(
  out: string | undefined,
  kind: string,
  label: string,
  settings: Record<string, unknown>,
): Promise<string | undefined> {
  if (out !== AUTO_JOURNAL) return out;
  const path = autoJournalPath(kind, label, settings);
  await Deno.mkdir(dirname(path), { recursive: true });
  return path;
}

export class Journal<R> {
  readonly path: string;
  readonly #file: Deno.FsFile;
  #pending: Promise<void> = Promise.resolve();
  #closed = false;

  /** Use openJournal; `file` must be open for appending. */
  constructor(path: string, file: Deno.FsFile) {
    this.path = path;
    this.#file = file;
  }

  /** Appends one record as one line and fsyncs. Concurrent calls are written in call order. */
  append(record: R): Promise<void> {
    if (this.#closed) return Promise.reject(new Error(`journal ${this.path} is closed`));
    const line = encoder.encode(JSON.stringify(record) + "\n");
    const write = this.#pending.then(() => writeLine(this.#file, line));
    this.#pending = write.catch(() => {});
    return write;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#file.close();
  }
}

async function writeLine(file: Deno.FsFile, line: Uint8Array): Promise<void> {
  let written = 0;
  while (written < line.length) written += await file.write(line.subarray(written));
  await file.syncData();
}

async function readExisting(path: string): Promise<Uint8Array | undefined> {
  try {
    return await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new InputError(`cannot read journal ${path} (--out): ${messageOf(error)}`);
  }
}

/** An empty file, or a header whose write was cut short: nothing was recorded yet. */
function isUnfinishedHeader(bytes: Uint8Array): boolean {
  if (bytes.includes(NEWLINE)) return false;
  return new TextDecoder().decode(bytes).startsWith('{"type":"header"');
}

async function createJournal<R>(
  path: string,
  kind: string,
  settings: Record<string, unknown>,
): Promise<Journal<R>> {
  const header: JournalHeader = {
    type: "header",
    kind,
    version: JOURNAL_VERSION,
    settings,
    created: new Date().toISOString(),
  };
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { write: true, create: true, truncate: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new InputError(
        `cannot create journal ${path} (--out): directory ${dirname(path)} does not exist`,
      );
    }
    throw new InputError(`cannot create journal ${path} (--out): ${messageOf(error)}`);
  }
  await writeLine(file, encoder.encode(JSON.stringify(header) + "\n"));
  return new Journal<R>(path, file);
}

async function openForAppend(path: string): Promise<Deno.FsFile> {
  try {
    return await Deno.open(path, { append: true });
  } catch (error) {
    throw new InputError(`cannot append to journal ${path} (--out): ${messageOf(error)}`);
  }
}

interface ParsedJournal<R> {
  header: JournalHeader;
  records: R[];
  /** Byte length of the complete (newline-terminated) lines. */
  completeBytes: number;
  droppedPartialLine: boolean;
}

function parseJournal<R>(path: string, bytes: Uint8Array): ParsedJournal<R> {
  const completeBytes = bytes.lastIndexOf(NEWLINE) + 1;
  const text = new TextDecoder().decode(bytes.subarray(0, completeBytes));
  const lines = text.split("\n").slice(0, -1);
  return {
    header: parseHeader(path, lines[0]),
    records: lines.slice(1).map((line, i) => parseLine(path, line, i + 2) as R),
    completeBytes,
    droppedPartialLine: completeBytes < bytes.length,
  };
}

function parseLine(path: string, line: string, lineNumber: number): unknown {
  try {
    return JSON.parse(line);
  } catch (error) {
    throw new InputError(
      `journal ${path} is corrupt: line ${lineNumber} is not valid JSON (${messageOf(error)}); ` +
        `repair or delete that line, or use another --out`,
    );
  }
}

function parseHeader(path: string, line: string | undefined): JournalHeader {
  const header = parseJsonOrUndefined(line) as Partial<JournalHeader> | undefined;
  const valid = isPlainObject(header) && header.type === "header" &&
    typeof header.kind === "string" && typeof header.version === "number" &&
    isPlainObject(header.settings);
  if (!valid) {
    throw new InputError(
      `${path} is not a gennas journal (line 1 is not a journal header); use another --out`,
    );
  }
  return header as JournalHeader;
}

function checkHeader(
  path: string,
  header: JournalHeader,
  kind: string,
  settings: Record<string, unknown>,
): void {
  if (header.kind !== kind) {
    throw new InputError(
      `journal ${path} records a "${header.kind}" run, not "${kind}"; use another --out`,
    );
  }
  if (header.version !== JOURNAL_VERSION) {
    throw new InputError(
      `journal ${path} has version ${header.version}; this gennas reads version ` +
        `${JOURNAL_VERSION}; use another --out`,
    );
  }
  const differences = settingDifferences(header.settings, settings);
  if (differences.length > 0) {
    throw new InputError(
      `journal ${path} was written with different settings: ${differences.join("; ")}. ` +
        `Use the same settings to resume, or another --out.`,
    );
  }
}

/** "name: journal X, requested Y" for every differing leaf setting (nested objects recursed). */
export function settingDifferences(
  journal: Record<string, unknown>,
  requested: Record<string, unknown>,
  prefix = "",
): string[] {
  const names = [...new Set([...Object.keys(journal), ...Object.keys(requested)])].sort();
  return names.flatMap((name) => {
    const [a, b] = [journal[name], requested[name]];
    const path = prefix + name;
    if (isPlainObject(a) && isPlainObject(b)) return settingDifferences(a, b, `${path}.`);
    if (deepEqual(a, b)) return [];
    return [`${path}: journal ${describe(a)}, requested ${describe(b)}`];
  });
}

/** Structural equality of JSON values; object key order is irrelevant. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length &&
      a.every((item, i) => deepEqual(item, b[i]));
  }
  if (!isPlainObject(a) || !isPlainObject(b)) return false;
  const keysA = Object.keys(a);
  return keysA.length === Object.keys(b).length &&
    keysA.every((key) => Object.hasOwn(b, key) && deepEqual(a[key], b[key]));
}

function parseJsonOrUndefined(line: string | undefined): unknown {
  try {
    return line === undefined ? undefined : JSON.parse(line);
  } catch {
    return undefined;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === undefined) return "(absent)";
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** What the settings look like after a trip through the journal file. */
function toJsonValue(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
