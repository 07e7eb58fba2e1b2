/**
 * NAS-Bench-NLP cells side by side (not in CI): `gennas score --space nbnlp` (CONF_NLP: 100 Adam
 * iterations, batch 16, PTB sizes) against the PyTorch counterpart scripts/time_nbnlp_torch.py
 * (the golden's model at full size, the reference's dropouts and WeightDrop) with 1 and 2 threads,
 * one cell after the other, each engine a fresh process per cell (compilation and start-up
 * included on both sides). Journals every result to --out (JSONL, resumable) and prints per-cell
 * seconds and the median ratios.
 *
 *   deno run -A bench/nbnlp_vs_pytorch.ts [--ids 2004123,2004928,…] [--out FILE]
 *     [--engines gennas,pytorch-1,pytorch-2]   (a subset: e.g. leave out the 2-thread runs)
 *
 * Default ids: 4 OK PTB cells drawn with Python's random.seed(0) (see the README).
 */
import { benchArgs } from "./args.ts";
import { dirname, join } from "node:path";
import { openJournal } from "../src/util/journal.ts";

const { values } = benchArgs({
  options: {
    ids: { type: "string", default: "2004123,2004928,1002954,2001045" },
    out: { type: "string", default: "out/nbnlp-vs-pytorch.jsonl" },
    python: { type: "string", default: "/usr/bin/python3" },
    engines: { type: "string", default: "gennas,pytorch-1,pytorch-2" },
  },
}, `deno run -A bench/nbnlp_vs_pytorch.ts [--ids 2004123,2004928,…] [--out FILE]`);
const dataDir = Deno.env.get("GENNAS_DATA") ??
  new URL("../../shared/data/", import.meta.url).pathname;
const table = join(dataDir, "nbnlp_ptb.jsonl");
const root = new URL("..", import.meta.url).pathname;
type Engine = "gennas" | "pytorch-1" | "pytorch-2";
interface Result {
  id: string;
  engine: Engine;
  seconds: number;
  cpu_seconds: number;
}

await Deno.mkdir(dirname(values.out!), { recursive: true });
// One record per (cell, engine); a rerun with the same journal skips what it holds.
const { journal, records: done } = await openJournal<Result>(values.out!, "nbnlp-vs-pytorch", {
  iterations: 100,
});

/** Runs a command under GNU time; wall and CPU seconds of the whole process. */
async function timed(cmd: string[], env: Record<string, string> = {}) {
  const started = performance.now();
  const out = await new Deno.Command("/usr/bin/time", {
    args: ["-f", "CPU %U %S", ...cmd],
    cwd: root,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - started) / 1000;
  const stderr = new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${cmd.join(" ")} failed:\n${stderr.slice(-2000)}`);
  const m = stderr.match(/CPU ([\d.]+) ([\d.]+)\s*$/);
  return { seconds, cpu_seconds: m ? Number(m[1]) + Number(m[2]) : NaN };
}

const engines: Record<Engine, (id: string) => Promise<{ seconds: number; cpu_seconds: number }>> = {
  gennas: (id) =>
    timed([
      Deno.execPath(),
      "run",
      "-A",
      "cli.ts",
      "score",
      "--space",
      "nbnlp",
      "--arch",
      `${table}#${id}`,
    ]),
  "pytorch-1": (id) =>
    timed([values.python!, "scripts/time_nbnlp_torch.py", table, id], {
      GENNAS_TORCH_THREADS: "1",
    }),
  "pytorch-2": (id) =>
    timed([values.python!, "scripts/time_nbnlp_torch.py", table, id], {
      GENNAS_TORCH_THREADS: "2",
    }),
};

const ids = values.ids!.split(",");
const chosen = values.engines!.split(",") as Engine[];
for (const e of chosen) {
  if (!(e in engines)) {
    throw new Error(`--engines: unknown ${e} (allowed: ${Object.keys(engines)})`);
  }
}
if (!chosen.includes("gennas")) throw new Error("--engines must include gennas");
for (const id of ids) {
  for (const engine of chosen) {
    if (done.some((r) => r.id === id && r.engine === engine)) continue;
    const r = { id, engine, ...(await engines[engine](id)) };
    done.push(r);
    await journal.append(r);
    console.error(`${id} ${engine}: ${r.seconds.toFixed(1)} s (CPU ${r.cpu_seconds.toFixed(1)} s)`);
  }
}

journal.close();

const get = (id: string, e: Engine) => done.find((r) => r.id === id && r.engine === e);
const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
console.log("recepie_id  gennas s (CPU)   PyTorch 1 thread s (CPU)   PyTorch 2 threads s (CPU)");
const ratios: Record<string, number[]> = { "pytorch-1": [], "pytorch-2": [] };
for (const id of ids) {
  const g = get(id, "gennas")!;
  const cells = (["pytorch-1", "pytorch-2"] as const).map((e) => {
    const p = get(id, e);
    if (!p) return "—";
    ratios[e].push(g.seconds / p.seconds);
    return `${p.seconds.toFixed(1)} (${p.cpu_seconds.toFixed(1)})`;
  });
  console.log(
    `${id.padEnd(10)}  ${`${g.seconds.toFixed(1)} (${g.cpu_seconds.toFixed(1)})`.padEnd(15)}  ` +
      `${cells[0].padEnd(25)}  ${cells[1]}`,
  );
}
const summary = (["pytorch-1", "pytorch-2"] as const).filter((e) => ratios[e].length > 0).map((e) =>
  `${median(ratios[e]).toFixed(2)} against ${e === "pytorch-1" ? "1 thread" : "2 threads"} ` +
  `(worst ${Math.max(...ratios[e]).toFixed(2)})`
);
console.log(`NB-NLP median ratio gennas/PyTorch (wall): ${summary.join(", ")}`);
