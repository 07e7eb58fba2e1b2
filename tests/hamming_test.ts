import assert from "node:assert/strict";
import { hammingAccumulate, hammingWords } from "../src/kernels/hamming.ts";
import { accumulateHammingKernel } from "../src/proxy/zc_naswot.ts";
import { Rng } from "../src/util/rng.ts";
import { randomArray, withBench } from "./support/gpu.ts";

/** The definition: K[i][l] = Σ_f c_if·c_lf + (1 − c_if)(1 − c_lf), c = [z > 0]. */
function kernelRef(values: Float32Array, n: number): Float64Array {
  const f = values.length / n;
  const k = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let l = 0; l < n; l++) {
      for (let j = 0; j < f; j++) {
        const a = values[i * f + j] > 0 ? 1 : 0;
        const b = values[l * f + j] > 0 ? 1 : 0;
        k[i * n + l] += a * b + (1 - a) * (1 - b);
      }
    }
  }
  return k;
}

Deno.test("hamming kernel: pack + accumulate vs the definition (uses, tails, exact zeros, accumulation)", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("hamming");
    const n = 7;
    // Feature counts below, at and past word boundaries; the second tap counts twice.
    const taps = [{ features: 45, uses: 1 }, { features: 64, uses: 2 }, { features: 5, uses: 1 }];
    const start = Uint32Array.from({ length: n * n }, (_, i) => i * 3);
    const k = bench.alloc.upload(start, "k");
    const words = Math.max(...taps.map((t) => hammingWords(t.features)));
    // Poisoned scratch: every word the pack writes must be written.
    const bits = bench.alloc.upload(new Uint32Array(n * words).fill(0xdeadbeef), "bits");
    const expected = Float64Array.from(start);
    const launches = [];
    for (const t of taps) {
      const x = randomArray(rng, n * t.features);
      for (let i = 0; i < x.length; i += 5) x[i] = 0; // z = 0 is "off", as [z > 0]
      const ref = kernelRef(x, n);
      for (let i = 0; i < n * n; i++) expected[i] += t.uses * ref[i];
      launches.push(...hammingAccumulate({ samples: n, ...t }, { x: bench.input(x), bits, k }));
    }
    await bench.run(launches);
    const read = await bench.read(k);
    const got = new Uint32Array(read.buffer, read.byteOffset, n * n);
    for (let i = 0; i < n; i++) {
      for (let l = 0; l < n; l++) {
        // Only the upper triangle is accumulated; the lower keeps its start value.
        const want = l >= i ? expected[i * n + l] : start[i * n + l];
        assert.equal(got[i * n + l], want, `K[${i}][${l}]`);
      }
    }
  });
});

Deno.test("CPU hamming kernel (inputs, zero tensors) agrees with the definition", () => {
  const rng = new Rng("hamming cpu");
  const n = 5;
  const x = randomArray(rng, n * 37);
  const k = new Float64Array(n * n);
  accumulateHammingKernel(k, x, n);
  assert.deepEqual(Array.from(k), Array.from(kernelRef(x, n)));
  assert(k.every((v, i) => v === k[(i % n) * n + Math.floor(i / n)]), "symmetric");
});
