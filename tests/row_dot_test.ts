import assert from "node:assert/strict";
import { rowDot } from "../src/kernels/row_dot.ts";
import { Rng } from "../src/util/rng.ts";
import { randomArray, withBench } from "./support/gpu.ts";

Deno.test("row_dot: per-row dot products vs float64, into a poisoned output at an offset", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("row dot");
    const shapes = [{ rows: 3, length: 1 }, { rows: 70, length: 37 }, { rows: 5, length: 1024 }];
    for (const s of shapes) {
      const a = randomArray(rng, s.rows * s.length);
      const b = randomArray(rng, s.rows * s.length);
      const offset = 64; // floats: an aligned slice past poisoned values, as fisher packs layers
      const out = bench.output(offset + s.rows + 3);
      await bench.run([
        rowDot(s, {
          a: bench.input(a),
          b: bench.input(b),
          out: { buffer: out.buffer, offset: offset * 4, size: s.rows * 4 },
        }),
      ]);
      const got = await bench.read(out);
      for (let r = 0; r < s.rows; r++) {
        let want = 0;
        for (let j = 0; j < s.length; j++) want += a[r * s.length + j] * b[r * s.length + j];
        assert.ok(
          Math.abs(got[offset + r] - want) <= 1e-5 * (1 + Math.abs(want)),
          `${JSON.stringify(s)} row ${r}: ${got[offset + r]} vs ${want}`,
        );
      }
      assert.ok(
        Number.isNaN(got[offset - 1]) && Number.isNaN(got[offset + s.rows]),
        "writes only its rows",
      );
    }
  });
});
