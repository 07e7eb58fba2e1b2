import { addNoise, type NoiseOptions } from "../src/kernels/noise.ts";
import type { BufferSlice } from "../src/gpu/kernel.ts";
import { Rng } from "../src/util/rng.ts";
import { assertClose, KernelBench, randomArray, withBench } from "./support/gpu.ts";
import { noiseRef, philox4x32 } from "./ref/linear_loss_optim_ref.ts";

const N = 100_000;
/** Five standard errors: a correct generator fails a given check about once in 1.7 million runs. */
const Z = 5;

function counter(bench: KernelBench, value: number): BufferSlice {
  return bench.alloc.upload(Uint32Array.of(value), "step");
}

/** Runs addNoise on `clean` at `step` and returns dst − clean (in float64). */
async function drawNoise(
  bench: KernelBench,
  clean: Float32Array,
  step: number,
  o: NoiseOptions,
): Promise<Float64Array> {
  const dst = bench.output(clean.length);
  const io = { clean: bench.input(clean), dst, step: counter(bench, step) };
  await bench.run(addNoise(bench.context, clean.length, io, o));
  const out = await bench.read(dst);
  return Float64Array.from(out, (v, i) => v - clean[i]);
}

function mean(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s / x.length;
}

function moment(x: ArrayLike<number>, power: number): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] ** power;
  return s / x.length;
}

function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const [ma, mb] = [mean(a), mean(b)];
  let [sab, saa, sbb] = [0, 0, 0];
  for (let i = 0; i < a.length; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

function expectWithin(what: string, value: number, target: number, tolerance: number): void {
  if (!(Math.abs(value - target) <= tolerance)) {
    throw new Error(`${what}: ${value}, expected ${target} ± ${tolerance}`);
  }
}

Deno.test("philox4x32-10 reference reproduces the Random123 known-answer vectors", () => {
  const hex = (words: number[]) => words.map((w) => w.toString(16).padStart(8, "0")).join(" ");
  const cases: [[number, number, number, number], [number, number], string][] = [
    [[0, 0, 0, 0], [0, 0], "6627e8d5 e169c58d bc57ac4c 9b00dbd8"],
    [[~0, ~0, ~0, ~0], [~0, ~0], "408f276d 41c83b0e a20bc7c6 6d5451fd"],
    [
      [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
      [0xa4093822, 0x299f31d0],
      "d16cfe09 94fdcceb 5001e420 24126ea1",
    ],
  ];
  for (const [ctr, key, expected] of cases) {
    const got = hex(philox4x32(ctr, key));
    if (got !== expected) throw new Error(`philox(${hex(ctr)}; ${hex(key)}) = ${got}`);
  }
});

Deno.test("noise equals the Philox reference stream, for seeds above 2^31 and 2^32 too", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("noise reference");
    const n = 4099;
    const clean = randomArray(rng, n);
    for (const kind of ["uniform", "gaussian"] as const) {
      for (const [seed, step] of [[7, 0], [2 ** 31 + 5, 3], [2 ** 40 + 12345, 99]]) {
        const o = { kind, level: 0.3, seed };
        const got = await drawNoise(bench, clean, step, o);
        const want = Array.from(clean, (_, i) => noiseRef(kind, o.level, seed, step, i));
        // uniform is exact up to the final f32 add (ulp of |clean| ≤ 1); gaussian also carries
        // the f32 log/cos error (WGSL allows 2^-11 absolute for cos).
        const tol = kind === "uniform" ? { atol: 2e-7, rtol: 0 } : { atol: 3e-4, rtol: 1e-5 };
        assertClose(got, want, tol, `${kind} seed ${seed} step ${step}`);
      }
    }
  });
});

Deno.test("noise is deterministic for a seed and changes with step and seed", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("noise determinism");
    const clean = randomArray(rng, N);
    for (const kind of ["uniform", "gaussian"] as const) {
      const o = { kind, level: 0.5, seed: 1234 };
      const first = await drawNoise(bench, clean, 7, o);
      const again = await drawNoise(bench, clean, 7, o);
      if (first.some((v, i) => v !== again[i])) throw new Error(`${kind}: same seed/step differ`);
      const nextStep = await drawNoise(bench, clean, 8, o);
      const otherSeed = await drawNoise(bench, clean, 7, { ...o, seed: 1235 });
      // Independent draws: correlation ~ N(0, 1/√N).
      const bound = Z / Math.sqrt(N);
      expectWithin(`${kind} corr(step 7, step 8)`, correlation(first, nextStep), 0, bound);
      expectWithin(`${kind} corr(seed 1234, 1235)`, correlation(first, otherSeed), 0, bound);
      const neighbours = correlation(first.subarray(0, N - 1), first.subarray(1));
      expectWithin(`${kind} corr(ε[i], ε[i+1])`, neighbours, 0, bound);
    }
  });
});

Deno.test("uniform noise: mean, variance, bounds and histogram on 1e5 samples", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("noise uniform");
    const level = 0.7;
    const e = await drawNoise(bench, randomArray(rng, N), 3, { kind: "uniform", level, seed: 99 });
    // ε = L·u, u ~ U(−1, 1): E u = 0, E u² = 1/3, Var(u²) = 1/5 − 1/9 = 4/45.
    const u = e.map((v) => v / level);
    expectWithin("mean", mean(u), 0, Z * Math.sqrt(1 / 3 / N));
    expectWithin("variance", moment(u, 2), 1 / 3, Z * Math.sqrt(4 / 45 / N));
    const [lo, hi] = [u.reduce((a, v) => Math.min(a, v)), u.reduce((a, v) => Math.max(a, v))];
    // Bounds hold up to the f32 rounding of clean + ε (ulp of |clean| ≤ 1 is 6e-8).
    if (lo < -1 - 1e-6 || hi > 1 + 1e-6) throw new Error(`range [${lo}, ${hi}] exceeds ±level`);
    if (lo > -0.999 || hi < 0.999) throw new Error(`range [${lo}, ${hi}] does not fill ±level`);
    // χ² over 100 equal bins: 99 degrees of freedom, mean 99, sd √198 ≈ 14.
    const bins = new Array(100).fill(0);
    for (const v of u) bins[Math.min(99, Math.max(0, Math.floor((v + 1) * 50)))]++;
    const chi2 = bins.reduce((s, c) => s + (c - N / 100) ** 2 / (N / 100), 0);
    if (chi2 > 99 + Z * Math.sqrt(198)) throw new Error(`χ² ${chi2.toFixed(1)} over 100 bins`);
  });
});

Deno.test("gaussian noise: mean, variance, kurtosis, 1σ mass and tails on 1e5 samples", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("noise gaussian");
    const level = 0.9;
    const e = await drawNoise(bench, randomArray(rng, N), 11, { kind: "gaussian", level, seed: 5 });
    const z = e.map((v) => v / level);
    expectWithin("mean", mean(z), 0, Z / Math.sqrt(N));
    expectWithin("variance", moment(z, 2), 1, Z * Math.sqrt(2 / N));
    expectWithin("kurtosis", moment(z, 4), 3, Z * Math.sqrt(96 / N));
    const p1 = z.filter((v) => Math.abs(v) < 1).length / N;
    expectWithin("P(|z| < 1)", p1, 0.682689, Z * Math.sqrt(0.682689 * 0.317311 / N));
    const maxAbs = z.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    // Box–Muller on 24-bit u1 caps |z| at √(2·24·ln 2) ≈ 5.77; 1e5 normals reach ~4.
    if (maxAbs > 5.8 || maxAbs < 3.5) throw new Error(`max |z| ${maxAbs}`);
  });
});

Deno.test("noise level 0 is an exact copy", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("noise level 0");
    const clean = randomArray(rng, 1001, 5);
    for (const kind of ["uniform", "gaussian"] as const) {
      const dst = bench.output(clean.length);
      const io = { clean: bench.input(clean), dst, step: counter(bench, 4) };
      await bench.run(addNoise(bench.context, clean.length, io, { kind, level: 0, seed: 3 }));
      const out = await bench.read(dst);
      if (out.some((v, i) => !Object.is(v, clean[i]))) throw new Error(`${kind}: not a copy`);
    }
  });
});

Deno.test("addNoise rejects a bad kind, level or seed", () => {
  const b = {} as BufferSlice;
  const ctx = { scratch: () => b, deviceClass: "cpu" as const };
  const io = { clean: b, dst: b, step: b };
  const ok: NoiseOptions = { kind: "uniform", level: 0.1, seed: 1 };
  const cases: [NoiseOptions, string][] = [
    [{ ...ok, kind: "laplace" as NoiseOptions["kind"] }, `"uniform" or "gaussian"`],
    [{ ...ok, level: -0.1 }, "level"],
    [{ ...ok, level: Number.NaN }, "level"],
    [{ ...ok, seed: 1.5 }, "seed"],
    [{ ...ok, seed: -1 }, "seed"],
  ];
  for (const [o, field] of cases) {
    let message = "";
    try {
      addNoise(ctx, 10, io, o);
    } catch (e) {
      message = (e as Error).message;
    }
    if (!message.includes(field)) throw new Error(`${JSON.stringify(o)}: got "${message}"`);
  }
});
