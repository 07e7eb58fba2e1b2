/**
 * Sums of linear products in one launch (the recurrent cells' linear nodes, src/graph/ops_cell.ts):
 * y = Σ_t x_t·w_tᵀ + bias and dx = Σ_t dy_t·w_t against float64, under both tilings, for sums the
 * blocked kernel takes whole, sums past its term limit (split), and sums with a term it cannot
 * take (one launch per product); and the bias gradient alone.
 */
import assert from "node:assert/strict";
import type { DeviceClass } from "../src/gpu/kernel.ts";
import {
  linearBackwardBias,
  linearBackwardDataSum,
  linearForwardSum,
} from "../src/kernels/linear.ts";
import { MAX_TERMS } from "../src/kernels/linear_blocked.ts";
import { Rng } from "../src/util/rng.ts";
import { assertClose, randomArray, withBench } from "./support/gpu.ts";
import { linearBackwardDataRef, linearForwardRef } from "./ref/linear_loss_optim_ref.ts";

const tolerance = (terms: number) => ({ atol: 2e-6 * Math.max(terms, 8), rtol: 1e-5 });
const sum = (parts: ArrayLike<number>[]) =>
  Array.from(parts[0], (_, i) => parts.reduce((s, p) => s + p[i], 0));

const BATCH = 16;
const OUT = 40;
/** Feature counts of the terms: whole sums, a sum past MAX_TERMS, one with an odd width. */
const SUMS = [[24, 40], [24, 40, 12], [8, 12, 16, 20, 24, 28], [24, 13, 40]];

function names(launches: { kernel: { name: string } }[]): string[] {
  return launches.map((l) => l.kernel.name);
}

for (const deviceClass of ["cpu", "gpu"] as DeviceClass[]) {
  Deno.test(`linear sums (${deviceClass} tilings) match float64: forward, data gradient, bias`, async () => {
    await withBench(async (bench) => {
      const rng = new Rng(`linear sums ${deviceClass}`);
      const ctx = { ...bench.context, deviceClass };
      for (const features of SUMS) {
        const xs = features.map((k) => randomArray(rng, BATCH * k));
        const ws = features.map((k) => randomArray(rng, OUT * k));
        const dys = features.map(() => randomArray(rng, BATCH * OUT));
        const bias = randomArray(rng, OUT);
        const prior = randomArray(rng, BATCH * OUT);
        const y = bench.output(BATCH * OUT);
        const yAcc = bench.input(prior);
        const fwdTerms = features.map((k, t) => ({
          x: bench.input(xs[t]),
          w: bench.input(ws[t]),
          features: k,
        }));
        const fwd = linearForwardSum(ctx, { batch: BATCH, outFeatures: OUT }, fwdTerms, {
          bias: bench.input(bias),
          y,
        });
        const fwdAcc = linearForwardSum(ctx, { batch: BATCH, outFeatures: OUT }, fwdTerms, {
          y: yAcc,
        }, { accumulate: true });
        const label = `${deviceClass} ${JSON.stringify(features)}`;
        const fits = features.every((k) => k % 4 === 0);
        if (deviceClass === "cpu" && fits) {
          assert.equal(fwd.length, Math.ceil(features.length / MAX_TERMS), `${label}: launches`);
          assert(names(fwd).every((n) => /_sum\d_/.test(n)), `${label}: ${names(fwd)}`);
        } else {
          assert.equal(fwd.length, features.length, `${label}: one launch per product`);
        }
        await bench.run([...fwd, ...fwdAcc]);
        const each = features.map((k, t) =>
          linearForwardRef({ batch: BATCH, inFeatures: k, outFeatures: OUT }, xs[t], ws[t])
        );
        const tol = tolerance(features.reduce((a, b) => a + b, 0));
        const expected = sum(each).map((v, i) => v + bias[i % OUT]);
        assertClose(await bench.read(y), expected, tol, `${label} forward`);
        assertClose(await bench.read(yAcc), sum([...each, prior]), tol, `${label} accumulate`);

        // Data gradient of one input of width K read by products of widths `features` (as outs).
        const K = 24;
        const wsData = features.map((n) => randomArray(rng, n * K));
        const dysData = features.map((n) => randomArray(rng, BATCH * n));
        const dx = bench.output(BATCH * K);
        const dataTerms = features.map((n, t) => ({
          x: bench.input(dysData[t]),
          w: bench.input(wsData[t]),
          features: n,
        }));
        const data = linearBackwardDataSum(ctx, { batch: BATCH, inFeatures: K }, dataTerms, { dx });
        if (deviceClass === "cpu" && fits) {
          assert(names(data).every((n) => /_sum\d_/.test(n)), `${label}: ${names(data)}`);
        }
        await bench.run(data);
        const dataRef = features.map((n, t) =>
          linearBackwardDataRef(
            { batch: BATCH, inFeatures: K, outFeatures: n },
            dysData[t],
            wsData[t],
          )
        );
        assertClose(await bench.read(dx), sum(dataRef), tol, `${label} data gradient`);

        const priorB = randomArray(rng, OUT);
        const db = bench.output(OUT);
        const dbAcc = bench.input(priorB);
        const dyBias = bench.input(dys[0]);
        await bench.run([
          linearBackwardBias({ batch: BATCH, outFeatures: OUT }, { dy: dyBias, dbias: db }),
          linearBackwardBias({ batch: BATCH, outFeatures: OUT }, { dy: dyBias, dbias: dbAcc }, {
            accumulate: true,
          }),
        ]);
        const colSum = Array.from({ length: OUT }, (_, n) => {
          let s = 0;
          for (let b = 0; b < BATCH; b++) s += dys[0][b * OUT + n];
          return s;
        });
        assertClose(await bench.read(db), colSum, tolerance(BATCH), `${label} bias`);
        assertClose(
          await bench.read(dbAcc),
          sum([colSum, priorB]),
          tolerance(BATCH),
          `${label} bias +=`,
        );
      }
    });
  });
}
