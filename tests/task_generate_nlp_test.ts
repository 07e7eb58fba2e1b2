/**
 * The NLP task generator of task-search on nbnlp (spec §7.5): every random or mutated config is a
 * valid NLP task (parseNlpTaskConfig), all signals local, no resize, d from the generator's set,
 * batch 16; keep = 1 changes nothing, keep = 0 regenerates, and the draw is seeded.
 */
import assert from "node:assert/strict";
import {
  mutateNlpTaskConfig,
  NLP_DIMENSIONS,
  NLP_SIGNAL_KEYS,
  randomNlpTaskConfig,
} from "../src/tasks/generate_nlp.ts";
import { type NlpTaskConfig, parseNlpTaskConfig } from "../src/tasks/nlp.ts";
import { Rng } from "../src/util/rng.ts";

function assertValid(cfg: NlpTaskConfig, label: string) {
  const parsed = parseNlpTaskConfig(structuredClone(cfg), label);
  assert.equal(parsed.batchsize, 16, label);
  assert(NLP_DIMENSIONS.includes(cfg.dimension), `${label}: dimension ${cfg.dimension}`);
  for (const layer of ["0", "1"] as const) {
    const f = cfg.feature[layer] as Record<string, { local?: boolean } | null>;
    assert.equal(f.resize ?? null, null, `${label}: no resize`);
    for (const key of NLP_SIGNAL_KEYS) {
      const s = f[key];
      if (s) assert.equal(s.local, true, `${label}: ${layer}.${key} is local`);
    }
  }
}

Deno.test("random and mutated NLP task configs are valid NLP tasks", () => {
  const rng = new Rng("nlp generator");
  const present = new Set<string>();
  for (let i = 0; i < 500; i++) {
    let cfg = randomNlpTaskConfig(rng);
    assertValid(cfg, `random ${i}`);
    for (let m = 0; m < 4; m++) {
      cfg = mutateNlpTaskConfig(cfg, rng);
      assertValid(cfg, `mutant ${i}.${m}`);
    }
    for (const layer of ["0", "1"] as const) {
      for (const key of NLP_SIGNAL_KEYS) {
        if ((cfg.feature[layer] as Record<string, unknown>)[key]) present.add(`${layer}.${key}`);
      }
    }
  }
  assert.equal(present.size, 8, "every (layer, signal) block occurs");
});

Deno.test("NLP mutation: keep 1 is the identity, keep 0 regenerates; seeded", () => {
  const cfg = randomNlpTaskConfig(new Rng("a"));
  assert.deepEqual(mutateNlpTaskConfig(cfg, new Rng("b"), 1), cfg);
  const changed = Array.from(
    { length: 20 },
    (_, i) => mutateNlpTaskConfig(cfg, new Rng(`c${i}`), 0),
  )
    .filter((c) => JSON.stringify(c) !== JSON.stringify(cfg));
  assert(changed.length >= 19, "regenerating every block changes the config");
  assert.deepEqual(randomNlpTaskConfig(new Rng("s")), randomNlpTaskConfig(new Rng("s")));
  assert.throws(() => mutateNlpTaskConfig(cfg, new Rng("d"), 1.5), /keep must be in \[0, 1\]/);
});
