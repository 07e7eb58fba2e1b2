import assert from "node:assert/strict";
import { loadTruth } from "../src/eval/truth.ts";
import { loadNdsTruth } from "../src/eval/truth_nds.ts";
import {
  ANYNET_NEIGHBOURS,
  ANYNET_RANGES,
  ANYNET_SPACE_NAMES,
  type AnyNetArch,
  anyNetConfig,
  anyNetDistance,
  anyNetFromJson,
  anyNetKey,
  anyNetRanges,
  anyNetStageSizes,
  bottleneckWidth,
  formatAnyNet,
  mutateAnyNet,
  parseAnyNet,
  sampleAnyNet,
} from "../src/spaces/anynet.ts";
import { scaledAnyNetConfig } from "../src/spaces/anynet_build.ts";
import { GraphBuilder } from "../src/graph/builder.ts";
import { getSpace, SPACE_NAMES } from "../src/spaces/index.ts";
import { runCli, TINY } from "./support/cli.ts";
import { InputError } from "../src/util/errors.ts";
import { Rng } from "../src/util/rng.ts";
import { sharedFile } from "./support/data.ts";

const SMALL = new URL("../fixtures/tables/nds_anynet_small.jsonl", import.meta.url).pathname;
const TABLES = {
  "resnext-a_in": sharedFile("nds_ResNeXt-A_in.jsonl"),
  "resnext-b_in": sharedFile("nds_ResNeXt-B_in.jsonl"),
} as const;

const ROW13 = {
  block_type: "res_bottleneck_block",
  bot_muls: [1.0, 0.5, 0.5, 0.25],
  ds: [1, 2, 1, 1],
  num_gs: [1, 2, 1, 2],
  ss: [8, 1, 2, 2],
  ws: [64, 16, 16, 128],
};

function assertInputError(run: () => unknown, ...fragments: string[]): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof InputError, `expected InputError, got ${error}`);
    for (const fragment of fragments) {
      assert.ok(error.message.includes(fragment), `"${error.message}" lacks "${fragment}"`);
    }
    return true;
  });
}

Deno.test("anynet spaces are registered under their six names", () => {
  for (const name of ANYNET_SPACE_NAMES) {
    assert.ok((SPACE_NAMES as readonly string[]).includes(name), name);
    const space = getSpace(name);
    assert.equal(space.name, name);
    const example = space.parse(space.example) as AnyNetArch;
    assert.equal(space.format(example), space.example.replaceAll("1.0", "1"));
    assert.equal(example.block_type, anyNetRanges(name).block);
  }
});

Deno.test("anynet parses a net record, a row, TABLE.jsonl#idx and a JSON file alike", async () => {
  const arch = parseAnyNet(JSON.stringify(ROW13));
  assert.deepEqual(arch, ROW13);
  assert.deepEqual(parseAnyNet(JSON.stringify({ idx: 13, net: ROW13, test_acc: 50 })), arch);
  assert.deepEqual(parseAnyNet(formatAnyNet(arch)), arch, "format round-trips");
  const row1 = parseAnyNet(`${SMALL}#1`);
  assert.deepEqual(row1.ws, [8, 8, 16, 16]);
  assert.deepEqual(row1.num_gs, [1, 4, 2, 8]);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/net.json`, JSON.stringify(ROW13, null, 2));
    await Deno.writeTextFile(`${dir}/row.json`, JSON.stringify({ net: ROW13 }));
    assert.deepEqual(parseAnyNet(`${dir}/net.json`), arch);
    assert.deepEqual(parseAnyNet(`${dir}/row.json`), arch);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assertInputError(() => parseAnyNet(`${SMALL}#7`), "has no row with idx 7");
  assertInputError(() => parseAnyNet("resnext"), "expected an NDS net record");
  assertInputError(() => parseAnyNet("/nonexistent/net.json"), 'cannot read "/nonexistent');
  assertInputError(() => parseAnyNet("{not json"), "not valid JSON");
});

Deno.test("anynet applies the GenNAS record conversion; the key is the built network", () => {
  const c = anyNetConfig(anyNetFromJson(ROW13));
  assert.deepEqual(c, {
    block: "res_bottleneck_block",
    ds: [1, 2, 1, 1],
    ws: [64, 16, 16, 128],
    ss: [1, 1, 2, 2],
    bms: [1, 0.5, 0.5, 0.25],
    gws: [1, 2, 1, 2],
  });
  assert.deepEqual(anyNetStageSizes(c), [32, 32, 16, 8]);
  assert.equal(
    anyNetKey(anyNetFromJson(ROW13)),
    "res_bottleneck_block|ds=1,2,1,1|ws=64,16,16,128|ss=1,1,2,2|bms=1,0.5,0.5,0.25|gws=1,2,1,2",
  );
  const ss1 = anyNetFromJson({ ...ROW13, ss: [1, 1, 2, 2] });
  assert.equal(anyNetKey(ss1), anyNetKey(anyNetFromJson(ROW13)), "ss[0] 8 and 1 build the same");
  assert.notEqual(formatAnyNet(ss1), formatAnyNet(anyNetFromJson(ROW13)), "records stay as given");
  const zero = anyNetFromJson({ ...ROW13, bot_muls: [0, 0.5, 0.5, 0.25] });
  assert.deepEqual(anyNetConfig(zero).bms, [1, 0.5, 0.5, 0.25], "bms[0] = 0 becomes 1");
  const plain = {
    block_type: "double_plain_block",
    ds: [1, 1, 1, 1],
    ss: [8, 1, 2, 2],
    ws: [8, 8, 8, 8],
  };
  assert.equal(anyNetConfig(anyNetFromJson(plain)).block, "vanilla_block");
  assert.equal(
    anyNetKey(anyNetFromJson(plain)),
    anyNetKey(anyNetFromJson({ ...plain, block_type: "vanilla_block" })),
  );
  assert.deepEqual(anyNetFromJson({ ...plain, bot_muls: [], num_gs: [] }).bot_muls, undefined);
  assert.equal(bottleneckWidth(16, 0.25), 4);
  assert.equal(bottleneckWidth(10, 0.25), 2, "Python's round: 2.5 → 2");
  assert.equal(bottleneckWidth(14, 0.25), 4, "3.5 → 4");
});

Deno.test("anynet invalid records are rejected naming the field", () => {
  const cases: [Record<string, unknown>, string[]][] = [
    [{ ds: [1, 2, 1] }, ["ds: has 3 entries, expected 4 (one per stage)"]],
    [{ ws: [64, 16, 16, 128, 8] }, ["ws: has 5 entries, expected 4"]],
    [{ ss: [8, 1, 2] }, ["ss: has 3 entries, expected 4"]],
    [{ bot_muls: [1, 0.5] }, ["bot_muls: has 2 entries, expected 4"]],
    [{ num_gs: [1, 2, 1] }, ["num_gs: has 3 entries, expected 4"]],
    [{ num_gs: [1, 3, 1, 2] }, [
      "num_gs[1]: group width 3 does not divide the bottleneck width 8",
      "round(ws[1] 16 × bot_muls[1] 0.5)",
    ]],
    [{ ss: [8, 1, 2, 1] }, ["ss: stage 4 would be 16×16", "must be 8×8"]],
    [{ ss: [8, 2, 2, 2] }, ["ss: stage 4 would be 4×4"]],
    [{ ds: [1, 0, 1, 1] }, ["ds[1] is 0; expected integers ≥ 1"]],
    [{ ws: [64, 16.5, 16, 128] }, ["ws[1] is 16.5"]],
    [{ bot_muls: [1, -0.5, 0.5, 0.25] }, ["bot_muls[1] is -0.5; expected numbers > 0"]],
    [{ bot_muls: [1, 0.01, 0.5, 0.25] }, ["bot_muls[1]: bottleneck width round(16 × 0.01) is 0"]],
    [{ ds: "1,2,1,1" }, ["ds: expected a list of 4 integers ≥ 1"]],
    [{ ws: undefined }, ["ws: expected a list", "got nothing"]],
    [{ num_gs: undefined }, ["num_gs: missing; res_bottleneck_block needs one per stage"]],
    [{ block_type: "res_stem" }, ['block_type is "res_stem"', '"res_bottleneck_block"']],
    [{ depth: 3 }, ['unknown field(s) "depth"', '"bot_muls"']],
    [{ block_type: "res_basic_block" }, ["bot_muls: res_basic_block takes no bot_muls"]],
  ];
  for (const [change, fragments] of cases) {
    assertInputError(() => anyNetFromJson({ ...ROW13, ...change }), ...fragments);
  }
  assertInputError(() => anyNetFromJson([1, 2]), "expected a JSON object");
});

Deno.test("anynet sampling stays in the space's ranges, is seeded, and covers the tables", () => {
  for (const name of ANYNET_SPACE_NAMES) {
    const ranges = anyNetRanges(name);
    const space = getSpace(name);
    const a = Array.from({ length: 50 }, (_, i) => space.format(space.sample(new Rng(`s${i}`))));
    const b = Array.from({ length: 50 }, (_, i) => space.format(space.sample(new Rng(`s${i}`))));
    assert.deepEqual(a, b, "same seed, same samples");
    assert.ok(new Set(a).size > 45, `${name}: samples are varied`);
    for (const text of a) {
      const arch = space.parse(text) as AnyNetArch;
      assert.equal(arch.block_type, ranges.block);
      assert.deepEqual([arch.ds[0], arch.ws[0], arch.ss[0]], [1, 64, 8], "stage 1 is fixed");
      assert.deepEqual(arch.ss.slice(1), [1, 2, 2]);
      for (let s = 1; s < 4; s++) {
        assert.ok(ranges.depths.includes(arch.ds[s]) && ranges.widths.includes(arch.ws[s]));
        if (ranges.botMuls) assert.ok(ranges.botMuls.includes(arch.bot_muls![s]));
        if (ranges.groupWidths) assert.ok(ranges.groupWidths.includes(arch.num_gs![s]));
      }
    }
  }
});

for (const [name, table] of Object.entries(TABLES)) {
  Deno.test({
    name: `anynet: every row of the ${name} table is in the space's ranges${table.note}`,
    ignore: !table.present,
    async fn() {
      const truth = await loadTruth(name as "resnext-a_in", table.path);
      const ranges = anyNetRanges(name as "resnext-a_in");
      assert.equal(truth.metric, "test_acc");
      assert.equal(truth.accuracy.size, name === "resnext-a_in" ? 130 : 164);
      for (const net of truth.extra!.values()) {
        const arch = anyNetFromJson(net);
        assert.deepEqual([arch.ds[0], arch.ws[0], arch.ss[0]], [1, 64, 8]);
        for (let s = 1; s < 4; s++) {
          assert.ok(ranges.depths.includes(arch.ds[s]), `ds ${arch.ds}`);
          assert.ok(ranges.widths.includes(arch.ws[s]), `ws ${arch.ws}`);
          assert.ok(ranges.botMuls!.includes(arch.bot_muls![s]), `bot_muls ${arch.bot_muls}`);
          assert.ok(ranges.groupWidths!.includes(arch.num_gs![s]), `num_gs ${arch.num_gs}`);
        }
      }
    },
  });
}

Deno.test("anynet distance is GenNAS' get_diff over the record's fields", () => {
  const a = anyNetFromJson(ROW13);
  assert.equal(anyNetDistance(a, a), 0);
  const b = anyNetFromJson({ ...ROW13, ds: [1, 4, 1, 2], ws: [64, 32, 16, 128] });
  assert.equal(anyNetDistance(a, b), 3);
  const basic = anyNetFromJson({ block_type: "res_basic_block", ds: a.ds, ss: a.ss, ws: a.ws });
  // block_type differs (1) and the candidate lacks bot_muls and num_gs (1 each).
  assert.equal(anyNetDistance(a, basic), 3);
  assert.equal(anyNetDistance(basic, a), 1, "only the parent's fields count");
});

Deno.test("anynet mutation is the first of 200 seeded draws nearest the parent", () => {
  const ranges = ANYNET_RANGES["resnext-a"];
  const parent = sampleAnyNet(ranges, new Rng("parent"));
  for (let trial = 0; trial < 5; trial++) {
    const child = mutateAnyNet(ranges, parent, new Rng(`m${trial}`));
    const replay = new Rng(`m${trial}`);
    const draws = Array.from({ length: ANYNET_NEIGHBOURS }, () => sampleAnyNet(ranges, replay));
    const distances = draws.map((d) => anyNetDistance(parent, d));
    const min = Math.min(...distances);
    assert.deepEqual(child, draws[distances.indexOf(min)]);
    // The nearest of 200 is much nearer than a typical draw (≈ 8.8 of 12 free fields differ).
    assert.ok(min <= 7, `distance ${min}`);
  }
});

Deno.test("NDS truth loader: key, accuracy, params, flops and idx; errors name the line", async () => {
  const table = await loadNdsTruth(SMALL, { key: (net) => anyNetKey(anyNetFromJson(net)) });
  assert.equal(table.accuracy.size, 3);
  const key = anyNetKey(parseAnyNet(`${SMALL}#2`));
  assert.equal(table.accuracy.get(key), 44.0);
  assert.equal(table.params.get(key), 7000);
  assert.equal(table.flops.get(key), 4000000);
  assert.equal(table.index.get(key), 2);
  const viaSpace = await loadTruth("resnext-a_in", SMALL);
  assert.deepEqual([...viaSpace.accuracy], [...table.accuracy]);
  const dir = await Deno.makeTempDir();
  try {
    const row = (net: unknown, extra = {}) => JSON.stringify({ net, test_acc: 50, ...extra });
    const bad: [string, string[]][] = [
      [`${row(ROW13)}\n${row({ ...ROW13, ds: [1, 2] })}`, ["line 2", "ds: has 2 entries"]],
      [`${row(ROW13)}\n${row(ROW13)}`, ["line 2: the same network as an earlier row"]],
      [row(ROW13, { test_acc: 140 }), ["line 1", '"test_acc" must be an accuracy in %']],
      [JSON.stringify({ test_acc: 3 }), ['line 1: missing "net"']],
      ["{", ["line 1: invalid JSON"]],
      ["", ["no rows"]],
    ];
    for (const [text, fragments] of bad) {
      await Deno.writeTextFile(`${dir}/t.jsonl`, text);
      await assert.rejects(loadTruth("resnext-b", `${dir}/t.jsonl`), (e: unknown) => {
        assert.ok(e instanceof InputError, String(e));
        for (const f of fragments) assert.ok(e.message.includes(f), `"${e.message}" lacks "${f}"`);
        return true;
      });
    }
    await assert.rejects(loadTruth("resnet", SMALL, { dataset: "cifar100" }), /dataset:.*NDS/);
    await Deno.writeTextFile(`${dir}/t.jsonl`, row(ROW13, { test_top1_err_final: 60 }));
    const byMetric = await loadTruth("resnext-a", `${dir}/t.jsonl`, {
      metric: "test_top1_err_final",
    });
    assert.deepEqual([...byMetric.accuracy.values()], [60]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("anynet --width-scale: stage widths scale and group widths still divide", async () => {
  const row51: AnyNetArch = {
    block_type: "res_bottleneck_block",
    bot_muls: [1, 0.5, 0.5, 0.25],
    ds: [1, 8, 4, 2],
    num_gs: [1, 2, 4, 4],
    ss: [8, 1, 2, 2],
    ws: [64, 16, 256, 16],
  };
  const config = anyNetConfig(row51);
  assert.deepEqual(scaledAnyNetConfig(config, 1), config);
  // Stage 4: 16 · 0.25 = 4 wide, bottleneck 1 channel: one group of width 1.
  assert.deepEqual(
    [scaledAnyNetConfig(config, 0.25).ws, scaledAnyNetConfig(config, 0.25).gws],
    [[16, 4, 64, 4], [1, 2, 4, 1]],
  );
  const records = [row51];
  for (const [name, table] of Object.entries(TABLES)) {
    if (!table.present) continue;
    const truth = await loadTruth(name as "resnext-a_in", table.path);
    records.push(...[...truth.extra!.values()].map(anyNetFromJson));
  }
  for (const arch of records) {
    const c = anyNetConfig(arch);
    for (const scale of [0.1, 0.25, 0.5, 0.75]) {
      const s = scaledAnyNetConfig(c, scale);
      assert.deepEqual([s.ds, s.ss, s.block], [c.ds, c.ss, c.block]);
      s.ws.forEach((w, i) => {
        assert.ok(w >= 1 && w <= c.ws[i], `${scale}: ws ${c.ws} → ${s.ws}`);
        const wb = bottleneckWidth(w, s.bms![i]);
        assert.ok(wb >= 1 && wb % s.gws![i] === 0, `${scale}: ${c.ws}/${c.gws} → ${s.ws}/${s.gws}`);
      });
    }
  }
});

Deno.test("gennas score --width-scale builds an AnyNet record narrower, and says so", async () => {
  const space = getSpace("resnext-a_in");
  const arch = space.parse(`${SMALL}#2`);
  const backbone = (widthScale?: number) => {
    const g = new GraphBuilder();
    space.build(g, g.input("x", [2, 3, 32, 32]), arch, { initChannels: 16, widthScale });
    return g.params.reduce((sum, p) => sum + p.size, 0);
  };
  assert.ok(backbone(0.5) < backbone(), `${backbone(0.5)} vs ${backbone()} parameters`);
  const half = await runCli(
    ["score", "--space", "resnext-a_in", "--arch", `${SMALL}#2`, "--width-scale", "0.5", ...TINY],
  );
  assert.equal(half.code, 0, half.stderr);
  assert.match(half.stdout, /width scale\s+0\.5/);
});
