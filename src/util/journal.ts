/**
 * Append-only JSONL journals, so that a long search can be killed and resumed. Line 1 is a header
 * `{"type":"header","kind":…,"version":1,"settings":{…},"created":iso}`, then one record per line.
 * Each append is one write of the line and its newline followed by an fsync, so a kill can only
 * leave a final line without its newline; that line is dropped on resume.
 *
 * A journal belongs to one run at a time: it is held under an exclusive lock from opening to
 * close, and a second run on it fails at once with a JournalLockedError.
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
 * irrelevant); its records are returned. On any mismatch the file is left untouched. The journal
 * stays locked until `close()` (or the end of the process); a journal that another run holds is
 * a JournalLockedError.
 */
export async function openJournal<R>(
  path: string,
  kind: string,
  settings: Record<string, unknown>,
): Promise<JournalOpen<R>> {
  const requested = toJsonValue(settings) as Record<string, unknown>;
  const file = await openLocked(path);
  try {
    const bytes = await readAll(path, file);
    if (bytes.length === 0 || isUnfinishedHeader(bytes)) {
      if (bytes.length > 0) await file.truncate(0);
      await writeHeader(file, kind, requested);
      const journal = new Journal<R>(path, file);
      return { journal, records: [], resumed: false, droppedPartialLine: bytes.length > 0 };
    }
    const parsed = parseJournal<R>(path, bytes);
    checkHeader(path, parsed.header, kind, requested);
    if (parsed.droppedPartialLine) {
      await file.truncate(parsed.completeBytes);
      await file.syncData();
    }
    return {
      journal: new Journal<R>(path, file),
      records: parsed.records,
      resumed: true,
      droppedPartialLine: parsed.droppedPartialLine,
    };
  } catch (error) {
    file.close();
    throw error;
  }
}

/** A journal that another run (this process or another) has open. */
export class JournalLockedError extends InputError {
  constructor(readonly path: string) {
    super(
      `journal ${path} (--out) is in use: another gennas run holds it; wait for that run to ` +
        `finish or use another --out`,
    );
    this.name = "JournalLockedError";
  }
}

/**
 * Opens (creating if missing, never truncating) and locks the journal before reading it, so that
 * no two runs read, create or append to one journal. The lock is an exclusive advisory lock on
 * the file itself (flock on Unix, LockFileEx on Windows) taken with Deno's non-blocking tryLock:
 * a second run learns at once that the journal is taken instead of waiting. The OS releases it
 * when the file is closed or the process dies, even by SIGKILL, so there is no stale lock to
 * detect — unlike a `.lock` file beside the journal, whose owner pid may be dead or reused.
 * Locks of this kind are per open file, so a second open in the same process is refused too.
 */
async function openLocked(path: string): Promise<Deno.FsFile> {
  let file: Deno.FsFile;
  try {
    // Append mode: every write lands at the end of the file, whatever the file offset.
    file = await Deno.open(path, { read: true, append: true, create: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new InputError(
        `cannot create journal ${path} (--out): directory ${dirname(path)} does not exist`,
      );
    }
    throw new InputError(`cannot open journal ${path} (--out): ${messageOf(error)}`);
  }
  let locked: boolean;
  try {
    locked = await file.tryLock(true);
  } catch (error) {
    file.close();
    throw new InputError(`cannot lock journal ${path} (--out): ${messageOf(error)}`);
  }
  if (!locked) {
    file.close();
    throw new JournalLockedError(path);
  }
  return file;
}

/** Reads a journal without opening it for writing: its header and complete records. */
export async function readJournal<R>(
  path: string,
): Promise<{ header: JournalHeader; records: R[]; droppedPartialLine: boolean }> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new InputError(`journal ${path} does not exist`);
    }
    throw error;
  }
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

/** The journal of one run (rank, search or task-search), or none when `out` is absent. */
export interface RunJournal<R> {
  /** The journal file; undefined when the run keeps none. */
  path?: string;
  /** True when an existing journal with the same settings was reopened. */
  resumed: boolean;
  /** The records already journaled, in order (empty for a new journal or none). */
  records: R[];
  append(record: R): Promise<void>;
  close(): void;
}

/**
 * Resolves `out` (a path, "auto" or nothing) and opens or resumes the journal there: what rank,
 * search and task-search share.
 */
export async function openRunJournal<R>(o: {
  out: string | undefined;
  kind: string;
  label: string;
  settings: Record<string, unknown>;
}): Promise<RunJournal<R>> {
  const path = await journalPath(o.out, o.kind, o.label, o.settings);
  if (!path) {
    return { resumed: false, records: [], append: () => Promise.resolve(), close: () => {} };
  }
  const { journal, records, resumed } = await openJournal<R>(path, o.kind, o.settings);
  return {
    path,
    resumed,
    records,
    append: (record) => journal.append(record),
    close: () => journal.close(),
  };
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

/**
 * `line` (one or more whole lines) goes to the file in one write call; a short write, which
 * regular files only give on errors such as a full disk, is continued rather than lost.
 */
async function writeLine(file: Deno.FsFile, line: Uint8Array): Promise<void> {
  let written = 0;
  while (written < line.length) written += await file.write(line.subarray(written));
  await file.syncData();
}

/** The whole file, read through the locked handle. */
async function readAll(path: string, file: Deno.FsFile): Promise<Uint8Array> {
  try {
    const { size } = await file.stat();
    const bytes = new Uint8Array(size);
    await file.seek(0, Deno.SeekMode.Start);
    let read = 0;
    while (read < size) {
      const n = await file.read(bytes.subarray(read));
      if (n === null) break;
      read += n;
    }
    return bytes.subarray(0, read);
  } catch (error) {
    throw new InputError(`cannot read journal ${path} (--out): ${messageOf(error)}`);
  }
}

/** An empty file, or a header whose write was cut short: nothing was recorded yet. */
function isUnfinishedHeader(bytes: Uint8Array): boolean {
  if (bytes.includes(NEWLINE)) return false;
  return new TextDecoder().decode(bytes).startsWith('{"type":"header"');
}

async function writeHeader(
  file: Deno.FsFile,
  kind: string,
  settings: Record<string, unknown>,
): Promise<void> {
  const header: JournalHeader = {
    type: "header",
    kind,
    version: JOURNAL_VERSION,
    settings,
    created: new Date().toISOString(),
  };
  await writeLine(file, encoder.encode(JSON.stringify(header) + "\n"));
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
/** A setting (dotted name, objects recursed) whose values differ between two runs. */
export interface SettingDifference {
  field: string;
  a: unknown;
  b: unknown;
}

export function differingSettings(
  a: Record<string, unknown>,
  b: Record<string, unknown>,
  prefix = "",
): SettingDifference[] {
  const names = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return names.flatMap((name) => {
    const [x, y] = [a[name], b[name]];
    const field = prefix + name;
    if (isPlainObject(x) && isPlainObject(y)) return differingSettings(x, y, `${field}.`);
    return deepEqual(x, y) ? [] : [{ field, a: x, b: y }];
  });
}

export function settingDifferences(
  journal: Record<string, unknown>,
  requested: Record<string, unknown>,
): string[] {
  return differingSettings(journal, requested).map((d) =>
    `${d.field}: journal ${describeSetting(d.a)}, requested ${describeSetting(d.b)}`
  );
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

/** A setting value for a message: JSON, cut to 80 characters. */
export function describeSetting(value: unknown): string {
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
