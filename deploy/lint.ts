/**
 * `deno task lint:deploy`: checks the cluster recipes in deploy/ without a cluster. The Kubernetes
 * YAML must parse and hold the Jobs' required fields (an Indexed Job of shards whose --shard
 * auto/N matches its completions, a merge Job reading those N journals, the volume they share);
 * the Slurm scripts must be bash (`bash -n`), carry `#SBATCH --array=0-(N-1)%K` matching the
 * shard count, and run gennas rank, merge and the dependent submission; the Dockerfile must copy
 * files that exist and install Mesa's Vulkan driver and the Deno that ./setup installs.
 * tests/deploy_test.ts runs the command lines extracted here.
 */
// A dev tool's own dependency, kept out of src/deps.ts so the library never loads it.
// deno-lint-ignore no-import-prefix
import { parseAllDocuments } from "npm:yaml@2.9.1";

const DEPLOY = new URL(".", import.meta.url).pathname;

type Doc = Record<string, unknown>;

export interface K8sContainer {
  job: string;
  command: string[];
  /** mountPath of every volume the container mounts. */
  mounts: string[];
}

export interface K8sRecipe {
  rank: K8sContainer & { completions: number; parallelism: number };
  merge: K8sContainer;
}

/**
 * Every problem found in `dir` (deploy/ by default), as "file: message"; `root` is the repository
 * the Dockerfile copies from.
 */
export async function lintDeploy(dir = DEPLOY, root = `${dir}/..`): Promise<string[]> {
  const problems: string[] = [];
  const report = (file: string, message: string) => problems.push(`${file}: ${message}`);
  await lintK8s(dir, report);
  await lintSlurm(dir, report);
  await lintShellScripts(dir, report);
  await lintDockerfile(dir, root, report);
  return problems;
}

type Report = (file: string, message: string) => void;

// ---------------------------------------------------------------------------------------------
// Kubernetes

/** The YAML documents of deploy/k8s/*.yaml, each with its file; parse errors are reported. */
async function k8sDocuments(dir: string, report: Report): Promise<{ file: string; doc: Doc }[]> {
  const docs: { file: string; doc: Doc }[] = [];
  for (const file of await listFiles(`${dir}/k8s`, ".yaml")) {
    const parsed = parseAllDocuments(await Deno.readTextFile(`${dir}/k8s/${file}`));
    for (const [i, d] of (Array.isArray(parsed) ? parsed : [parsed]).entries()) {
      const where = `k8s/${file}`;
      if (d.errors.length > 0) {
        report(where, `document ${i + 1} does not parse: ${d.errors[0].message.split("\n")[0]}`);
        continue;
      }
      const doc = d.toJS();
      if (doc === null || doc === undefined) continue;
      if (!isObject(doc)) report(where, `document ${i + 1} is not a mapping`);
      else docs.push({ file: where, doc });
    }
  }
  return docs;
}

/**
 * The rank and merge containers of the Kubernetes recipe (throws when the recipe lacks them;
 * lintDeploy reports why).
 */
export async function k8sRecipe(dir = DEPLOY): Promise<K8sRecipe> {
  const problems: string[] = [];
  const recipe = findK8sRecipe(await k8sDocuments(dir, (f, m) => problems.push(`${f}: ${m}`)));
  if (!recipe) throw new Error(`deploy/k8s has no rank and merge Jobs ${problems.join("; ")}`);
  return recipe;
}

function findK8sRecipe(docs: { file: string; doc: Doc }[]): K8sRecipe | undefined {
  const containers = docs.filter(({ doc }) => doc.kind === "Job").flatMap(({ doc }) =>
    jobContainers(doc)
  );
  const rank = containers.find((c) => gennasSubcommand(c.command) === "rank");
  const merge = containers.find((c) => gennasSubcommand(c.command) === "merge");
  if (!rank || !merge) return undefined;
  const job = docs.find(({ doc }) => get(doc, "metadata.name") === rank.job)!.doc;
  return {
    rank: {
      ...rank,
      completions: Number(get(job, "spec.completions")),
      parallelism: Number(get(job, "spec.parallelism")),
    },
    merge,
  };
}

function jobContainers(job: Doc): K8sContainer[] {
  const containers = get(job, "spec.template.spec.containers");
  if (!Array.isArray(containers)) return [];
  return containers.filter(isObject).map((c) => ({
    job: String(get(job, "metadata.name")),
    command: [...asStrings(c.command), ...asStrings(c.args)],
    mounts: (Array.isArray(c.volumeMounts) ? c.volumeMounts : []).filter(isObject).map((m) =>
      String(m.mountPath)
    ),
  }));
}

/** "rank" for [gennas, rank, …] and for [sh, -c, "gennas rank …"]; undefined otherwise. */
function gennasSubcommand(command: string[]): string | undefined {
  const words = command[0] === "sh" || command[0] === "bash"
    ? (command.at(-1) ?? "").split(/\s+/)
    : command;
  return words[0] === "gennas" ? words[1] : undefined;
}

async function lintK8s(dir: string, report: Report): Promise<void> {
  const docs = await k8sDocuments(dir, report);
  const claims = new Set<string>();
  for (const { file, doc } of docs) {
    for (const field of ["apiVersion", "kind", "metadata.name"]) {
      if (typeof get(doc, field) !== "string") report(file, `${field} is required (a string)`);
    }
    if (doc.kind === "PersistentVolumeClaim") {
      claims.add(String(get(doc, "metadata.name")));
      const modes = get(doc, "spec.accessModes");
      if (!Array.isArray(modes) || !modes.includes("ReadWriteMany")) {
        report(file, "the shards' volume must be ReadWriteMany (pods on several nodes write it)");
      }
    }
  }
  for (const { file, doc } of docs.filter((d) => d.doc.kind === "Job")) lintJob(file, doc, report);
  for (const { file, doc } of docs.filter((d) => d.doc.kind === "Job")) {
    for (const volume of asArray(get(doc, "spec.template.spec.volumes"))) {
      const claim = get(volume, "persistentVolumeClaim.claimName");
      if (claim !== undefined && !claims.has(String(claim))) {
        report(file, `volume claim "${claim}" is not defined in deploy/k8s`);
      }
    }
  }
  const recipe = findK8sRecipe(docs);
  if (!recipe) {
    report("k8s", "needs a Job running `gennas rank` and a Job running `gennas merge`");
    return;
  }
  const { rank, merge } = recipe;
  const job = docs.find((d) => get(d.doc, "metadata.name") === rank.job)!;
  if (get(job.doc, "spec.completionMode") !== "Indexed") {
    report(job.file, "the shards' Job needs completionMode: Indexed (JOB_COMPLETION_INDEX)");
  }
  if (!(Number.isInteger(rank.completions) && rank.completions >= 1)) {
    report(job.file, "spec.completions must be the shard count, an integer ≥ 1");
  }
  if (!(Number.isInteger(rank.parallelism) && rank.parallelism >= 1)) {
    report(job.file, "spec.parallelism (shards at once) must be an integer ≥ 1");
  }
  const shard = flagValue(rank.command, "--shard");
  if (shard !== `auto/${rank.completions}`) {
    report(
      job.file,
      `gennas rank needs --shard auto/${rank.completions} (= completions), got ${shard}`,
    );
  }
  const out = flagValue(rank.command, "--out");
  if (!out?.includes("{shard}")) {
    report(job.file, `gennas rank needs --out with {shard} in the name, got ${out}`);
  }
  const expected = out?.replace("{shard}", `*-of-${rank.completions}`);
  const mergeLine = merge.command.at(-1) ?? "";
  if (expected && !mergeLine.split(/\s+/).includes(expected)) {
    const mergeFile = docs.find((d) => get(d.doc, "metadata.name") === merge.job)!.file;
    report(mergeFile, `gennas merge must read the shard journals ${expected}: ${mergeLine}`);
  }
}

function lintJob(file: string, job: Doc, report: Report): void {
  if (job.apiVersion !== "batch/v1") report(file, `a Job's apiVersion is batch/v1`);
  const spec = get(job, "spec.template.spec");
  if (!isObject(spec)) return report(file, "spec.template.spec is required");
  const restart = spec.restartPolicy;
  if (restart !== "Never" && restart !== "OnFailure") {
    report(file, `spec.template.spec.restartPolicy must be Never or OnFailure, got ${restart}`);
  }
  if (get(job, "spec.backoffLimitPerIndex") !== undefined && restart !== "Never") {
    report(file, "backoffLimitPerIndex needs restartPolicy: Never");
  }
  const containers = spec.containers;
  if (!Array.isArray(containers) || containers.length === 0) {
    return report(file, "spec.template.spec.containers needs a container");
  }
  const volumes = new Set(asArray(spec.volumes).map((v) => get(v, "name")));
  for (const c of containers.filter(isObject)) {
    for (const field of ["name", "image"]) {
      if (typeof c[field] !== "string") report(file, `container ${field} is required`);
    }
    if (asStrings(c.command).length === 0) report(file, `container ${c.name}: command is required`);
    for (const mount of asArray(c.volumeMounts)) {
      if (!volumes.has(get(mount, "name"))) {
        report(file, `container ${c.name} mounts volume "${get(mount, "name")}", not defined`);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Slurm and shell scripts

export interface SlurmScript {
  file: string;
  text: string;
  /** The `#SBATCH` options, in order. */
  directives: string[];
}

async function slurmScripts(dir: string): Promise<SlurmScript[]> {
  const scripts: SlurmScript[] = [];
  for (const file of await listFiles(`${dir}/slurm`, ".sbatch")) {
    const text = await Deno.readTextFile(`${dir}/slurm/${file}`);
    const directives = text.split("\n").filter((l) => l.startsWith("#SBATCH ")).map((l) =>
      l.slice("#SBATCH ".length).trim()
    );
    scripts.push({ file: `slurm/${file}`, text, directives });
  }
  return scripts;
}

async function lintSlurm(dir: string, report: Report): Promise<void> {
  const scripts = await slurmScripts(dir);
  const rank = scripts.find((s) => /\brank --shard "auto\/\$shards"/.test(s.text));
  const merge = scripts.find((s) => /"\$\{gennas\[@\]\}" merge /.test(s.text));
  if (!rank) report("slurm", 'needs an sbatch script running gennas rank --shard "auto/$shards"');
  if (!merge) report("slurm", "needs an sbatch script running gennas merge");
  for (const s of scripts) {
    const lines = s.text.split("\n");
    const firstCommand = lines.findIndex((l, i) => i > 0 && l.trim() !== "" && !l.startsWith("#"));
    const late = lines.findIndex((l, i) => i > firstCommand && l.startsWith("#SBATCH"));
    if (firstCommand >= 0 && late >= 0) {
      report(s.file, `line ${late + 1}: sbatch ignores #SBATCH after the first command`);
    }
  }
  if (rank) {
    const array = rank.directives.find((d) => d.startsWith("--array="));
    const m = array ? /^--array=0-(\d+)%(\d+)$/.exec(array) : null;
    const shards = /\bshards=\$\{GENNAS_SHARDS:-(\d+)\}/.exec(rank.text)?.[1];
    if (!m) {
      report(rank.file, `needs #SBATCH --array=0-<N-1>%<at once>, got ${array ?? "none"}`);
    } else if (shards === undefined || Number(m[1]) + 1 !== Number(shards)) {
      report(
        rank.file,
        `--array=0-${m[1]} runs ${Number(m[1]) + 1} shards, GENNAS_SHARDS ${shards}`,
      );
    }
    if (!/--out "\$runs\/rank-\{shard\}\.jsonl"/.test(rank.text)) {
      report(rank.file, "gennas rank needs --out with {shard} in the name");
    }
  }
  if (merge && !/"\$runs"\/rank-\*-of-"\$shards"\.jsonl/.test(merge.text)) {
    report(
      merge.file,
      'gennas merge must read the shard journals "$runs"/rank-*-of-"$shards".jsonl',
    );
  }
  const submit = await readOrUndefined(`${dir}/slurm/submit.sh`);
  if (submit === undefined) return report("slurm/submit.sh", "is missing");
  if (!/sbatch --parsable --array=/.test(submit)) {
    report("slurm/submit.sh", "must submit the shards with sbatch --parsable --array=…");
  }
  if (!/sbatch --parsable --dependency="afterok:\$array"/.test(submit)) {
    report("slurm/submit.sh", 'must submit the merge with --dependency="afterok:$array"');
  }
}

async function lintShellScripts(dir: string, report: Report): Promise<void> {
  const files = [
    ...(await listFiles(`${dir}/slurm`, "")).map((f) => `slurm/${f}`),
    ...(await listFiles(`${dir}/k8s`, ".sh")).map((f) => `k8s/${f}`),
    ...(await listFiles(dir, ".sh")),
  ].filter((f) => f.endsWith(".sh") || f.endsWith(".sbatch"));
  for (const file of files) {
    const path = `${dir}/${file}`;
    const text = await Deno.readTextFile(path);
    if (!text.startsWith("#!/bin/bash\n")) report(file, "must start with #!/bin/bash");
    const mode = (await Deno.stat(path)).mode;
    if (mode !== null && (mode & 0o100) === 0) report(file, "is not executable (chmod +x)");
    const check = await new Deno.Command("bash", { args: ["-n", path], stderr: "piped" }).output();
    if (!check.success) {
      report(file, `bash -n: ${new TextDecoder().decode(check.stderr).trim()}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Dockerfile

async function lintDockerfile(dir: string, root: string, report: Report): Promise<void> {
  const file = "Dockerfile";
  const text = await readOrUndefined(`${dir}/${file}`);
  if (text === undefined) return report(file, "is missing");
  const lines = text.split("\n").filter((l) => !l.startsWith("#"));
  if (!lines.some((l) => l.startsWith("FROM "))) report(file, "has no FROM");
  if (!/\bmesa-vulkan-drivers\b/.test(text)) {
    report(file, "must install mesa-vulkan-drivers (lavapipe on CPU nodes)");
  }
  const setup = await readOrUndefined(`${root}/setup`);
  const version = setup && /^DENO_VERSION=(\S+)$/m.exec(setup)?.[1];
  if (version && !text.includes(`deno@${version}`)) {
    report(file, `must install deno@${version}, the version ./setup installs`);
  }
  for (const line of lines.filter((l) => /^COPY (?!--from)/.test(l))) {
    for (const source of line.split(/\s+/).slice(1, -1)) {
      if (!(await exists(`${root}/${source}`))) report(file, `COPY ${source}: no such file`);
    }
  }
  if (!/^CMD |^ENTRYPOINT /m.test(text)) report(file, "needs a CMD or ENTRYPOINT");
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** The value after `flag` in an argument list ("--flag value" or "--flag=value"). */
export function flagValue(args: readonly string[], flag: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === flag) return args[i + 1];
    if (args[i].startsWith(`${flag}=`)) return args[i].slice(flag.length + 1);
  }
  return undefined;
}

function get(value: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>((v, k) => (isObject(v) ? v[k] : undefined), value);
}

function isObject(value: unknown): value is Doc {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function asStrings(value: unknown): string[] {
  return asArray(value).map(String);
}

async function listFiles(dir: string, suffix: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && e.name.endsWith(suffix)) names.push(e.name);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort();
}

async function readOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

if (import.meta.main) {
  const problems = await lintDeploy(Deno.args[0] ?? DEPLOY);
  for (const p of problems) console.error(`lint:deploy: ${p}`);
  if (problems.length > 0) Deno.exit(1);
  console.log("lint:deploy: deploy/ OK (Kubernetes Jobs, Slurm scripts, Dockerfile)");
}
