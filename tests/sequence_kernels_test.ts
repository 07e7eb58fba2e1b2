/**
 * The sequence kernels (src/kernels/sequence.ts) against float64 references on random inputs,
 * outputs poisoned first: ranged copies (offsets, accumulate) and counter-based dropout, whose mask
 * is recomputed here from the same Philox4x32-10 stream (counter (i mod period, step, 1, 0), key
 * (seed, 0), keep iff (r0 >> 8)/2^24 ≥ p), so every kept and dropped element is checked exactly.
 */
import assert from "node:assert/strict";
import { acquireGpu } from "../src/gpu/device.ts";
import { GraphBuilder } from "../src/graph/builder.ts";
import { compileGraph } from "../src/graph/compile.ts";
import { DropoutOp } from "../src/graph/ops_seq.ts";
import { copyRange, dropout } from "../src/kernels/sequence.ts";
import { Rng } from "../src/util/rng.ts";
import { philox4x32 } from "./ref/linear_loss_optim_ref.ts";
import { assertClose, randomArray, withBench } from "./support/gpu.ts";

Deno.test("copyRange: offsets into and out of larger buffers, overwrite and accumulate", async () => {
  await withBench(async (bench) => {
    const rng = new Rng(1);
    const src = randomArray(rng, 300);
    const base = randomArray(rng, 500);
    const out = bench.output(500);
    await bench.run([copyRange(120, bench.input(src), out, { srcOffset: 37, dstOffset: 200 })]);
    const got = await bench.read(out);
    for (let i = 0; i < 500; i++) {
      if (i >= 200 && i < 320) assert.equal(got[i], src[i - 200 + 37]);
      else assert(Number.isNaN(got[i]), `element ${i} outside the range was written`);
    }
    const acc = bench.input(base);
    await bench.run([copyRange(120, bench.input(src), acc, { dstOffset: 10, accumulate: true })]);
    const summed = await bench.read(acc);
    const expected = Float64Array.from(base, (v, i) => i >= 10 && i < 130 ? v + src[i - 10] : v);
    assertClose(summed, expected, { atol: 1e-6, rtol: 1e-6 }, "copyRange accumulate");
  });
});

function keep(i: number, period: number, step: number, seed: number, p: number): boolean {
  const r = philox4x32([i % period, step, 1, 0], [seed, 0]);
  return ((r[0] >>> 8) / 2 ** 24) >= p;
}

Deno.test("dropout: exact mask, 1/(1−p) scaling, period, fresh per step, accumulate", async () => {
  await withBench(async (bench) => {
    const rng = new Rng(2);
    const n = 4096;
    const period = 512;
    const seed = 0xdeadbeef;
    const p = 0.25;
    const x = randomArray(rng, n);
    const results: Float32Array[] = [];
    for (const step of [0, 7]) {
      const out = bench.output(n);
      const stepBuffer = bench.alloc.upload(Uint32Array.of(step), "step");
      await bench.run([
        dropout(n, { src: bench.input(x), dst: out, step: stepBuffer }, { p, period, seed }),
      ]);
      const got = await bench.read(out);
      const expected = Float64Array.from(
        x,
        (v, i) => keep(i, period, step, seed, p) ? v / (1 - p) : 0,
      );
      assertClose(got, expected, { atol: 1e-6, rtol: 1e-6 }, `dropout step ${step}`);
      const dropped = expected.filter((v) => v === 0).length / n;
      assert(Math.abs(dropped - p) < 0.05, `dropped fraction ${dropped}`);
      for (let i = period; i < n; i++) {
        assert.equal(got[i] === 0, got[i % period] === 0, "the mask repeats every period");
      }
      results.push(got);
    }
    const same = results[0].every((v, i) => (v === 0) === (results[1][i] === 0));
    assert(!same, "another step draws another mask");
    const base = randomArray(rng, n);
    const acc = bench.input(base);
    const step = bench.alloc.upload(Uint32Array.of(0), "step");
    await bench.run([
      dropout(n, { src: bench.input(x), dst: acc, step }, { p, period, seed, accumulate: true }),
    ]);
    const expected = Float64Array.from(
      x,
      (v, i) => base[i] + (keep(i, period, 0, seed, p) ? v / (1 - p) : 0),
    );
    assertClose(await bench.read(acc), expected, { atol: 1e-6, rtol: 1e-6 }, "dropout accumulate");
  });
});

Deno.test("dropout rejects p outside [0, 1) and a period that does not divide n", () => {
  const io = { src: 0, dst: 1, step: 2 };
  assert.throws(() => dropout(8, io, { p: 1, period: 8, seed: 0 }), /p must be in \[0, 1\)/);
  assert.throws(() => dropout(8, io, { p: 0.5, period: 3, seed: 0 }), /period 3 must divide n = 8/);
});

Deno.test("DropoutOp in a graph: one mask in forward and backward, identity in eval", async () => {
  const n = 2048;
  const p = 0.25;
  const g = new GraphBuilder();
  const w = g.param("w", [n], { init: { kind: "uniform", bound: 1 }, decay: false });
  const y = g.activation("y", [n]);
  g.addOp(new DropoutOp("y", w, y, { p, period: n, seed: 5 }), y);
  const target = g.input("target", [n]);
  g.mseLoss([{ output: y, target, trainWeight: 1, evalWeight: 1 }]);
  const graph = await compileGraph(await acquireGpu(), g, {
    optimizer: { kind: "sgd", lr: 1e-9, momentum: 0, weightDecay: 0 },
    seed: 3,
    maxIterations: 1,
  });
  try {
    const values = (await graph.exportParams()).get("w")!;
    graph.write(target, new Float32Array(n));
    graph.train(1);
    const grad = (await graph.exportGradients()).get("w")!;
    // L = mean((w·m/(1−p))²): dL/dw = 2/n · w · m/(1−p)² with the same m both ways.
    let dropped = 0;
    grad.forEach((gv, i) => {
      const kept = keep(i, n, 0, 5, p);
      if (!kept) dropped++;
      const expected = kept ? 2 / n * values[i] / (1 - p) ** 2 : 0;
      assert(Math.abs(gv - expected) < 1e-7 + 1e-5 * Math.abs(expected), `element ${i}`);
    });
    assert(Math.abs(dropped / n - p) < 0.05);
    const { loss } = await graph.evaluate();
    const after = (await graph.exportParams()).get("w")!;
    const meanSquare = after.reduce((s, v) => s + v * v, 0) / n;
    assert(Math.abs(loss - meanSquare) < 1e-5 * meanSquare, "eval mode drops nothing");
  } finally {
    graph.destroy();
  }
});
