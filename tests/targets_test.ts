import assert from "node:assert/strict";
import { PRESET_NAMES, PRESETS } from "../src/tasks/presets.ts";
import { STAGE_KEYS, stageChannels, type TaskConfig } from "../src/tasks/schema.ts";
import {
  CNN_GRID,
  dotGaussianSignal,
  dotSignal,
  resizeSignal,
  sin1dSignal,
  sin2dSignal,
} from "../src/tasks/signals.ts";
import { buildTargets, SIGNAL_ORDER, targetShapes } from "../src/tasks/targets.ts";
import { Rng } from "../src/util/rng.ts";

const BATCH = 16;

function randomInputs(batch: number, rng: Rng): Float32Array {
  const data = new Float32Array(batch * 3 * 32 * 32);
  for (let i = 0; i < data.length; i++) data[i] = rng.normal() - 0.2;
  return data;
}

function meanSquare(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] * values[i];
  return sum / values.length;
}

/** The stage target recomputed from the signal generators with the documented rng forks. */
function expectedStage(cfg: TaskConfig, s: number, inputs: Float32Array, rng: Rng): Float64Array {
  const channels = stageChannels(cfg)[s];
  const features = cfg.feature[STAGE_KEYS[s]];
  const stageRng = rng.fork(`stage${s}`);
  const images = { data: inputs, batch: BATCH, channels: 3, height: 32, width: 32 };
  const sum = new Float64Array(BATCH * channels * 64);
  const add = (level: number, values: Float64Array) =>
    values.forEach((v, i) => sum[i] += level * v);
  if (features.sin1d) {
    add(
      features.sin1d.level,
      sin1dSignal(features.sin1d, BATCH, channels, CNN_GRID, stageRng.fork("sin1d")),
    );
  }
  if (features.sin2d) {
    add(
      features.sin2d.level,
      sin2dSignal(features.sin2d, BATCH, channels, CNN_GRID, stageRng.fork("sin2d")),
    );
  }
  if (features.resize) {
    add(features.resize.level, resizeSignal(images, channels, CNN_GRID, stageRng.fork("resize")));
  }
  if (features.dot) {
    add(
      features.dot.level,
      dotSignal(features.dot, BATCH, channels, CNN_GRID, stageRng.fork("dot")),
    );
  }
  if (features.dot_gaussian) {
    const params = features.dot_gaussian;
    add(
      params.level,
      dotGaussianSignal(params, BATCH, channels, CNN_GRID, stageRng.fork("dot_gaussian")),
    );
  }
  return sum;
}

Deno.test("signal order is sin1d, sin2d, resize, dot, dot_gaussian (spec 2.3)", () => {
  assert.deepEqual(SIGNAL_ORDER, ["sin1d", "sin2d", "resize", "dot", "dot_gaussian"]);
});

Deno.test("every preset: three targets [16][C_s][8][8] equal to the level-weighted signal sum", () => {
  const expectedChannels: Record<string, number[]> = {
    "combo": [64, 64, 64],
    "search-N": [64, 48, 16],
    "search-D": [80, 32, 80],
    "search-R": [16, 16, 32],
    "single": [64, 64, 64],
  };
  const inputs = randomInputs(BATCH, new Rng(1));
  for (const name of PRESET_NAMES) {
    const cfg = PRESETS[name];
    const rng = new Rng(`targets/${name}`);
    const targets = buildTargets(cfg, inputs, BATCH, rng);
    assert.equal(targets.length, 3);
    assert.deepEqual(
      targetShapes(cfg, BATCH),
      expectedChannels[name].map((c) => [BATCH, c, 8, 8]),
    );
    targets.forEach((target, s) => {
      assert.ok(target instanceof Float32Array);
      assert.equal(target.length, BATCH * expectedChannels[name][s] * 64, `${name} stage ${s}`);
      const expected = expectedStage(cfg, s, inputs, rng);
      for (let i = 0; i < target.length; i++) {
        assert.equal(target[i], Math.fround(expected[i]), `${name} stage ${s} index ${i}`);
      }
    });
  }
});

Deno.test("combo stage 0 (sin1d + sin2d + dot 100%): mean square ~ 0.5 + 0.5 + 1", () => {
  const [stage0] = buildTargets(PRESETS.combo, randomInputs(BATCH, new Rng(2)), BATCH, new Rng(3));
  const ms = meanSquare(stage0);
  assert.ok(Math.abs(ms - 2) < 0.1, `mean square ${ms}`);
});

Deno.test("single preset: stages 0 and 1 are zero, stage 2 is a full +-1 dot map per image", () => {
  const targets = buildTargets(PRESETS.single, randomInputs(BATCH, new Rng(4)), BATCH, new Rng(5));
  assert.ok(targets[0].every((v) => v === 0));
  assert.ok(targets[1].every((v) => v === 0));
  assert.ok(targets[2].every((v) => v === 1 || v === -1));
  const positives = targets[2].filter((v) => v === 1).length / targets[2].length;
  assert.ok(Math.abs(positives - 0.5) < 0.03);
  // local: image 0 and image 1 get different maps.
  const size = 64 * 64;
  assert.notDeepEqual(targets[2].slice(0, size), targets[2].slice(size, 2 * size));
});

Deno.test("adding a signal changes its stage by exactly level x signal, other stages unchanged", () => {
  const inputs = randomInputs(BATCH, new Rng(6));
  const base = structuredClone(PRESETS["search-R"]);
  const withResize = structuredClone(base);
  withResize.feature["0"].resize = { level: 1.7 };
  const before = buildTargets(base, inputs, BATCH, new Rng(7));
  const after = buildTargets(withResize, inputs, BATCH, new Rng(7));
  assert.deepEqual(after[1], before[1]);
  assert.deepEqual(after[2], before[2]);
  const images = { data: inputs, batch: BATCH, channels: 3, height: 32, width: 32 };
  const resize = resizeSignal(images, 16, CNN_GRID, new Rng(7).fork("stage0").fork("resize"));
  for (let i = 0; i < after[0].length; i++) {
    const delta = after[0][i] - before[0][i];
    assert.ok(Math.abs(delta - 1.7 * resize[i]) < 1e-5, `index ${i}`);
  }
});

Deno.test("levels scale their signal linearly", () => {
  const inputs = randomInputs(BATCH, new Rng(8));
  const doubled = structuredClone(PRESETS.single);
  doubled.feature["2"].dot = { level: 2, partial: 1, local: true };
  const one = buildTargets(PRESETS.single, inputs, BATCH, new Rng(9))[2];
  const two = buildTargets(doubled, inputs, BATCH, new Rng(9))[2];
  two.forEach((v, i) => assert.equal(v, 2 * one[i]));
});

Deno.test("targets are deterministic per seed and differ across seeds", () => {
  const inputs = randomInputs(BATCH, new Rng(10));
  const a = buildTargets(PRESETS["search-N"], inputs, BATCH, new Rng(11));
  const b = buildTargets(PRESETS["search-N"], inputs, BATCH, new Rng(11));
  const c = buildTargets(PRESETS["search-N"], inputs, BATCH, new Rng(12));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a[0], c[0]);
});

Deno.test("targets follow the batch argument and reject inputs of the wrong size", () => {
  const inputs = randomInputs(4, new Rng(13));
  const targets = buildTargets(PRESETS["search-D"], inputs, 4, new Rng(14));
  assert.deepEqual(targets.map((t) => t.length), [4 * 80 * 64, 4 * 32 * 64, 4 * 80 * 64]);
  assert.throws(() => buildTargets(PRESETS.combo, inputs, 5, new Rng(14)), RangeError);
});
