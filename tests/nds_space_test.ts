/**
 * NDS cell spaces: the input forms, validation messages naming cell and node, the canonical
 * key, sampling from each definition and 10,000 mutations per space that stay valid and change
 * exactly one entry of one cell.
 */
import assert from "node:assert/strict";
import { getSpace } from "../src/spaces/index.ts";
import { NDS_DEFS, NDS_SPACE_NAMES, ndsSpace } from "../src/spaces/nds.ts";
import { type NdsArch, ndsKey, ndsToNet, validateNds } from "../src/spaces/nds_cell.ts";
import { InputError } from "../src/util/errors.ts";
import { Rng } from "../src/util/rng.ts";
import { sharedFile } from "./support/data.ts";

const DARTS_V2 =
  "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), " +
  "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), " +
  "('dil_conv_3x3', 2)], normal_concat=range(2, 6), reduce=[('max_pool_3x3', 0), " +
  "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), " +
  "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])";

Deno.test("DARTS text form: range() concat, width/depth from flags, comment or defaults", () => {
  const darts = ndsSpace("darts", { width: 24, depth: 12 });
  const a = darts.parse(DARTS_V2);
  assert.deepEqual(a.normal[7], ["dil_conv_3x3", 2]);
  assert.deepEqual(a.normalConcat, [2, 3, 4, 5]);
  assert.deepEqual([a.width, a.depth], [24, 12]);
  const text = darts.format(a);
  assert(text.startsWith("Genotype(normal=[('sep_conv_3x3', 0), "), text);
  assert(text.endsWith("reduce_concat=[2, 3, 4, 5]) # width=24 depth=12"), text);
  assert.deepEqual(ndsSpace("darts").parse(text), a, "the comment wins over defaults");
  const plain = ndsSpace("darts").parse(DARTS_V2);
  assert.deepEqual([plain.width, plain.depth], [16, 8], "CIFAR defaults");
  assert.deepEqual(getSpace("darts@w32d20").parse(DARTS_V2), { ...a, width: 32, depth: 20 });
});

Deno.test("NDS net JSON, a whole record and a bare genotype parse to the same arch", () => {
  const space = ndsSpace("darts_in");
  const a = space.parse(DARTS_V2 + " # width=48 depth=14");
  const net = ndsToNet(a);
  assert.deepEqual(space.parse(JSON.stringify(net)), a);
  assert.deepEqual(space.parse(JSON.stringify({ idx: 3, net, test_acc: 70 })), a);
  const bare = ndsSpace("darts_in", { width: 48, depth: 14 }).parse(JSON.stringify(net.genotype));
  assert.deepEqual(bare, a);
});

Deno.test("NDS TABLE.jsonl#N and .json files parse like the inline record", async () => {
  const space = ndsSpace("darts_in");
  const a = space.parse(DARTS_V2 + " # width=48 depth=14");
  const net = ndsToNet(a);
  const dir = await Deno.makeTempDir();
  try {
    const other = { ...net, width: 32 };
    await Deno.writeTextFile(
      `${dir}/t.jsonl`,
      [{ idx: 7, net: other }, { idx: 3, net }].map((r) => JSON.stringify(r)).join("\n") + "\n",
    );
    await Deno.writeTextFile(`${dir}/net.json`, JSON.stringify(net, null, 2));
    assert.deepEqual(space.parse(`${dir}/t.jsonl#3`), a, "the row with idx 3, not line 3");
    assert.deepEqual(space.parse(`${dir}/t.jsonl#7`).width, 32);
    assert.deepEqual(space.parse(`${dir}/net.json`), a);
    assert.throws(() => space.parse(`${dir}/t.jsonl#0`), /darts_in arch: .* has no row with idx 0/);
    assert.throws(() => space.parse(`${dir}/missing.json`), /darts_in arch: cannot read/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const darts = sharedFile("nds_DARTS_in.jsonl");
Deno.test(`a table row index parses to that record's arch${darts.note}`, {
  ignore: !darts.present,
}, () => {
  const line = Deno.readTextFileSync(darts.path).split("\n")[5];
  const record = JSON.parse(line);
  const space = getSpace("darts_in");
  assert.deepEqual(space.parse("5"), space.parse(JSON.stringify(record.net)));
  assert.throws(() => space.parse("100000"), /row 100000 is out of range/);
});

const BAD: [string, string, string, RegExp][] = [
  [
    "op not in the set",
    "darts",
    DARTS_V2.replace("('dil_conv_3x3', 2)", "('conv_3x3', 2)"),
    /cell "normal" node 3 \(state 5\), entry 7: op "conv_3x3" is not in the DARTS op set; allowed: "none", "max_pool_3x3"/,
  ],
  [
    "input out of range",
    "darts",
    DARTS_V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 5)"),
    /cell "normal" node 3 \(state 5\), entry 7: input 5 is out of range; node 3 reads states 0–4/,
  ],
  [
    "wrong node count",
    "darts",
    DARTS_V2.replace("normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ", "normal=["),
    /cell "normal" has 6 entries; the DARTS space has 4 nodes of 2 entries each \(8\)/,
  ],
  [
    "bad concat",
    "darts",
    DARTS_V2.replace("reduce_concat=[2, 3, 4, 5]", "reduce_concat=[2, 3, 5]"),
    /cell "reduce": reduce_concat \[2,3,5\] is invalid; .*concatenates every node: \[2, 3, 4, 5\]/,
  ],
  [
    "fixed width",
    "darts-fix-w-d_in",
    DARTS_V2 + " # width=48 depth=22",
    /width 48, depth 22: this space fixes width 32 and depth 22/,
  ],
  ["odd width", "darts", DARTS_V2 + " # width=15", /width must be an even integer/],
  ["not a genotype", "darts", "[1, 2]", /is not a DARTS Genotype/],
];
for (const [what, name, text, message] of BAD) {
  Deno.test(`NDS validation: ${what}`, () => {
    assert.throws(() => getSpace(name).parse(text), (e: Error) => {
      assert(e instanceof InputError, `${e}`);
      assert(message.test(e.message), `${e.message} does not match ${message}`);
      return true;
    });
  });
}

Deno.test("loose-end spaces require the loose-end concat", () => {
  const enas = ndsSpace("enas");
  const a = enas.parse(enas.example);
  assert.deepEqual(a.normalConcat, [6]);
  const bad = JSON.stringify({ ...ndsToNet(a).genotype as object, normal_concat: [2, 3, 4, 5, 6] });
  assert.throws(() => enas.parse(bad), /loose ends \(nodes no node reads\): \[6\]/);
});

Deno.test("canonical key: the two entries of a node commute, concat order does not matter", () => {
  const space = ndsSpace("darts");
  const a = space.parse(DARTS_V2);
  const swapped: NdsArch = {
    ...a,
    normal: a.normal.map((_, j) => a.normal[j % 2 === 0 ? j + 1 : j - 1]),
    normalConcat: [5, 4, 3, 2],
  };
  assert.deepEqual(ndsKey(swapped), ndsKey(a));
  assert.notDeepEqual(space.format(swapped), space.format(a));
  const other = { ...a, normal: a.normal.map((e, j) => j === 0 ? ["skip_connect", 0] : e) };
  assert.notDeepEqual(ndsKey(other as NdsArch), ndsKey(a));
});

function differences(a: NdsArch, b: NdsArch): number {
  let n = 0;
  for (const cell of ["normal", "reduce"] as const) {
    a[cell].forEach((e, j) => {
      if (e[0] !== b[cell][j][0]) n++;
      if (e[1] !== b[cell][j][1]) n++;
    });
  }
  return n;
}

for (const name of NDS_SPACE_NAMES) {
  Deno.test(`${name}: samples follow the definition; 10,000 mutations stay valid`, () => {
    const def = NDS_DEFS.find((d) => d.name === name)!;
    const space = getSpace(name);
    const rng = new Rng(`nds ${name}`);
    const ops = new Set<string>();
    let a = space.sample(rng) as NdsArch;
    for (let i = 0; i < 200; i++) {
      const s = space.sample(rng) as NdsArch;
      assert(def.widths.includes(s.width) && def.depths.includes(s.depth));
      for (const [op] of [...s.normal, ...s.reduce]) ops.add(op);
      assert.deepEqual(space.parse(space.format(s)), s);
    }
    assert.deepEqual([...ops].sort(), [...def.ops].sort(), "every op of the set is sampled");
    for (let i = 0; i < 10_000; i++) {
      const b = space.mutate(a, rng) as NdsArch;
      validateNds(def, b);
      assert.equal(differences(a, b), 1, "one op or one input of one entry changes");
      assert.deepEqual([b.width, b.depth], [a.width, a.depth]);
      a = b;
    }
  });
}

Deno.test("--width/--depth fix the sampled width and depth", () => {
  const rng = new Rng(3);
  for (let i = 0; i < 20; i++) {
    const a = getSpace("darts@w16d8").sample(rng) as NdsArch;
    assert.deepEqual([a.width, a.depth], [16, 8]);
  }
});
