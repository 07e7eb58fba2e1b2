/**
 * A stand-in for Slurm's `sbatch`, so tests run deploy/slurm/submit.sh unchanged: it reads the
 * script's #SBATCH lines (command-line options override them), runs a job array's tasks with
 * its %K cap and SLURM_ARRAY_TASK_ID set, writes each task's output where --output says (failing
 * the task when that folder is missing, as Slurm does), and runs a job with
 * --dependency=afterok:ID only when job ID succeeded. Jobs run at submission, so a dependent job
 * always finds its dependency finished. State (job ids, outcomes) lives in $FAKE_SLURM_STATE.
 * Only `--name=value` and `--flag` options are understood; anything else is an error.
 */
import { resolve } from "node:path";

interface Job {
  id: number;
  ok: boolean;
  /** Most tasks that ran at once. */
  concurrent: number;
}

const STATE = Deno.env.get("FAKE_SLURM_STATE");
if (!STATE) fail("FAKE_SLURM_STATE is not set");

function fail(message: string): never {
  console.error(`sbatch (fake): ${message}`);
  Deno.exit(1);
}

function parseOptions(args: string[]): Map<string, string> {
  const options = new Map<string, string>();
  for (const arg of args) {
    const m = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg);
    if (!m) fail(`unsupported option form "${arg}" (use --name=value)`);
    options.set(m[1], m[2] ?? "");
  }
  return options;
}

/** The #SBATCH options of a script: those before its first command, as sbatch reads them. */
function directives(script: string): string[] {
  const found: string[] = [];
  for (const line of script.split("\n").slice(1)) {
    if (line.startsWith("#SBATCH ")) found.push(line.slice(8).trim());
    else if (line.trim() !== "" && !line.startsWith("#")) break;
  }
  return found;
}

/** "0-3%2", "1,3", "5", "0-7:2%4" → the task ids and the cap. */
function parseArray(spec: string): { ids: number[]; cap: number } {
  const [list, cap] = spec.split("%");
  const ids = list.split(",").flatMap((part) => {
    const m = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/.exec(part);
    if (!m) fail(`bad --array "${spec}"`);
    const [from, to, step] = [Number(m[1]), Number(m[2] ?? m[1]), Number(m[3] ?? 1)];
    return Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, k) => from + k * step);
  });
  return { ids, cap: cap === undefined ? ids.length : Number(cap) };
}

async function readJobs(): Promise<Job[]> {
  try {
    return JSON.parse(await Deno.readTextFile(`${STATE}/jobs.json`));
  } catch {
    return [];
  }
}

function outputPath(pattern: string, vars: Record<string, string>): string {
  return pattern.replace(/%([%Aajx])/g, (_, c: string) => (c === "%" ? "%" : vars[c] ?? ""));
}

/** Runs one task with stdout and stderr in `output`; false when it fails (or `output` cannot be
 *  created: Slurm then fails the task without running it). */
async function runTask(
  script: string,
  args: string[],
  output: string,
  env: Record<string, string>,
): Promise<boolean> {
  const redirect = 'out=$1; shift; exec bash "$@" >"$out" 2>&1';
  const child = new Deno.Command("bash", {
    args: ["-c", redirect, "sbatch-task", output, script, ...args],
    env,
    stdout: "null",
    stderr: "null",
  });
  return (await child.output()).success;
}

async function main(argv: string[]): Promise<void> {
  const at = argv.findIndex((a) => !a.startsWith("-"));
  if (at < 0) fail("no batch script given");
  const script = resolve(argv[at]);
  const text = await Deno.readTextFile(script);
  const options = new Map([
    ...parseOptions(directives(text)),
    ...parseOptions(argv.slice(0, at)),
  ]);
  const jobs = await readJobs();
  const id = jobs.length + 1;
  const job: Job = { id, ok: false, concurrent: 0 };
  jobs.push(job);
  console.log(options.has("parsable") ? String(id) : `Submitted batch job ${id}`);

  const dependency = options.get("dependency");
  const after = dependency?.match(/^afterok:([\d:]+)$/)?.[1].split(":").map(Number);
  if (dependency !== undefined && !after) fail(`unsupported --dependency "${dependency}"`);
  const waiting = (after ?? []).some((dep) => !jobs.find((j) => j.id === dep)?.ok);
  if (!waiting) {
    const name = options.get("job-name") ?? script.split("/").at(-1)!;
    const array = options.has("array") ? parseArray(options.get("array")!) : undefined;
    const tasks: (number | undefined)[] = array?.ids ?? [undefined];
    const submitDir = Deno.cwd();
    let running = 0;
    const results: boolean[] = [];
    const queue = [...tasks];
    const worker = async () => {
      while (queue.length > 0) {
        const task = queue.shift();
        running++;
        job.concurrent = Math.max(job.concurrent, running);
        const vars = { A: String(id), a: String(task ?? ""), j: String(id), x: name };
        const fallback = array ? "slurm-%A_%a.out" : "slurm-%j.out";
        const output = resolve(submitDir, outputPath(options.get("output") ?? fallback, vars));
        const env: Record<string, string> = {
          ...Deno.env.toObject(),
          SLURM_JOB_ID: String(id),
          SLURM_JOB_NAME: name,
          SLURM_SUBMIT_DIR: submitDir,
        };
        if (array) {
          Object.assign(env, {
            SLURM_ARRAY_JOB_ID: String(id),
            SLURM_ARRAY_TASK_ID: String(task),
            SLURM_ARRAY_TASK_COUNT: String(array.ids.length),
            SLURM_ARRAY_TASK_MIN: String(Math.min(...array.ids)),
            SLURM_ARRAY_TASK_MAX: String(Math.max(...array.ids)),
          });
        }
        results.push(await runTask(script, argv.slice(at + 1), output, env));
        running--;
      }
    };
    await Promise.all(Array.from({ length: array?.cap ?? 1 }, worker));
    job.ok = results.length === tasks.length && results.every((ok) => ok);
  }
  await Deno.writeTextFile(`${STATE}/jobs.json`, JSON.stringify(jobs));
}

await main(Deno.args);
