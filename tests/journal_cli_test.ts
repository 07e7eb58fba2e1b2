/**
 * Journals as the commands use them: one run at a time per journal (a second run on a held journal
 * exits 2 before scoring and leaves it valid and resumable), and a resumed automatic journal is
 * named by its path.
 */
import assert from "node:assert/strict";
import { CLI, REPO, runCli, TINY } from "./support/cli.ts";

const TABLE = "fixtures/tables/nb201_small.csv";

async function journalLines(path: string): Promise<string[]> {
  return (await Deno.readTextFile(path).catch(() => "")).split("\n").filter((l) => l !== "");
}

function signal(child: Deno.ChildProcess, name: Deno.Signal): void {
  try {
    child.kill(name);
  } catch {
    // It has exited meanwhile.
  }
}

Deno.test({
  name: "two rank runs on one journal: the second exits 2 at once, the journal stays resumable",
  // The first run is paused (SIGSTOP) while it holds the journal, so the overlap is certain.
  ignore: Deno.build.os === "windows",
  async fn() {
    const dir = await Deno.makeTempDir();
    const journal = `${dir}/rank.jsonl`;
    const args = [
      "rank",
      "--space",
      "nb201",
      "--truth",
      TABLE,
      "--sample",
      "3",
      "--bootstrap",
      "0",
      "--out",
      journal,
      ...TINY,
    ];
    const first = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", CLI, ...args],
      cwd: REPO,
      stdout: "null",
      stderr: "null",
    }).spawn();
    let exited = false;
    const status = first.status.finally(() => exited = true);
    try {
      // The header is written once the first run holds the lock, just before it scores.
      for (let waited = 0; waited < 12_000 && !exited; waited++) {
        if ((await journalLines(journal)).length >= 1) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      first.kill("SIGSTOP");
      assert(!exited, "the first run ended before the second started");
      const before = await Deno.readTextFile(journal);
      assert(before.endsWith("\n"), "the paused run's lines are whole");

      const second = await runCli(args);
      assert.deepEqual(second.code, 2, second.stderr);
      assert(
        second.stderr.includes(journal) && /another gennas run holds it/.test(second.stderr),
        second.stderr,
      );
      assert.deepEqual(
        second.stderr.trim().split("\n").length,
        1,
        `only the error: ${second.stderr}`,
      );
      assert.deepEqual(second.stdout, "");
      assert.deepEqual(await Deno.readTextFile(journal), before, "the second run wrote nothing");

      first.kill("SIGCONT");
      assert.deepEqual((await status).code, 0, "the first run finishes");
      const lines = await journalLines(journal);
      const records = lines.map((line) => JSON.parse(line));
      assert.deepEqual(records[0].type, "header");
      assert.deepEqual(records.slice(1).map((r) => r.index).sort(), [0, 1, 2], "each arch once");

      const resumed = await runCli(args);
      assert.deepEqual(resumed.code, 0, resumed.stderr);
      assert(/resuming .*3\/3 already scored/.test(resumed.stderr), resumed.stderr);
      assert.deepEqual(await journalLines(journal), lines, "nothing rescored");
    } finally {
      if (!exited) signal(first, "SIGKILL"); // a failed check left it running or paused
      await status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("search and task-search resumed with --out auto name the journal's real path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const evolution = ["--population", "1", "--tournament", "1", "--iterations", "0", ...TINY];
    const runs: [string, string[]][] = [
      ["search", ["search", "--space", "nb201", ...evolution]],
      [
        "task-search",
        [
          "task-search",
          "--space",
          "nb201",
          "--truth",
          REPO + TABLE,
          "--samples",
          "2",
          ...evolution,
        ],
      ],
    ];
    for (const [command, args] of runs) {
      const first = await runCli(args, { cwd: dir });
      assert.deepEqual(first.code, 0, first.stderr);
      const again = await runCli(args, { cwd: dir });
      assert.deepEqual(again.code, 0, again.stderr);
      const path = again.stderr.match(/resuming (\S+): 1\/1 \w+ replayed/)?.[1];
      assert(path, again.stderr);
      assert(new RegExp(`^gennas-runs/${command}-nb201-[0-9a-f]{8}\\.jsonl$`).test(path), path);
      assert((await Deno.stat(`${dir}/${path}`)).isFile, path);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
