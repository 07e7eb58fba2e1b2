/**
 * Progress display for long runs. On a terminal: a cli-progress bar with count/total, rate, ETA
 * and extra fields. Otherwise (logs, CI): plain lines such as
 * `explore: 12/450 (2.7%) 1.9 s/item ETA 14m05s best=0.123`, at most every `plainEverySeconds`,
 * and always for the first and the last item.
 */
import { cliProgress } from "../deps.ts";

export interface ProgressStream {
  isTerminal(): boolean;
  writeSync(b: Uint8Array): number;
}

export interface ProgressOptions {
  total: number;
  label: string;
  /** Default Deno.stderr. */
  stream?: ProgressStream;
  /** Plain (non-terminal) mode prints at most one line per this many seconds; default 10. */
  plainEverySeconds?: number;
  /** Items already done when the clock starts (e.g. replayed from a journal); not in the rate. */
  initial?: number;
  /** Clock in milliseconds; default performance.now (tests inject a fake one). */
  now?: () => number;
}

export type ProgressFields = Record<string, string | number>;

export interface Progress {
  /** `done` items are complete; `fields` are shown after the ETA (e.g. best=0.123). */
  tick(done: number, fields?: ProgressFields): void;
  /** Prints a line without breaking the bar. */
  log(line: string): void;
  stop(): void;
}

export function createProgress(o: ProgressOptions): Progress {
  const stream = o.stream ?? Deno.stderr;
  const clock = o.now ?? (() => performance.now());
  const throughput = new Throughput(clock, o.initial ?? 0, o.total);
  return stream.isTerminal()
    ? new BarProgress(o, stream, throughput)
    : new PlainProgress(o, stream, throughput, clock);
}

/** "7s", "14m05s", "1h02m03s", "2d03h04m"; "?" when unknown. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const total = Math.round(seconds);
  const [d, h, m, s] = [
    Math.floor(total / 86400),
    Math.floor(total / 3600) % 24,
    Math.floor(total / 60) % 60,
    total % 60,
  ];
  const pad = (n: number) => String(n).padStart(2, "0");
  if (d > 0) return `${d}d${pad(h)}h${pad(m)}m`;
  if (h > 0) return `${h}h${pad(m)}m${pad(s)}s`;
  if (m > 0) return `${m}m${pad(s)}s`;
  return `${s}s`;
}

/** "1.9 s/item" when an item takes a second or more, else "3.4 items/s". */
export function formatRate(secondsPerItem: number): string {
  return secondsPerItem >= 1
    ? `${secondsPerItem.toFixed(1)} s/item`
    : `${(1 / secondsPerItem).toFixed(1)} items/s`;
}

function formatFields(fields: ProgressFields): string {
  return Object.entries(fields)
    .map(([name, value]) => ` ${name}=${typeof value === "number" ? formatNumber(value) : value}`)
    .join("");
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
}

/** Rate and ETA from the items completed since the clock started. */
class Throughput {
  readonly #clock: () => number;
  readonly #startMs: number;
  readonly #initial: number;
  readonly #total: number;

  constructor(clock: () => number, initial: number, total: number) {
    this.#clock = clock;
    this.#startMs = clock();
    this.#initial = initial;
    this.#total = total;
  }

  /** " 1.9 s/item ETA 14m05s", or "" before anything was timed. */
  describe(done: number): string {
    const timed = done - this.#initial;
    const elapsedSeconds = (this.#clock() - this.#startMs) / 1000;
    if (timed <= 0 || elapsedSeconds <= 0) return "";
    const secondsPerItem = elapsedSeconds / timed;
    const eta = formatDuration(Math.max(0, this.#total - done) * secondsPerItem);
    return ` ${formatRate(secondsPerItem)} ETA ${eta}`;
  }
}

const encoder = new TextEncoder();

function write(stream: ProgressStream, text: string): void {
  const bytes = encoder.encode(text);
  let written = 0;
  while (written < bytes.length) written += stream.writeSync(bytes.subarray(written));
}

class PlainProgress implements Progress {
  readonly #o: ProgressOptions;
  readonly #stream: ProgressStream;
  readonly #throughput: Throughput;
  readonly #clock: () => number;
  readonly #everyMs: number;
  #lastPrintMs: number | undefined;
  #unprinted: string | undefined;
  #stopped = false;

  constructor(
    o: ProgressOptions,
    stream: ProgressStream,
    throughput: Throughput,
    clock: () => number,
  ) {
    this.#o = o;
    this.#stream = stream;
    this.#throughput = throughput;
    this.#clock = clock;
    this.#everyMs = (o.plainEverySeconds ?? 10) * 1000;
  }

  tick(done: number, fields: ProgressFields = {}): void {
    if (this.#stopped) return;
    const line = this.#line(done, fields);
    const nowMs = this.#clock();
    const due = this.#lastPrintMs === undefined || done >= this.#o.total ||
      nowMs - this.#lastPrintMs >= this.#everyMs;
    if (!due) {
      this.#unprinted = line;
      return;
    }
    write(this.#stream, line + "\n");
    this.#lastPrintMs = nowMs;
    this.#unprinted = undefined;
  }

  log(line: string): void {
    write(this.#stream, line + "\n");
  }

  /** Prints the latest state if it was held back, so a run cut short still reports where it got. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#unprinted !== undefined) write(this.#stream, this.#unprinted + "\n");
  }

  #line(done: number, fields: ProgressFields): string {
    const { label, total } = this.#o;
    const percent = total > 0 ? (100 * done / total).toFixed(1) : "100.0";
    return `${label}: ${done}/${total} (${percent}%)${this.#throughput.describe(done)}` +
      formatFields(fields);
  }
}

/** Minimal shapes of the untyped cli-progress objects used here. */
interface CliBar {
  start(total: number, startValue: number, payload: Record<string, unknown>): void;
  update(value: number, payload: Record<string, unknown>): void;
  render(): void;
  stop(): void;
  timer: unknown;
}
type BarFormatter = (progress: number, options: unknown) => string;

class BarProgress implements Progress {
  readonly #stream: ProgressStream;
  readonly #throughput: Throughput;
  readonly #bar: CliBar;
  readonly #total: number;
  #stopped = false;

  constructor(o: ProgressOptions, stream: ProgressStream, throughput: Throughput) {
    this.#stream = stream;
    this.#total = o.total;
    this.#throughput = throughput;
    const formatBar = cliProgress.Format.BarFormat as BarFormatter;
    this.#bar = new cliProgress.SingleBar({
      terminal: new AnsiTerminal(stream, o.stream === undefined ? consoleWidth() : 80),
      format: (options: unknown, params: { progress: number }, payload: { text: string }) =>
        `${o.label} [${formatBar(params.progress, options)}] ${payload.text}`,
      forceRedraw: true,
      hideCursor: false,
    }) as CliBar;
    keepTimersFromHoldingTheProcess(this.#bar);
    const initial = o.initial ?? 0;
    this.#bar.start(o.total, initial, { text: `${initial}/${o.total}` });
  }

  tick(done: number, fields: ProgressFields = {}): void {
    if (this.#stopped) return;
    const text = `${done}/${this.#total}${this.#throughput.describe(done)}` +
      formatFields(fields);
    this.#bar.update(done, { text });
  }

  log(line: string): void {
    if (this.#stopped) {
      write(this.#stream, line + "\n");
      return;
    }
    // The bar turns terminal line wrapping off; a logged line may wrap.
    write(this.#stream, `\r\x1b[2K\x1b[?7h${line}\n\x1b[?7l`);
    this.#bar.render();
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#bar.stop();
  }
}

/**
 * cli-progress redraws on a timer; unref it so that a run which ends (or throws) without stop()
 * does not hang the process.
 */
function keepTimersFromHoldingTheProcess(bar: CliBar): void {
  const render = bar.render.bind(bar);
  bar.render = () => {
    render();
    const timer = bar.timer as { unref?: () => void } | number | null;
    if (typeof timer === "number") Deno.unrefTimer(timer);
    else timer?.unref?.();
  };
}

function consoleWidth(): number {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return 80;
  }
}

/** The terminal interface cli-progress drives, as ANSI escapes on a Deno-style stream. */
class AnsiTerminal {
  readonly #stream: ProgressStream;
  readonly #width: number;
  #dy = 0;
  #linewrap = true;

  constructor(stream: ProgressStream, width: number) {
    this.#stream = stream;
    this.#width = width;
  }

  // No save/restore: restoring the position saved at start would jump back over logged lines.
  cursorSave(): void {}
  cursorRestore(): void {}
  cursor(enabled: boolean): void {
    this.#raw(enabled ? "\x1b[?25h" : "\x1b[?25l");
  }
  cursorTo(x: number | null = null, y: number | null = null): void {
    if (y !== null) this.#raw(`\x1b[${y + 1};${(x ?? 0) + 1}H`);
    else if (x !== null) this.#raw(`\x1b[${x + 1}G`);
  }
  cursorRelative(dx: number | null = null, dy: number | null = null): void {
    this.#dy += dy ?? 0;
    this.#move(dx ?? 0, dy ?? 0);
  }
  cursorRelativeReset(): void {
    this.#move(0, -this.#dy);
    this.cursorTo(0, null);
    this.#dy = 0;
  }
  clearRight(): void {
    this.#raw("\x1b[0K");
  }
  clearLine(): void {
    this.#raw("\x1b[2K");
  }
  clearBottom(): void {
    this.#raw("\x1b[0J");
  }
  newline(): void {
    this.#raw("\n");
    this.#dy++;
  }
  write(s: string, rawWrite = false): void {
    this.#raw(this.#linewrap && !rawWrite ? s.slice(0, this.#width) : s);
  }
  lineWrapping(enabled: boolean): void {
    this.#linewrap = enabled;
    this.#raw(enabled ? "\x1b[?7h" : "\x1b[?7l");
  }
  isTTY(): boolean {
    return true;
  }
  getWidth(): number {
    return this.#width;
  }

  #move(dx: number, dy: number): void {
    if (dx !== 0) this.#raw(`\x1b[${Math.abs(dx)}${dx > 0 ? "C" : "D"}`);
    if (dy !== 0) this.#raw(`\x1b[${Math.abs(dy)}${dy > 0 ? "B" : "A"}`);
  }
  #raw(text: string): void {
    write(this.#stream, text);
  }
}
