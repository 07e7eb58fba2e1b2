import assert from "node:assert/strict";
import {
  CHANNEL_MULTIPLIERS,
  LEVELS,
  mutateTaskConfig,
  NOISE_LEVELS,
  randomTaskConfig,
} from "../src/tasks/generate.ts";
import { taskToJson } from "../src/tasks/io.ts";
import { PRESETS } from "../src/tasks/presets.ts";
import {
  parseTaskConfig,
  SIGNAL_KEYS,
  STAGE_KEYS,
  stageChannels,
  type TaskConfig,
} from "../src/tasks/schema.ts";
import { Rng } from "../src/util/rng.ts";

function validates(cfg: TaskConfig): void {
  assert.deepEqual(parseTaskConfig(JSON.parse(taskToJson(cfg)), "generated"), cfg);
}

function allSignals(cfg: TaskConfig) {
  return STAGE_KEYS.flatMap((stage) =>
    SIGNAL_KEYS.map((key) => ({ stage, key, value: cfg.feature[stage][key] }))
  );
}

Deno.test("value sets: numpy arange(0.5, 3, 0.1) rounded, noise 0..0.9, six multipliers", () => {
  const arange = Array.from({ length: 25 }, (_, k) => Math.round((0.5 + k * 0.1) * 10) / 10);
  assert.deepEqual(LEVELS, arange);
  assert.equal(LEVELS[6], 1.1);
  assert.deepEqual(NOISE_LEVELS, [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
  assert.deepEqual(CHANNEL_MULTIPLIERS.map((m) => Math.floor(m * 64)), [16, 32, 48, 64, 80, 96]);
});

Deno.test("random configs always validate and cover the generator's ranges", () => {
  const rng = new Rng("random-configs");
  let present = 0;
  let total = 0;
  let local = 0;
  let localCount = 0;
  const levels = new Set<number>();
  const noiseTypes = new Set<string>();
  const multipliers = new Set<number>();
  for (let t = 0; t < 400; t++) {
    const cfg = randomTaskConfig(rng);
    validates(cfg);
    assert.equal(cfg.batchsize, 16);
    assert.ok(NOISE_LEVELS.includes(cfg.noise.noise_level));
    noiseTypes.add(cfg.noise.type);
    stageChannels(cfg).forEach((c) => assert.ok([16, 32, 48, 64, 80, 96].includes(c)));
    multipliers.add(cfg.last_channel_l0);
    for (const { value } of allSignals(cfg)) {
      total++;
      if (value === null) continue;
      present++;
      assert.ok(LEVELS.includes(value.level));
      levels.add(value.level);
      if ("local" in value) {
        localCount++;
        if (value.local) local++;
      }
      if ("range" in value) {
        assert.equal(value.range.length, 10);
        assert.ok(value.range.every((f) => f >= 0 && f < 0.5));
      }
      if ("partial" in value) assert.ok(value.partial >= 0 && value.partial < 1);
    }
  }
  assert.ok(Math.abs(present / total - 0.5) < 0.03, `present share ${present / total}`);
  assert.ok(Math.abs(local / localCount - 0.5) < 0.04, `local share ${local / localCount}`);
  assert.equal(levels.size, 25);
  assert.deepEqual([...noiseTypes].sort(), ["gaussian", "uniform"]);
  assert.equal(multipliers.size, 6);
});

Deno.test("range: 10 iid U(a, b) with (a, b) sorted U(0, 0.5) draws: spreads vary widely", () => {
  const rng = new Rng("ranges");
  const spreads: number[] = [];
  for (let t = 0; t < 300; t++) {
    const cfg = randomTaskConfig(rng);
    for (const { value } of allSignals(cfg)) {
      if (value && "range" in value) {
        spreads.push(Math.max(...value.range) - Math.min(...value.range));
      }
    }
  }
  // b - a for two U(0, 0.5) draws has mean 1/6; the sample spread of 10 values is 9/11 of it.
  const mean = spreads.reduce((s, v) => s + v, 0) / spreads.length;
  assert.ok(Math.abs(mean - (9 / 11) / 6) < 0.012, `mean spread ${mean}`);
  assert.ok(Math.max(...spreads) > 0.35 && Math.min(...spreads) < 0.01);
});

Deno.test("partial: continuous U(0, 1) by default, k/64 (k = 1..64) with partialGrid", () => {
  const continuous: number[] = [];
  const grid: number[] = [];
  const rng = new Rng("partials");
  for (let t = 0; t < 300; t++) {
    for (const { value } of allSignals(randomTaskConfig(rng))) {
      if (value && "partial" in value) continuous.push(value.partial);
    }
    const cfg = randomTaskConfig(rng, { partialGrid: true });
    validates(cfg);
    for (const { value } of allSignals(cfg)) {
      if (value && "partial" in value) grid.push(value.partial);
    }
  }
  assert.ok(continuous.some((p) => !Number.isInteger(p * 64)));
  const mean = continuous.reduce((s, v) => s + v, 0) / continuous.length;
  assert.ok(Math.abs(mean - 0.5) < 0.03, `mean partial ${mean}`);
  assert.ok(grid.every((p) => Number.isInteger(p * 64) && p >= 1 / 64 && p <= 1));
  assert.ok(new Set(grid).size > 50);
});

Deno.test("random configs are deterministic per seed", () => {
  assert.deepEqual(randomTaskConfig(new Rng(5)), randomTaskConfig(new Rng(5)));
  assert.notDeepEqual(randomTaskConfig(new Rng(5)), randomTaskConfig(new Rng(6)));
});

/**
 * Every block holds a value the generator never produces (level 0.55, noise 0.95, multipliers
 * 0.3 / 0.4 / 0.45, every signal present), so any regeneration shows up as a change.
 */
function sentinelConfig(): TaskConfig {
  const stage = () => ({
    sin1d: { level: 0.55, range: [0.1, 0.2], local: true },
    sin2d: { level: 0.55, range: [0.1, 0.2], local: false },
    dot: { level: 0.55, partial: 0.5, local: true },
    dot_gaussian: { level: 0.55, partial: 0.5, local: false },
    resize: { level: 0.55 },
  });
  return parseTaskConfig(
    {
      batchsize: 16,
      noise: { type: "gaussian", noise_level: 0.95 },
      last_channel_l0: 0.3,
      last_channel_l1: 0.4,
      last_channel_l2: 0.45,
      feature: { "0": stage(), "1": stage(), "2": stage() },
      train_weights: [0, 0.5, 1],
    },
    "sentinel",
  );
}

function changedBlocks(parent: TaskConfig, child: TaskConfig): string[] {
  const changed: string[] = [];
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (!same(parent.noise, child.noise)) changed.push("noise");
  for (const key of ["last_channel_l0", "last_channel_l1", "last_channel_l2"] as const) {
    if (parent[key] !== child[key]) changed.push(key);
  }
  for (const { stage, key, value } of allSignals(parent)) {
    if (!same(value, child.feature[stage][key])) changed.push(`${stage}.${key}`);
  }
  return changed;
}

Deno.test("mutation regenerates each of the 19 blocks with probability 0.2", () => {
  const parent = sentinelConfig();
  const rng = new Rng("mutation-rate");
  const trials = 2000;
  const counts = new Map<string, number>();
  let totalChanged = 0;
  for (let t = 0; t < trials; t++) {
    const child = mutateTaskConfig(parent, rng);
    const changed = changedBlocks(parent, child);
    totalChanged += changed.length;
    for (const block of changed) counts.set(block, (counts.get(block) ?? 0) + 1);
    assert.deepEqual(child.train_weights, [0, 0.5, 1]);
  }
  const overall = totalChanged / (trials * 19);
  assert.ok(Math.abs(overall - 0.2) < 0.01, `overall change rate ${overall}`);
  assert.equal(counts.size, 19);
  for (const [block, count] of counts) {
    assert.ok(Math.abs(count / trials - 0.2) < 0.04, `${block}: ${count / trials}`);
  }
  assert.deepEqual(parent, sentinelConfig(), "the parent is not modified");
});

Deno.test("mutation never yields an invalid config (chains of mutations, both partial modes)", () => {
  const rng = new Rng("mutation-chain");
  for (const partialGrid of [false, true]) {
    let cfg: TaskConfig = structuredClone(PRESETS["search-N"]);
    for (let step = 0; step < 300; step++) {
      cfg = mutateTaskConfig(cfg, rng, 0.8, { partialGrid });
      validates(cfg);
    }
  }
});

Deno.test("keep = 1 copies, keep = 0 regenerates everything, other values are rejected", () => {
  const parent = sentinelConfig();
  const copy = mutateTaskConfig(parent, new Rng(1), 1);
  assert.deepEqual(copy, parent);
  assert.notEqual(copy, parent);
  const fresh = mutateTaskConfig(parent, new Rng(2), 0);
  assert.ok(!allSignals(fresh).some(({ value }) => value?.level === 0.55));
  assert.equal(changedBlocks(parent, fresh).length, 19);
  assert.throws(() => mutateTaskConfig(parent, new Rng(3), 1.2), RangeError);
  assert.throws(() => mutateTaskConfig(parent, new Rng(3), Number.NaN), RangeError);
});
