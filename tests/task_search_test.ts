/**
 * Proxy-task search end to end on tiny settings: configs are evaluated on labelled architectures,
 * journaled, resumed without re-evaluation, and the best config is written as a file `--task`
 * accepts.
 */
import assert from "node:assert/strict";
import { searchTasks } from "../src/search/task_search.ts";
import { resolveTask } from "../src/tasks/presets.ts";

const TABLE = new URL("../fixtures/tables/nb201_small.csv", import.meta.url).pathname;
const TINY = { iterations: 2, batch: 2, initChannels: 4, seed: 5 };

Deno.test("task-search journals, resumes and writes its best config", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const options = {
      space: "nb201",
      truth: TABLE,
      samples: 3,
      population: 2,
      tournament: 1,
      iterations: 1,
      settings: TINY,
      out: `${dir}/tasks.jsonl`,
    };
    const first = await searchTasks(options);
    assert.deepEqual(first.history.length, 3);
    assert.deepEqual(first.labelled, 3);
    for (const h of first.history) {
      assert(Number.isNaN(h.rho) || (h.rho >= -1 && h.rho <= 1), `ρ out of range: ${h.rho}`);
    }
    const finite = first.history.filter((h) => Number.isFinite(h.rho));
    assert(finite.length > 0, "every ρ is NaN: the scores do not rank the architectures");
    assert.deepEqual(first.best.rho, Math.max(...finite.map((h) => h.rho)));
    const best = await resolveTask(first.bestPath!);
    assert.deepEqual(best.config, first.best.config, "the written task round-trips");
    assert((await Deno.readTextFile(`${dir}/tasks.html`)).includes("<svg"));

    let fresh = 0;
    const second = await searchTasks({
      ...options,
      onEvent: (e) => {
        if (e.type === "evaluation" && !e.replayed) fresh++;
      },
    });
    assert.deepEqual(fresh, 0, "a finished journal replays without evaluating");
    assert.deepEqual(second.history.map((h) => h.rho), first.history.map((h) => h.rho));

    // In workers each config's labelled archs are scored two at a time: the same search.
    const parallel = await searchTasks({ ...options, workers: 2, out: `${dir}/workers.jsonl` });
    assert.equal(parallel.workers, 2);
    assert.equal(first.workers, undefined);
    assert.deepEqual(parallel.history.map((h) => h.rho), first.history.map((h) => h.rho));
    assert.deepEqual(parallel.history.map((h) => h.config), first.history.map((h) => h.config));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
