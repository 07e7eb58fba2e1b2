/**
 * Batch norm with a fused residual (a skip connection summed in by the same launch): the plain
 * train forward y (= or +=) act(x̂) + residual and its backward, which writes dx as without one
 * and d(residual) (= or +=) dy, against the float64 reference, under both device-class
 * geometries, at scalar and vec4 widths; unsupported combinations are refused.
 */
import {
  batchNormBackward,
  batchNormForward,
  type BatchNormShape,
} from "../src/kernels/batchnorm.ts";
import type { BufferSlice, LaunchContext } from "../src/gpu/kernel.ts";
import { Rng } from "../src/util/rng.ts";
import { assertClose, type KernelBench, randomArray, withBench } from "./support/gpu.ts";
import { batchNormBackwardRef, batchNormForwardRef } from "./ref/norm_pool_ref.ts";

const TOL = { atol: 2e-5, rtol: 1e-4 };
const SHAPES: BatchNormShape[] = [
  { batch: 3, channels: 5, spatial: 7 * 9 },
  { batch: 3, channels: 5, spatial: 4 * 7 },
  { batch: 1, channels: 2, spatial: 5 },
];

function contexts(bench: KernelBench): LaunchContext<BufferSlice>[] {
  const other = bench.context.deviceClass === "cpu" ? "gpu" : "cpu";
  return [bench.context, { ...bench.context, deviceClass: other }];
}

function activations(rng: Rng, s: BatchNormShape): Float32Array {
  const x = randomArray(rng, s.batch * s.channels * s.spatial);
  return x.map((v, i) => v * (0.5 + (Math.floor(i / s.spatial) % s.channels) * 0.4) + 0.3);
}

Deno.test("batch norm forward with a residual: y (= or +=) act(x̂) + residual", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("bn residual forward");
    for (const ctx of contexts(bench)) {
      for (const s of SHAPES) {
        for (const [relu, accumulate] of [[false, false], [true, true], [false, true]]) {
          const what = `${ctx.deviceClass} ${JSON.stringify(s)} relu=${relu} acc=${accumulate}`;
          const n = s.batch * s.channels * s.spatial;
          const x = activations(rng, s);
          const residual = randomArray(rng, n);
          const prior = randomArray(rng, n);
          const y = accumulate ? bench.input(prior) : bench.output(n);
          const mean = bench.output(s.channels);
          const invstd = bench.output(s.channels);
          const launches = batchNormForward(ctx, s, {
            x: bench.input(x),
            y,
            mean,
            invstd,
            residual: bench.input(residual),
          }, { mode: "train", affine: false, relu, accumulate });
          if (launches.length !== 1) throw new Error(`${what}: ${launches.length} launches`);
          await bench.run(launches);
          const ref = batchNormForwardRef(x, s, { mode: "train", relu });
          const expected = ref.y.map((v, i) => v + residual[i] + (accumulate ? prior[i] : 0));
          const [yOut, meanOut] = await bench.recorder.readback([y, mean]);
          assertClose(yOut, expected, TOL, `y ${what}`);
          assertClose(meanOut, ref.mean, TOL, `mean ${what}`);
        }
      }
    }
  });
});

Deno.test("batch norm backward with a residual: dx as without, d(residual) = or += dy", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("bn residual backward");
    for (const ctx of contexts(bench)) {
      for (const s of SHAPES) {
        for (
          const [relu, accumulate, accumulateResidual] of [[false, false, true], [
            true,
            true,
            false,
          ]]
        ) {
          const what = `${ctx.deviceClass} ${JSON.stringify(s)} relu=${relu} ` +
            `acc=${accumulate} accResidual=${accumulateResidual}`;
          const n = s.batch * s.channels * s.spatial;
          const x = activations(rng, s);
          const dy = randomArray(rng, n);
          const fwd = batchNormForwardRef(x, s, { mode: "train", relu: false });
          const saved = {
            mean: Float32Array.from(fwd.mean),
            invstd: Float32Array.from(fwd.invstd),
          };
          const priorDx = randomArray(rng, n);
          const priorDr = randomArray(rng, n);
          const dx = accumulate ? bench.input(priorDx) : bench.output(n);
          const dresidual = accumulateResidual ? bench.input(priorDr) : bench.output(n);
          const launches = batchNormBackward(ctx, s, {
            x: bench.input(x),
            dy: bench.input(dy),
            dx,
            mean: bench.input(saved.mean),
            invstd: bench.input(saved.invstd),
            dresidual,
          }, { affine: false, relu, accumulate, accumulateResidual });
          if (launches.length !== 1) throw new Error(`${what}: ${launches.length} launches`);
          await bench.run(launches);
          const ref = batchNormBackwardRef(x, dy, s, saved, { relu });
          const [dxOut, drOut] = await bench.recorder.readback([dx, dresidual]);
          assertClose(
            dxOut,
            ref.dx.map((v, i) => v + (accumulate ? priorDx[i] : 0)),
            TOL,
            `dx ${what}`,
          );
          assertClose(
            drOut,
            Array.from(dy, (v, i) => v + (accumulateResidual ? priorDr[i] : 0)),
            TOL,
            `dresidual ${what}`,
          );
        }
      }
    }
  });
});

Deno.test("batch norm refuses a residual where it is not fused (affine, tracked, eval)", () => {
  const ctx = { scratch: () => "scratch", deviceClass: "cpu" as const };
  const s = { batch: 1, channels: 2, spatial: 4 };
  const io = { x: "x", y: "y", mean: "m", invstd: "i", residual: "r" };
  const refused = (f: () => unknown, what: string) => {
    try {
      f();
    } catch (e) {
      if (e instanceof TypeError && /residual/.test(e.message)) return;
      throw e;
    }
    throw new Error(`${what}: accepted`);
  };
  refused(
    () =>
      batchNormForward(ctx, s, { ...io, gamma: "g", beta: "b" }, {
        mode: "train",
        affine: true,
        relu: false,
      }),
    "affine",
  );
  refused(
    () =>
      batchNormForward(ctx, s, { ...io, runningMean: "rm", runningVar: "rv" }, {
        mode: "train",
        affine: false,
        relu: false,
      }),
    "tracked",
  );
  refused(
    () => batchNormForward(ctx, s, io, { mode: "eval", affine: false, relu: false }),
    "eval",
  );
  refused(
    () =>
      batchNormBackward(ctx, s, {
        x: "x",
        dy: "dy",
        dx: "dx",
        mean: "m",
        invstd: "i",
        gamma: "g",
        beta: "b",
        dgamma: "dg",
        dbeta: "db",
        dresidual: "dr",
      }, { affine: true, relu: false }),
    "affine backward",
  );
});
