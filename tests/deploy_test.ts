/**
 * The cluster recipes in deploy/ as they are: `deno task lint:deploy`'s checks pass (and catch
 * broken copies), and their command lines run here on tiny settings — the Slurm submit script
 * under a stand-in sbatch (tests/support/fake_sbatch.ts), the Kubernetes Jobs' containers with
 * JOB_COMPLETION_INDEX set (their command lines taken from the YAML), and the local xargs
 * script — each ending with a merged journal and report covering every shard.
 */
import { flagValue, k8sRecipe, lintDeploy } from "../deploy/lint.ts";
import assert from "node:assert/strict";
import { CLI, REPO, TINY } from "./support/cli.ts";
import { SHARED_DATA, sharedFiles } from "./support/data.ts";

const DEPLOY = `${REPO}deploy`;
const SMALL = ["--truth", "fixtures/tables/nb201_small.csv", "--sample", "3", ...TINY];

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "gennas-deploy-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A folder to put first on PATH, with `gennas` (as the image has it) and the fake `sbatch`. */
async function fakeBin(dir: string): Promise<string> {
  const bin = `${dir}/bin`;
  await Deno.mkdir(bin);
  const deno = Deno.execPath();
  const tools = {
    gennas: `exec "${deno}" run -A "${CLI}" "$@"`,
    sbatch: `exec "${deno}" run -A "${REPO}tests/support/fake_sbatch.ts" "$@"`,
  };
  for (const [name, line] of Object.entries(tools)) {
    await Deno.writeTextFile(`${bin}/${name}`, `#!/bin/sh\n${line}\n`, { mode: 0o755 });
  }
  return bin;
}

async function run(
  command: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(command, {
    args,
    cwd: REPO,
    env: { NO_COLOR: "1", SLURM_ARRAY_TASK_ID: "", JOB_COMPLETION_INDEX: "", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

/** The merged journal's score positions, and that its report was written beside it. */
async function mergedPositions(journal: string): Promise<number[]> {
  const lines = (await Deno.readTextFile(journal)).trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(lines[0].settings.shard, undefined, "the merged header is an unsharded run's");
  assert((await Deno.readTextFile(journal.replace(/\.jsonl$/, ".html"))).includes("<svg"));
  return lines.filter((l) => l.type === "score").map((l) => l.index);
}

Deno.test("deno task lint:deploy passes on deploy/", async () => {
  assert.deepEqual(await lintDeploy(DEPLOY), []);
});

Deno.test("lint:deploy catches broken recipes", async () => {
  await withTempDir(async (dir) => {
    const copy = `${dir}/deploy`;
    await new Deno.Command("cp", { args: ["-a", DEPLOY, copy] }).output();
    const edit = async (file: string, from: RegExp | string, to: string) => {
      const text = await Deno.readTextFile(`${copy}/${file}`);
      await Deno.writeTextFile(`${copy}/${file}`, text.replace(from, to));
    };
    await edit("slurm/rank.sbatch", /--array=0-3%2/, "--array=0-3");
    await edit("slurm/merge.sbatch", /\n$/, "\nif then\n");
    await edit("k8s/rank-job.yaml", "completions: 4", "completions: 5");
    await edit("k8s/merge-job.yaml", "restartPolicy: Never", "restartPolicy: Always");
    await edit("k8s/storage.yaml", "name: gennas-runs", "name: other");
    await Deno.writeTextFile(`${copy}/k8s/broken.yaml`, "kind: [Job\n");
    await edit("Dockerfile", "COPY src src", "COPY source source");
    const problems = (await lintDeploy(copy, REPO)).join("\n");
    for (
      const expected of [
        /slurm\/rank\.sbatch: needs #SBATCH --array=0-<N-1>%<at once>, got --array=0-3/,
        /slurm\/merge\.sbatch: bash -n: .*syntax error/,
        /rank-job\.yaml: gennas rank needs --shard auto\/5 \(= completions\), got auto\/4/,
        /merge-job\.yaml: gennas merge must read the shard journals \/runs\/rank-\*-of-5\.jsonl/,
        /merge-job\.yaml: spec\.template\.spec\.restartPolicy must be Never or OnFailure/,
        /volume claim "gennas-runs" is not defined/,
        /broken\.yaml: document 1 does not parse/,
        /Dockerfile: COPY source: no such file/,
      ]
    ) {
      assert(expected.test(problems), `no problem matching ${expected} in:\n${problems}`);
    }
  });
});

Deno.test("the Slurm recipe runs as it is: job array of shards, then the dependent merge", async () => {
  await withTempDir(async (dir) => {
    const runs = `${dir}/runs`;
    await Deno.mkdir(`${dir}/state`);
    const r = await run("bash", [`${DEPLOY}/slurm/submit.sh`, ...SMALL], {
      PATH: `${await fakeBin(dir)}:${Deno.env.get("PATH")}`,
      FAKE_SLURM_STATE: `${dir}/state`,
      GENNAS_RUNS: runs,
    });
    assert.deepEqual(r.code, 0, r.stderr);
    assert(/submitted 4 shards as job array 1 \(2 at a time\) and merge job 2/.test(r.stdout));
    const jobs = JSON.parse(await Deno.readTextFile(`${dir}/state/jobs.json`));
    assert.deepEqual(jobs.map((j: { ok: boolean }) => j.ok), [true, true], JSON.stringify(jobs));
    assert(jobs[0].concurrent <= 2, "the array's %2 cap");
    const mergeLog = await Deno.readTextFile(`${runs}/slurm-gennas-merge-2.out`);
    assert(/merged 4 of 4 shards: 3 of 3 architectures/.test(mergeLog), mergeLog);
    assert(/Spearman ρ/.test(mergeLog), mergeLog);
    const shardLog = await Deno.readTextFile(`${runs}/slurm-gennas-rank-1_3.out`);
    assert(/shard 3\/4: 0 architectures scored/.test(shardLog), shardLog);
    assert.deepEqual(await mergedPositions(`${runs}/rank.jsonl`), [0, 1, 2]);
  });
});

const [table] = sharedFiles(["nb201.csv", "cifar10_test_first256.bin"]);
Deno.test({
  name: `the Kubernetes Jobs' command lines run as they are, one pod per index${table.note}`,
  ignore: !table.present,
  async fn() {
    await withTempDir(async (dir) => {
      const { rank, merge } = await k8sRecipe(DEPLOY);
      // The pods' volumes become folders here; /data is what the image bakes in (the tables).
      const volumes = new Map(rank.mounts.map((m, i) => [m, `${dir}/volume${i}`]));
      for (const path of volumes.values()) await Deno.mkdir(path);
      const local = (arg: string) =>
        [...volumes].reduce(
          (a, [mount, path]) => a.replaceAll(`${mount}/`, `${path}/`),
          arg.replaceAll("/data/", SHARED_DATA),
        );
      const env = { PATH: `${await fakeBin(dir)}:${Deno.env.get("PATH")}` };
      // The recipe's flags, then smaller ones (commander keeps the last value of a flag).
      const rankArgs = [...rank.command.slice(1).map(local), "--sample", "3", ...TINY];
      const queue = Array.from({ length: rank.completions }, (_, i) => i);
      const results: { code: number; stderr: string }[] = [];
      await Promise.all(Array.from({ length: rank.parallelism }, async () => {
        for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
          results.push(
            await run(rank.command[0], rankArgs, { ...env, JOB_COMPLETION_INDEX: `${i}` }),
          );
        }
      }));
      for (const r of results) assert.deepEqual(r.code, 0, r.stderr);

      const merged = await run(merge.command[0], merge.command.slice(1).map(local), env);
      assert.deepEqual(merged.code, 0, merged.stderr);
      const n = rank.completions;
      assert(new RegExp(`merged ${n} of ${n} shards: 3 of 3 architectures`).test(merged.stdout));
      const out = flagValue(merge.command.at(-1)!.split(/\s+/), "--out")!;
      assert.deepEqual(await mergedPositions(local(out)), [0, 1, 2]);
    });
  },
});

Deno.test("the local recipe: n shards as processes (xargs -P), then the merge", async () => {
  await withTempDir(async (dir) => {
    const runs = `${dir}/local`;
    const r = await run("bash", [`${DEPLOY}/local.sh`, "3", "3", ...SMALL], { GENNAS_RUNS: runs });
    assert.deepEqual(r.code, 0, r.stderr);
    assert(/merged 3 of 3 shards: 3 of 3 architectures/.test(r.stdout), r.stdout);
    assert.deepEqual(await mergedPositions(`${runs}/rank.jsonl`), [0, 1, 2]);
  });
});
