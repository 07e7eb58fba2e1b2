import { mseLoss, type MseStage } from "../src/kernels/loss.ts";
import type { BufferSlice } from "../src/gpu/kernel.ts";
import { Rng } from "../src/util/rng.ts";
import { assertClose, KernelBench, randomArray, withBench } from "./support/gpu.ts";
import { mseRef } from "./ref/linear_loss_optim_ref.ts";
import golden from "../fixtures/golden/linear_loss_optim.json" with { type: "json" };

// The loss is a sum of squares reduced pairwise in f32: relative error ~ log2(n)·ulp (≤ 1.2e-7
// seen on 3×65536 elements), so 1e-5 relative leaves a wide margin. Gradients are two f32
// roundings from the exact value (≤ 1.6e-7 relative seen).
const LOSS_TOL = { atol: 0, rtol: 1e-5 };
const GRAD_TOL = { atol: 1e-12, rtol: 1e-6 };

interface StageData {
  n: number;
  weight: number;
  out: Float32Array;
  target: Float32Array;
}

function randomStages(rng: Rng, sizes: number[], weights: number[]): StageData[] {
  return sizes.map((n, s) => ({
    n,
    weight: weights[s],
    out: randomArray(rng, n, 2),
    target: randomArray(rng, n),
  }));
}

interface Uploaded {
  stages: MseStage<BufferSlice>[];
  /** Random contents of each grad buffer before the run, to prove skipped stages leave it. */
  gradPriors: Float32Array[];
}

function upload(bench: KernelBench, rng: Rng, data: StageData[], withGrad = true): Uploaded {
  const gradPriors = data.map((d) => randomArray(rng, d.n));
  const stages = data.map((d, s) => ({
    n: d.n,
    weight: d.weight,
    out: bench.input(d.out),
    target: bench.input(d.target),
    ...(withGrad ? { grad: d.weight === 0 ? bench.input(gradPriors[s]) : bench.output(d.n) } : {}),
  }));
  return { stages, gradPriors };
}

function counter(bench: KernelBench, value: number): BufferSlice {
  return bench.alloc.upload(Uint32Array.of(value), "counter");
}

async function checkGrads(
  bench: KernelBench,
  up: Uploaded,
  data: StageData[],
  label: string,
): Promise<void> {
  const expected = mseRef(data);
  for (let s = 0; s < data.length; s++) {
    const got = await bench.read(up.stages[s].grad!);
    const want = expected.grads[s] ?? up.gradPriors[s];
    assertClose(
      got,
      want,
      data[s].weight === 0 ? { atol: 0, rtol: 0 } : GRAD_TOL,
      `${label} [${s}]`,
    );
  }
}

Deno.test("mse loss and grads match float64 reference for 1–3 stages, weights incl. 0", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("mse stages");
    const cases: [number[], number[]][] = [
      [[1000], [1]],
      [[4097, 333], [0.5, 1.25]],
      [[16 * 16 * 64, 1001, 7], [0.25, 0.5, 1]], // a CNN stage: B·C·8·8
      [[515, 2000, 64], [0, 0.5, 1]],
      [[300, 20], [0.75, 0]],
    ];
    for (const [sizes, weights] of cases) {
      const label = `sizes ${sizes} weights ${weights}`;
      const data = randomStages(rng, sizes, weights);
      const up = upload(bench, rng, data);
      const loss = bench.output(1);
      await bench.run(mseLoss(bench.context, up.stages, { loss }));
      assertClose(await bench.read(loss), [mseRef(data).loss], LOSS_TOL, `${label} loss`);
      await checkGrads(bench, up, data, `${label} grad`);
    }
  });
});

Deno.test("mse loss without grads, and all-zero weights give loss 0", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("mse no grad");
    const data = randomStages(rng, [777, 5000], [1, 0.5]);
    const loss = bench.output(1);
    await bench.run(mseLoss(bench.context, upload(bench, rng, data, false).stages, { loss }));
    assertClose(await bench.read(loss), [mseRef(data).loss], LOSS_TOL, "loss without grads");

    const zero = randomStages(rng, [100], [0]);
    const zeroLoss = bench.output(1);
    await bench.run(mseLoss(bench.context, upload(bench, rng, zero).stages, { loss: zeroLoss }));
    assertClose(await bench.read(zeroLoss), [0], { atol: 0, rtol: 0 }, "all weights 0");
  });
});

Deno.test("mse loss lands in slot index[0] of a history buffer; other slots untouched", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("mse index");
    const data = randomStages(rng, [2048, 130], [1, 0.5]);
    const up = upload(bench, rng, data);
    const prior = randomArray(rng, 10);
    const history = bench.input(prior);
    const pastEnd = bench.input(prior);
    await bench.run([
      ...mseLoss(bench.context, up.stages, { loss: history, index: counter(bench, 5) }),
      ...mseLoss(bench.context, up.stages, { loss: pastEnd, index: counter(bench, 10) }),
    ]);
    const expected = Array.from(prior);
    expected[5] = mseRef(data).loss;
    assertClose(await bench.read(history), expected, LOSS_TOL, "history slot 5");
    assertClose(await bench.read(pastEnd), prior, { atol: 0, rtol: 0 }, "slot past the end");
    await checkGrads(bench, up, data, "indexed grad");
  });
});

Deno.test("mse loss is bit-for-bit reproducible", async () => {
  await withBench(async (bench) => {
    const rng = new Rng("mse determinism");
    const data = randomStages(rng, [65536, 4096], [0.5, 1]);
    const up = upload(bench, rng, data);
    const losses = [bench.output(1), bench.output(1)];
    await bench.run(losses.flatMap((loss) => mseLoss(bench.context, up.stages, { loss })));
    const [a, b] = [await bench.read(losses[0]), await bench.read(losses[1])];
    if (a[0] !== b[0]) throw new Error(`two runs differ: ${a[0]} vs ${b[0]}`);
  });
});

Deno.test("mse loss matches PyTorch (weighted F.mse_loss and autograd grads)", async () => {
  await withBench(async (bench) => {
    const data = golden.mse.stages.map((s) => ({
      n: s.n,
      weight: s.weight,
      out: Float32Array.from(s.out),
      target: Float32Array.from(s.target),
      grad: bench.output(s.n),
    }));
    const stages = data.map((d) => ({
      ...d,
      out: bench.input(d.out),
      target: bench.input(d.target),
    }));
    const loss = bench.output(1);
    await bench.run(mseLoss(bench.context, stages, { loss }));
    assertClose(await bench.read(loss), [golden.mse.loss], LOSS_TOL, "torch loss");
    for (let s = 0; s < data.length; s++) {
      assertClose(
        await bench.read(data[s].grad),
        golden.mse.stages[s].grad,
        GRAD_TOL,
        `torch grad ${s}`,
      );
    }
  });
});

Deno.test("mse loss rejects bad stage sizes and weights", () => {
  const slice = {} as BufferSlice;
  const ctx = { scratch: () => slice, deviceClass: "cpu" as const };
  const bad: [Partial<MseStage<BufferSlice>>, string][] = [
    [{ n: 0 }, "stages[0].n"],
    [{ n: 3.5 }, "stages[0].n"],
    [{ weight: Number.NaN }, "stages[0].weight"],
    [{ weight: Infinity }, "stages[0].weight"],
  ];
  for (const [patch, field] of bad) {
    const stage = { n: 4, out: slice, target: slice, weight: 1, ...patch };
    let message = "";
    try {
      mseLoss(ctx, [stage], { loss: slice });
    } catch (e) {
      message = (e as Error).message;
    }
    if (!message.includes(field)) throw new Error(`${JSON.stringify(patch)}: got "${message}"`);
  }
});
