/**
 * The library embeds from any script: mod.ts imported by URL from a folder outside the repository,
 * with no deno.json, lockfile or node_modules, resolves every dependency by itself.
 */
import { VERSION } from "../mod.ts";
import assert from "node:assert/strict";

const MOD = new URL("../mod.ts", import.meta.url).href;
const TABLE = new URL("../fixtures/tables/nb201_small.csv", import.meta.url).pathname;

const SCRIPT = `
import { loadTruth, NB201, resolveTask, spearman, VERSION } from ${JSON.stringify(MOD)};
const task = await resolveTask("combo");
const table = await loadTruth("nb201", ${JSON.stringify(TABLE)});
const arch = NB201.format(NB201.parse(NB201.example));
console.log(JSON.stringify({
  version: VERSION,
  task: task.name,
  archs: table.accuracy.size,
  rho: spearman([1, 2, 3], [2, 4, 8]),
  arch: arch === NB201.example,
}));
`;

Deno.test("mod.ts imports by URL into a script with no config and runs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gennas-embed-" });
  try {
    await Deno.writeTextFile(`${dir}/embed.ts`, SCRIPT);
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-config", "embed.ts"],
      cwd: dir,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    const stderr = decoder.decode(output.stderr);
    assert.deepEqual(output.code, 0, stderr);
    assert.deepEqual(JSON.parse(decoder.decode(output.stdout)), {
      version: VERSION,
      task: "combo",
      archs: 3,
      rho: 1,
      arch: true,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
