import assert from "node:assert/strict";
import { loadTaskConfig, saveTaskConfig, taskToJson } from "../src/tasks/io.ts";
import { PRESET_NAMES, PRESETS, resolveTask } from "../src/tasks/presets.ts";
import { parseTaskConfig, stageChannels, type TaskConfig } from "../src/tasks/schema.ts";
import { InputError } from "../src/util/errors.ts";

const SPEC_PATH = new URL("../../shared/spec/GENNAS_SPEC.md", import.meta.url);
const FIXTURES = new URL("../fixtures/tasks/", import.meta.url);
const fixture = (name: string) => new URL(name, FIXTURES).pathname;

function readSpecPresets(): Record<string, unknown> | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(SPEC_PATH);
  } catch {
    return null;
  }
  const start = text.indexOf('```json\n{"CONF_COMBO"');
  if (start < 0) return null;
  const lines = text.slice(start + 8, text.indexOf("```", start + 8)).split("\n");
  const presets: Record<string, unknown> = {};
  for (const name of ["CONF_COMBO", "CONF_NB101", "CONF_DARTS", "CONF_RESNET"]) {
    const line = lines.find((l) => l.includes(`"${name}": `));
    if (!line) return null;
    const body = line.slice(line.indexOf(`"${name}": `) + name.length + 4).replace(/,\s*$/, "");
    presets[name] = JSON.parse(body);
  }
  return presets;
}

const SPEC_PRESETS = readSpecPresets();

/** A valid config to break in one place per test. */
function validConfig(): Record<string, unknown> {
  return JSON.parse(JSON.stringify(PRESETS["search-N"]));
}

function rejects(json: unknown, ...fragments: (string | RegExp)[]): string {
  let message = "";
  assert.throws(() => parseTaskConfig(json, "bad.json"), (error: unknown) => {
    assert.ok(error instanceof InputError, `expected InputError, got ${error}`);
    message = error.message;
    return true;
  });
  assert.ok(message.includes("bad.json"), `message names the source: ${message}`);
  for (const fragment of fragments) {
    const ok = typeof fragment === "string" ? message.includes(fragment) : fragment.test(message);
    assert.ok(ok, `message ${JSON.stringify(message)} lacks ${fragment}`);
  }
  return message;
}

// ---------------------------------------------------------------------------------------------
// presets

Deno.test("every preset validates, and stage channels match the spec's table", () => {
  assert.deepEqual(PRESET_NAMES, ["combo", "search-N", "search-D", "search-R", "single"]);
  const channels: Record<string, [number, number, number]> = {
    "combo": [64, 64, 64],
    "search-N": [64, 48, 16],
    "search-D": [80, 32, 80],
    "search-R": [16, 16, 32],
    "single": [64, 64, 64],
  };
  for (const name of PRESET_NAMES) {
    const reparsed = parseTaskConfig(JSON.parse(taskToJson(PRESETS[name])), name);
    assert.deepEqual(reparsed, PRESETS[name]);
    assert.deepEqual(stageChannels(PRESETS[name]), channels[name], name);
  }
  assert.deepEqual(
    [PRESETS.combo.noise, PRESETS["search-N"].noise, PRESETS["search-D"].noise],
    [
      { type: "gaussian", noise_level: 0 },
      { type: "uniform", noise_level: 0.1 },
      { type: "gaussian", noise_level: 0.2 },
    ],
  );
  assert.deepEqual(PRESETS["search-R"].noise, { type: "gaussian", noise_level: 0.9 });
});

Deno.test({
  name: "presets equal the JSON of GENNAS_SPEC 3.2 bit for bit",
  ignore: SPEC_PRESETS === null,
  fn() {
    const pairs = [
      ["combo", "CONF_COMBO"],
      ["search-N", "CONF_NB101"],
      ["search-D", "CONF_DARTS"],
      ["search-R", "CONF_RESNET"],
    ] as const;
    for (const [name, conf] of pairs) assert.deepEqual(PRESETS[name], SPEC_PRESETS![conf], name);
    assert.equal(PRESETS["search-N"].feature["1"].sin1d?.level, 1.7999999999999998);
  },
});
if (SPEC_PRESETS === null) {
  console.log("skipping the preset/spec comparison: /work/shared/spec/GENNAS_SPEC.md not found");
}

Deno.test("single preset: stage-2 dot 100% only, weights [0, 0, 1]", () => {
  const single = PRESETS.single;
  assert.deepEqual(single.feature["2"].dot, { level: 1, partial: 1, local: true });
  assert.deepEqual(single.train_weights, [0, 0, 1]);
  assert.deepEqual(single.eval_weights, [0, 0, 1]);
  for (const stage of ["0", "1", "2"] as const) {
    const present = Object.entries(single.feature[stage]).filter(([, v]) => v !== null);
    assert.deepEqual(present.map(([k]) => k), stage === "2" ? ["dot"] : []);
  }
});

Deno.test("presets are frozen; resolveTask hands out copies", async () => {
  assert.throws(() => {
    (PRESETS.combo as { batchsize: number }).batchsize = 3;
  }, TypeError);
  const { name, config } = await resolveTask("combo");
  assert.equal(name, "combo");
  config.feature["0"].dot = null;
  assert.notEqual(PRESETS.combo.feature["0"].dot, null);
});

// ---------------------------------------------------------------------------------------------
// schema

Deno.test("missing signal keys read as null; a missing batchsize reads as 16", () => {
  const cfg = parseTaskConfig(
    {
      noise: { type: "uniform", noise_level: 0.3 },
      last_channel_l0: 0.5,
      last_channel_l1: 0.75,
      last_channel_l2: 1.5,
      feature: { "0": {}, "1": { dot: null }, "2": { resize: { level: 1.3 } } },
    },
    "inline",
  );
  assert.equal(cfg.batchsize, 16);
  assert.deepEqual(cfg.feature["0"], {
    sin1d: null,
    sin2d: null,
    dot: null,
    dot_gaussian: null,
    resize: null,
  });
  assert.deepEqual(cfg.feature["2"].resize, { level: 1.3 });
  assert.equal(cfg.train_weights, undefined);
  assert.deepEqual(stageChannels(cfg), [32, 48, 96]);
});

Deno.test("C_s = floor(multiplier * 64)", () => {
  const cfg = validConfig();
  Object.assign(cfg, { last_channel_l0: 0.3, last_channel_l1: 1 / 64, last_channel_l2: 1.49 });
  assert.deepEqual(stageChannels(parseTaskConfig(cfg, "x")), [19, 1, 95]);
});

Deno.test("rejects a wrong noise type, naming the field and the allowed values", () => {
  const cfg = validConfig();
  (cfg.noise as Record<string, unknown>).type = "normal";
  rejects(cfg, "noise.type", '"gaussian" or "uniform"', '"normal"');
});

Deno.test("rejects partial 1.5 with the field path and the range", () => {
  const cfg = validConfig();
  const stage = (cfg.feature as Record<string, Record<string, unknown>>)["1"];
  stage.dot = { level: 1, partial: 1.5, local: true };
  rejects(cfg, "feature.1.dot.partial", "[0, 1]", "1.5");
});

Deno.test("rejects a missing stage", () => {
  const cfg = validConfig();
  delete (cfg.feature as Record<string, unknown>)["2"];
  rejects(cfg, "feature.2", "missing");
});

Deno.test("rejects unknown keys, naming them and the allowed keys", () => {
  const top = validConfig();
  top.learning_rate = 0.1;
  rejects(top, '"learning_rate"', "unknown key", '"feature"');
  const inner = validConfig();
  (inner.feature as Record<string, Record<string, unknown>>)["0"].sin3d = null;
  rejects(inner, "feature.0", '"sin3d"', '"dot_gaussian"');
  const stage = validConfig();
  (stage.feature as Record<string, unknown>)["3"] = {};
  rejects(stage, "feature", '"3"');
  const signal = validConfig();
  (signal.feature as Record<string, Record<string, unknown>>)["2"].resize = {
    level: 1,
    local: true,
  };
  rejects(signal, "feature.2.resize", '"local"');
});

Deno.test("rejects an empty range and out-of-range frequencies", () => {
  const empty = validConfig();
  (empty.feature as Record<string, Record<string, Record<string, unknown>>>)["1"].sin1d.range = [];
  rejects(empty, "feature.1.sin1d.range", "non-empty");
  const high = validConfig();
  (high.feature as Record<string, Record<string, Record<string, unknown>>>)["1"].sin2d.range = [
    0.2,
    0.6,
  ];
  rejects(high, "feature.1.sin2d.range.1", "[0, 0.5]", "0.6");
});

Deno.test("rejects a non-number level and a non-boolean local", () => {
  const level = validConfig();
  (level.feature as Record<string, Record<string, Record<string, unknown>>>)["2"].sin1d.level =
    "1.5";
  rejects(level, "feature.2.sin1d.level", "a number", '"1.5"');
  const local = validConfig();
  (local.feature as Record<string, Record<string, Record<string, unknown>>>)["2"].sin1d.local = 1;
  rejects(local, "feature.2.sin1d.local", "true or false");
});

Deno.test("rejects bad channel multipliers, weights, batchsize and top-level types", () => {
  const zero = validConfig();
  zero.last_channel_l1 = 0;
  rejects(zero, "last_channel_l1", "floor(value");
  const missing = validConfig();
  delete missing.last_channel_l0;
  rejects(missing, "last_channel_l0", "missing");
  const weights = validConfig();
  weights.train_weights = [1, 1];
  rejects(weights, "train_weights", "3 numbers");
  const negative = validConfig();
  negative.eval_weights = [1, -1, 1];
  rejects(negative, "eval_weights.1", ">= 0");
  const batch = validConfig();
  batch.batchsize = 2.5;
  rejects(batch, "batchsize", "integer");
  rejects([], "(top level)", "task config object");
  rejects(null, "(top level)");
  const signal = validConfig();
  (signal.feature as Record<string, Record<string, unknown>>)["0"].dot = true;
  rejects(signal, "feature.0.dot", "null or an object {level, partial, local}");
});

Deno.test("rejects a sin pool smaller than the stage's channel count, and several issues at once", () => {
  const small = validConfig();
  small.last_channel_l1 = 1.5; // 96 channels
  (small.feature as Record<string, Record<string, Record<string, unknown>>>)["1"].sin1d.range = [
    0.1,
  ];
  rejects(small, "feature.1.sin1d.range", "64·1", "96");
  const several = validConfig();
  (several.noise as Record<string, unknown>).noise_level = -1;
  several.last_channel_l2 = "big";
  rejects(several, "noise.noise_level", "last_channel_l2");
});

// ---------------------------------------------------------------------------------------------
// files

Deno.test("resolveTask: a fixture file, with missing keys read as null", async () => {
  const path = fixture("minimal.json");
  const { name, config } = await resolveTask(path);
  assert.equal(name, path);
  assert.equal(config.feature["1"].sin1d, null);
  assert.deepEqual(config.feature["0"].sin1d, { level: 1.2, range: [0.1, 0.2], local: false });
  assert.deepEqual(config.train_weights, [1, 1, 1]);
});

async function rejectsAsync(promise: Promise<unknown>, ...fragments: string[]): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof InputError, `expected InputError, got ${error}`);
    for (const f of fragments) assert.ok(error.message.includes(f), `${error.message} lacks ${f}`);
    return true;
  });
}

Deno.test("resolveTask: bad files and unknown names give InputErrors naming the problem", async () => {
  await rejectsAsync(
    resolveTask(fixture("bad_partial.json")),
    "bad_partial.json",
    "feature.1.dot.partial",
  );
  await rejectsAsync(resolveTask(fixture("truncated.json")), "truncated.json", "not valid JSON");
  await rejectsAsync(resolveTask(fixture("absent.json")), "absent.json", "not found", '"combo"');
  await rejectsAsync(resolveTask("combo2"), '"combo2"', '"combo"', '"search-N"', '"single"');
  await rejectsAsync(loadTaskConfig(fixture("absent.json")), "absent.json", "not found");
});

Deno.test("saveTaskConfig writes pretty JSON atomically and round-trips exactly", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/task.json`;
    await Deno.writeTextFile(path, "old contents");
    const cfg: TaskConfig = structuredClone(PRESETS["search-N"]);
    await saveTaskConfig(path, cfg);
    const text = await Deno.readTextFile(path);
    assert.equal(text, taskToJson(cfg));
    assert.ok(text.startsWith('{\n  "batchsize": 16,\n  "noise"'));
    assert.ok(text.includes("1.0999999999999999"));
    assert.deepEqual(await loadTaskConfig(path), cfg);
    const names = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    assert.deepEqual(names, ["task.json"], "no temp file left behind");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
