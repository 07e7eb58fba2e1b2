/**
 * A search killed mid-run (SIGKILL, as a crash would) and resumed from its journal loses or
 * duplicates no evaluation and ends with the same result as an uninterrupted run with the seed.
 */
import assert from "node:assert/strict";
import { CLI, REPO, runCli, TINY } from "./support/cli.ts";

const SEARCH = [
  "search",
  "--space",
  "nb201",
  "--task",
  "search-N",
  "--population",
  "4",
  "--tournament",
  "2",
  "--iterations",
  "5",
  "--seed",
  "3",
  ...TINY,
];

interface EvalLine {
  index: number;
  arch: string;
  loss: number;
}

async function evaluations(path: string): Promise<EvalLine[]> {
  const text = await Deno.readTextFile(path);
  return text.split("\n").filter((l) => l.includes('"type":"eval"')).map((l) => {
    const { index, arch, loss } = JSON.parse(l);
    return { index, arch, loss }; // timings differ between runs
  });
}

function bestOf(stdout: string): string {
  return stdout.split("\n").filter((l) => l.startsWith("best ")).join("\n");
}

Deno.test("a killed search resumes with no lost or duplicated evaluation and the same result", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const straight = await runCli([...SEARCH, "--out", `${dir}/straight.jsonl`]);
    assert.deepEqual(straight.code, 0, straight.stderr);
    const expected = await evaluations(`${dir}/straight.jsonl`);
    assert.deepEqual(expected.map((e) => e.index), [0, 1, 2, 3, 4, 5, 6, 7, 8]);

    const journal = `${dir}/killed.jsonl`;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", CLI, ...SEARCH, "--out", journal],
      cwd: REPO,
      stdout: "null",
      stderr: "null",
    }).spawn();
    // Kill once three evaluations are journaled (the fourth may be in flight).
    for (let waited = 0; waited < 600; waited++) {
      await new Promise((r) => setTimeout(r, 100));
      const done = await evaluations(journal).catch(() => []);
      if (done.length >= 3) break;
    }
    child.kill("SIGKILL");
    await child.status;
    const beforeResume = await evaluations(journal);
    assert(
      beforeResume.length >= 3 && beforeResume.length < 9,
      `killed after ${beforeResume.length}`,
    );

    const resumed = await runCli([...SEARCH, "--out", journal]);
    assert.deepEqual(resumed.code, 0, resumed.stderr);
    assert(/resuming/.test(resumed.stderr), resumed.stderr);
    const actual = await evaluations(journal);
    assert.deepEqual(
      actual.map((e) => e.index),
      expected.map((e) => e.index),
      "no loss, no duplicate",
    );
    assert.deepEqual(actual, expected, "the same evaluations in the same order");
    assert.deepEqual(bestOf(resumed.stdout), bestOf(straight.stdout));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
