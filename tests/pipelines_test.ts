/** The pipeline cache's key, declared bindings with empty optional slots, and the preprocessor. */
import assert from "node:assert/strict";
import { declareBindings } from "../src/gpu/bindings.ts";
import type { KernelSpec } from "../src/gpu/kernel.ts";
import { preprocess } from "../src/gpu/wgsl.ts";
import { bindLaunch } from "../src/gpu/recorder.ts";
import { withBench } from "./support/gpu.ts";

const FILL = declareBindings({ dst: "read_write" });

function fillSource(value: string): string {
  return `@group(0) @binding(0) var<storage, read_write> dst: array<f32>;
override N: u32;
@compute @workgroup_size(1)
fn main(@builtin(global_invocation_id) id: vec3u) {
  if (id.x < N) { dst[id.x] = ${value}; }
}`;
}

Deno.test("pipeline cache: the source is part of the key", async () => {
  await withBench(async (bench) => {
    const spec = (source: string): KernelSpec => ({
      name: "fill_test",
      source,
      constants: { N: 4 },
      layout: FILL,
    });
    const cache = bench.gpu.pipelines;
    const one = cache.get(spec(fillSource("1.0")));
    const two = cache.get(spec(fillSource("2.0")));
    assert.ok(one.pipeline !== two.pipeline, "different sources share a pipeline");
    assert.ok(cache.get(spec(fillSource("1.0"))) === one, "the same spec made a second pipeline");
    const a = bench.output(4);
    const b = bench.output(4);
    const launch = (source: string, dst: typeof a) => ({
      kernel: spec(source),
      bindings: FILL.bind({ dst }),
      workgroups: [4, 1, 1] as const,
    });
    await bench.run([launch(fillSource("1.0"), a), launch(fillSource("2.0"), b)]);
    assert.deepEqual(Array.from(await bench.read(a)), [1, 1, 1, 1]);
    assert.deepEqual(Array.from(await bench.read(b)), [2, 2, 2, 2]);
  });
});

Deno.test("declared bindings: empty optional slots bind the placeholders", async () => {
  const layout = declareBindings({
    src: "read",
    bias: "read?",
    dst: "read_write",
    extra: "read_write?",
    other: "read_write?",
  });
  const source = `
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> bias: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read_write> extra: array<f32>;
@group(0) @binding(4) var<storage, read_write> other: array<f32>;
override BIAS: bool = false;
override EXTRA: bool = false;
@compute @workgroup_size(4)
fn main(@builtin(local_invocation_index) i: u32) {
  var v = src[i];
  if (BIAS) { v += bias[i]; }
  dst[i] = v;
  if (EXTRA) { extra[i] = v; other[i] = v; }
}`;
  await withBench(async (bench) => {
    const src = bench.input([1, 2, 3, 4]);
    const bias = bench.input([10, 20, 30, 40]);
    const [plain, biased, extra] = [bench.output(4), bench.output(4), bench.output(4)];
    const launch = (bindings: (typeof src | undefined)[], constants: Record<string, number>) => ({
      kernel: { name: "optional_test", source, constants, layout },
      bindings,
      workgroups: [1, 1, 1] as const,
    });
    await bench.run([
      launch(layout.bind({ src, dst: plain }), {}),
      launch(layout.bind({ src, bias, dst: biased, extra, other: extra }), { BIAS: 1, EXTRA: 1 }),
    ]);
    assert.deepEqual(Array.from(await bench.read(plain)), [1, 2, 3, 4]);
    assert.deepEqual(Array.from(await bench.read(biased)), [11, 22, 33, 44]);
    assert.deepEqual(Array.from(await bench.read(extra)), [11, 22, 33, 44]);
  });
  assert.throws(() => layout.bind({ src: 1, bias: 2 } as never), /"dst" is required/);
});

Deno.test("preprocess: #if/#else nest, $NAME substitutes, #include inlines, errors name the line", () => {
  const template = [
    "#if VEC4",
    "a $T",
    "#if !AFFINE",
    "b",
    "#else",
    "c",
    "#endif",
    "#else",
    "d $W",
    "#endif",
    "e",
  ].join("\n");
  const defines = (vec4: boolean, affine: boolean) => ({
    VEC4: vec4,
    AFFINE: affine,
    T: "t",
    W: 1,
  });
  assert.equal(preprocess(template, defines(true, false)), "a t\nb\ne");
  assert.equal(preprocess(template, defines(true, true)), "a t\nc\ne");
  assert.equal(preprocess(template, defines(false, true)), "d 1\ne");
  assert.ok(
    preprocess(template, defines(true, false)) === preprocess(template, defines(true, false)),
  );
  const included = preprocess('override WG: u32 = 8u;\n#include "index"');
  assert.match(included, /fn thread_index\(wid: vec3u, lid: u32, nwg: vec3u\) -> u32/);
  assert.throws(() => preprocess("#if X\n#endif"), /line 1: #if X is not defined/);
  assert.throws(() => preprocess("a\n$X"), /line 2: \$X is not defined/);
  assert.throws(() => preprocess('#include "nope"'), /unknown include/);
  assert.throws(() => preprocess("#if A\n", { A: true }), /without #endif/);
  assert.throws(() => preprocess("#endif"), /#endif without #if/);
});

Deno.test("uniform bindings of different least sizes are different layouts", () => {
  const at = (bytes: number) =>
    declareBindings({ src: "read", w: "uniform", dst: "read_write" }, { minBytes: { w: bytes } });
  assert.notEqual(at(512).key, at(9216).key);
  assert.equal(at(512).key, at(512).key);
  assert.equal(at(512).entries[1].minBytes, 512);
  assert.equal(declareBindings({ w: "uniform" }).entries[0].minBytes, 0);
});

Deno.test("launch uniforms: one pipeline, one buffer per distinct list, values reach the kernel", async () => {
  await withBench(async (bench) => {
    const source = `@group(0) @binding(0) var<storage, read_write> dst: array<f32>;
struct Sizes { n: u32, scale: u32 }
@group(0) @binding(1) var<uniform> sizes: Sizes;
@compute @workgroup_size(1)
fn main(@builtin(global_invocation_id) id: vec3u) {
  if (id.x < sizes.n) { dst[id.x] = f32(sizes.scale * (id.x + 1u)); }
}`;
    const kernel: KernelSpec = { name: "uniform_sizes_test", source };
    const cache = bench.gpu.pipelines;
    assert.equal(cache.uniformValues([3, 2]), cache.uniformValues([3, 2]));
    assert.notEqual(cache.uniformValues([3, 2]), cache.uniformValues([2, 3]));
    assert.throws(() => cache.uniformValues([1.5]), /u32/);
    assert.throws(() => cache.uniformValues([-1]), /u32/);
    const [a, b] = [bench.output(4), bench.output(4)];
    const launch = (dst: typeof a, values: number[]) => ({
      kernel,
      bindings: [dst],
      workgroups: [4, 1, 1] as const,
      uniforms: { binding: 1, values },
    });
    await bench.run([launch(a, [3, 2]), launch(b, [4, 10])]);
    assert.deepEqual(Array.from(await bench.read(a)).slice(0, 3), [2, 4, 6]);
    assert.deepEqual(Array.from(await bench.read(b)), [10, 20, 30, 40]);
    assert.equal(cache.get(kernel), cache.get(kernel));
    // Declared bindings would need the uniform listed too: refused, naming the kernel.
    const declared = { ...kernel, name: "uniform_declared_test", layout: FILL };
    assert.throws(
      () => bindLaunch(bench.gpu, { ...launch(a, [1, 1]), kernel: declared, bindings: [a] }),
      /uniform_declared_test: uniforms need an auto layout/,
    );
  });
});
