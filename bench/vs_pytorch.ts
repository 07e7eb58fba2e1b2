/**
 * `deno task bench:vs-pytorch` (not in CI): gennas against a PyTorch counterpart of the same
 * network and training loop (scripts/pytorch_proxy.py; /usr/bin/python3 with torch, 2 threads) on
 * fixed lists of archs (bench/vs_pytorch/archs.ts: 20 NB-201, 10 NB-101), task combo, 100
 * iterations, batch 16, 16 init channels. Each engine is one long-lived worker process (as in a
 * `gennas rank`); per arch each first scores it once with 1 iteration (untimed: compiles the
 * pipelines of its shapes, the steady state of a rank run), then the two run one after the other, the order alternating arch by arch so drift
 * of a shared machine hits both. Prints per-arch seconds (one score: graph build + compile, the
 * iterations, eval and readback; PyTorch: model build, the iterations, eval), the ratio
 * gennas/PyTorch, GFLOP/s achieved (3 × the live graph's forward conv FLOPs per iteration, the same
 * numerator for both), peak RSS of each worker while it scored that arch, and one summary line per
 * space. Without torch it says so and times gennas alone. Resumable: every result is appended to
 * out/vs-pytorch/journal.jsonl (override with --out) and reused.
 *
 *   deno task bench:vs-pytorch [--limit N] [--only nb201|nb101] [--iters 100] [--out DIR] [--fresh]
 *                              [--report (print the journal's table only)] [--gennas-only]
 */
import { benchArgs } from "./args.ts";
import { join } from "node:path";
import { type BenchArch, benchArchs, evenlySpaced } from "./vs_pytorch/archs.ts";
import { PRESETS } from "../src/tasks/presets.ts";
import { stageChannels } from "../src/tasks/schema.ts";
import { DEFAULT_PROXY_SETTINGS } from "../src/proxy/settings.ts";

const { values } = benchArgs(
  {
    options: {
      limit: { type: "string" },
      only: { type: "string" },
      iters: { type: "string", default: "100" },
      out: { type: "string", default: "out/vs-pytorch" },
      python: { type: "string", default: "/usr/bin/python3" },
      threads: { type: "string", default: "2" },
      fresh: { type: "boolean", default: false },
      /** Print the table from the journal only. */
      report: { type: "boolean", default: false },
      /** gennas only (e.g. to produce reference losses), even when torch is present. */
      "gennas-only": { type: "boolean", default: false },
    },
  },
  `deno task bench:vs-pytorch [--limit N] [--only nb201|nb101] [--iters 100] [--out DIR] [--fresh]`,
);
const dataDir = Deno.env.get("GENNAS_DATA") ??
  new URL("../../shared/data/", import.meta.url).pathname;
const iters = Number(values.iters);
const BATCH = 16, INIT_CHANNELS = 16;
type Engine = "gennas" | "pytorch";

interface Reply {
  seconds: number;
  /** CPU seconds of the worker process over the score, all threads. */
  cpu_seconds?: number;
  loss: number;
  peak_rss_mb: number;
  dispatches?: number;
}
interface JournalRecord extends Reply {
  first_seconds: number;
  space: string;
  arch: string;
  engine: Engine;
  iters: number;
  batch: number;
  init_channels: number;
  at: string;
}

/** A worker process speaking one JSON line each way. */
class Worker {
  #proc: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";
  constructor(cmd: string, args: string[]) {
    this.#proc = new Deno.Command(cmd, {
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#writer = this.#proc.stdin.getWriter();
    this.#reader = this.#proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
  }
  async line(): Promise<unknown> {
    while (!this.#buffer.includes("\n")) {
      const { value, done } = await this.#reader.read();
      if (done) throw new Error("worker exited");
      this.#buffer += value;
    }
    const nl = this.#buffer.indexOf("\n");
    const line = this.#buffer.slice(0, nl);
    this.#buffer = this.#buffer.slice(nl + 1);
    return JSON.parse(line);
  }
  async request(req: unknown): Promise<Reply> {
    await this.#writer.write(new TextEncoder().encode(JSON.stringify(req) + "\n"));
    return await this.line() as Reply;
  }
  async close(): Promise<void> {
    await this.#writer.close();
    await this.#proc.status;
  }
}

async function torchAvailable(python: string): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(python, {
      args: ["-c", "import torch; print(torch.__version__)"],
      stdout: "piped",
      stderr: "null",
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : undefined;
  } catch {
    return undefined;
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// ---------------------------------------------------------------------------------------------
const lists = await benchArchs(dataDir);
const spaces = (["nb201", "nb101"] as const).filter((s) => !values.only || values.only === s);
const limit = values.limit ? Number(values.limit) : undefined;
const torchVersion = await torchAvailable(values.python!);
if (!torchVersion) {
  console.log(`PyTorch (torch) is not importable by ${values.python}: timing gennas only.`);
}
await Deno.mkdir(values.out!, { recursive: true });
const journalPath = join(values.out!, "journal.jsonl");
if (values.fresh) await Deno.remove(journalPath).catch(() => {});
const journal: JournalRecord[] = [];
try {
  for (const l of Deno.readTextFileSync(journalPath).split("\n")) {
    if (l.trim()) journal.push(JSON.parse(l));
  }
} catch { /* no journal yet */ }
const recordKey = (space: string, arch: string, engine: Engine) =>
  `${space}\t${arch}\t${engine}\t${iters}\t${BATCH}\t${INIT_CHANNELS}`;
const done = new Map(journal.map((r) => [recordKey(r.space, r.arch, r.engine), r]));
const engines: Engine[] = torchVersion && !values["gennas-only"]
  ? ["gennas", "pytorch"]
  : ["gennas"];

const channels = stageChannels(PRESETS.combo);
const request = (a: BenchArch, n: number) => ({
  space: a.space,
  arch: a.arch,
  task: "combo",
  iters: n,
  batch: BATCH,
  init_channels: INIT_CHANNELS,
  out_channels: channels,
  noise: { kind: PRESETS.combo.noise.type, level: PRESETS.combo.noise.noise_level },
  train_weights: DEFAULT_PROXY_SETTINGS.trainWeights,
  eval_weights: DEFAULT_PROXY_SETTINGS.evalWeights,
  seed: 0,
});

const workers = new Map<Engine, Worker>();
async function worker(engine: Engine): Promise<Worker> {
  let w = workers.get(engine);
  if (!w) {
    w = engine === "gennas"
      ? new Worker(Deno.execPath(), [
        "run",
        "-A",
        new URL("./vs_pytorch/worker.ts", import.meta.url).pathname,
      ])
      : new Worker(values.python!, [
        new URL("../scripts/pytorch_proxy.py", import.meta.url).pathname,
        "--threads",
        values.threads!,
      ]);
    await w.line();
    workers.set(engine, w);
  }
  return w;
}

console.log(
  `gennas vs PyTorch ${torchVersion ?? "(absent)"} (${values.threads} threads): task combo, ` +
    `${iters} iterations, batch ${BATCH}, ${INIT_CHANNELS} init channels; journal ${journalPath}`,
);
const summaries: string[] = [];
for (const space of spaces) {
  const list = limit ? evenlySpaced(lists[space], limit) : lists[space];
  for (const [i, a] of (values.report ? [] : list).entries()) {
    const order = i % 2 ? [...engines].reverse() : engines;
    for (const engine of order) {
      if (done.has(recordKey(space, a.arch, engine))) continue;
      const w = await worker(engine);
      // One untimed iteration first: pipelines compiled for this arch's shapes, as in the steady
      // state of a rank run (its first-call seconds are journaled as first_seconds).
      const first = await w.request(request(a, 1));
      const reply = await w.request(request(a, iters));
      const record: JournalRecord = {
        first_seconds: first.seconds,
        space,
        arch: a.arch,
        engine,
        iters,
        batch: BATCH,
        init_channels: INIT_CHANNELS,
        ...reply,
        at: new Date().toISOString(),
      };
      Deno.writeTextFileSync(journalPath, JSON.stringify(record) + "\n", { append: true });
      done.set(recordKey(space, a.arch, engine), record);
    }
  }
  // Table
  const name = space === "nb201" ? "NB-201" : "NB-101";
  console.log(`\n${name} (${list.length} archs, lightest to heaviest)`);
  const header = [
    "#",
    "arch",
    "GFLOP/it",
    "1st call g/t",
    "gennas s",
    "torch s",
    "ratio",
    "CPU s g/t",
    "CPU ratio",
    "gennas GF/s",
    "torch GF/s",
    "RSS MiB g/t",
    "disp/it",
  ];
  const rows: string[][] = [];
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  let rssG = 0, rssT = 0;
  for (const [i, a] of list.entries()) {
    const g = done.get(recordKey(space, a.arch, "gennas"));
    if (!g) continue; // not measured yet (a --report of a partial run)
    const t = done.get(recordKey(space, a.arch, "pytorch"));
    const gflop = 3 * a.forwardFlops / 1e9;
    const ratio = t ? g.seconds / t.seconds : NaN;
    if (t) ratios.push(ratio);
    const cpuRatio = t?.cpu_seconds && g.cpu_seconds ? g.cpu_seconds / t.cpu_seconds : NaN;
    if (!isNaN(cpuRatio)) cpuRatios.push(cpuRatio);
    rssG = Math.max(rssG, g.peak_rss_mb);
    if (t) rssT = Math.max(rssT, t.peak_rss_mb);
    rows.push([
      String(i),
      a.label,
      gflop.toFixed(2),
      `${g.first_seconds.toFixed(1)} / ${t ? t.first_seconds.toFixed(1) : "-"}`,
      g.seconds.toFixed(2),
      t ? t.seconds.toFixed(2) : "-",
      t ? ratio.toFixed(2) : "-",
      `${g.cpu_seconds?.toFixed(1) ?? "-"} / ${t?.cpu_seconds?.toFixed(1) ?? "-"}`,
      isNaN(cpuRatio) ? "-" : cpuRatio.toFixed(2),
      (gflop * iters / g.seconds).toFixed(1),
      t ? (gflop * iters / t.seconds).toFixed(1) : "-",
      `${g.peak_rss_mb.toFixed(0)} / ${t ? t.peak_rss_mb.toFixed(0) : "-"}`,
      String(g.dispatches ?? "-"),
    ]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join("  ");
  console.log(fmt(header));
  for (const r of rows) console.log(fmt(r));
  const gTotal = list.reduce(
    (s, a) => s + (done.get(recordKey(space, a.arch, "gennas"))?.seconds ?? 0),
    0,
  );
  console.log(
    `total gennas ${gTotal.toFixed(1)} s; peak RSS gennas ${rssG.toFixed(0)} MiB` +
      (torchVersion ? `, PyTorch ${rssT.toFixed(0)} MiB` : ""),
  );
  summaries.push(
    ratios.length
      ? `${name} median ratio gennas/PyTorch: ${median(ratios).toFixed(2)} (worst ${
        Math.max(...ratios).toFixed(2)
      })${ratios.length < list.length ? ` — ${ratios.length} of ${list.length} archs` : ""}`
      : `${name}: PyTorch not measured`,
  );
  if (cpuRatios.length) {
    summaries.push(
      `${name} median CPU-time ratio gennas/PyTorch: ${median(cpuRatios).toFixed(2)} (worst ${
        Math.max(...cpuRatios).toFixed(2)
      })`,
    );
  }
}
for (const w of workers.values()) await w.close();
console.log("");
for (const s of summaries) console.log(s);
