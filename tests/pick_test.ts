import { pickBackward, pickForward, pickOutputSize, type PickShape } from "../src/kernels/pick.ts";
import { Rng } from "../src/util/rng.ts";
import { checkMapOp, withBench } from "./support/gpu.ts";

/** float64 reference of y = x[:, :, O::S, O::S] (zero past the edge) and its transpose. */
function pickRef(x: ArrayLike<number>, s: PickShape, backward: boolean): Float64Array {
  const { outH, outW } = pickOutputSize(s);
  const planes = s.batch * s.channels;
  const out = new Float64Array(backward ? planes * s.inH * s.inW : planes * outH * outW);
  for (let p = 0; p < planes; p++) {
    for (let i = 0; i < outH; i++) {
      for (let j = 0; j < outW; j++) {
        const [sy, sx] = [s.stride * i + s.offset, s.stride * j + s.offset];
        if (sy >= s.inH || sx >= s.inW) continue;
        const src = (p * s.inH + sy) * s.inW + sx;
        const dst = (p * outH + i) * outW + j;
        if (backward) out[src] = x[dst];
        else out[dst] = x[src];
      }
    }
  }
  return out;
}

const CASES: PickShape[] = [
  { batch: 2, channels: 3, inH: 8, inW: 8, stride: 2, offset: 1 },
  { batch: 2, channels: 3, inH: 7, inW: 5, stride: 2, offset: 1 }, // odd: last row/column zero
  { batch: 1, channels: 4, inH: 9, inW: 9, stride: 3, offset: 2 },
  { batch: 3, channels: 2, inH: 6, inW: 6, stride: 2, offset: 0 },
];

Deno.test("pick forward/backward vs float64 (even, odd, stride 3), accumulate", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("pick");
    for (const s of CASES) {
      const { outH, outW } = pickOutputSize(s);
      const planes = s.batch * s.channels;
      await checkMapOp(bench, rng, {
        what: `${s.inH}×${s.inW} S${s.stride} O${s.offset}`,
        inputs: planes * s.inH * s.inW,
        outputs: planes * outH * outW,
        forward: (io, o) => pickForward(bench.context, s, io, o),
        backward: (io, o) => pickBackward(bench.context, s, io, o),
        forwardRef: (x) => pickRef(x, s, false),
        backwardRef: (dy) => pickRef(dy, s, true),
        tol: {
          y: { atol: 0, rtol: 0 },
          dx: { atol: 0, rtol: 0 },
          accumulated: { atol: 1e-7, rtol: 1e-6 },
        },
      });
    }
  });
});
