import golden from "../fixtures/golden/elementwise.json" with { type: "json" };
import {
  binary,
  fill,
  unary,
  UNARY_OPS,
  unaryBackward,
  type UnaryOp,
} from "../src/kernels/elementwise.ts";
import { Rng } from "../src/util/rng.ts";
import { assertClose, type KernelBench, randomArray, withBench } from "./support/gpu.ts";
import assert from "node:assert/strict";

// Elementwise ops are single f32 operations: tolerance is a few ulps (exp/tanh up to ~1e-6).
const TOL = { atol: 1e-6, rtol: 1e-5 };

function reference(op: UnaryOp, x: number, alpha: number): number {
  switch (op) {
    case "relu":
      return Math.max(x, 0);
    case "sigmoid":
      return 1 / (1 + Math.exp(-x));
    case "tanh":
      return Math.tanh(x);
    case "leaky_relu":
      return x > 0 ? x : alpha * x;
    case "scale":
      return alpha * x;
    default:
      return x;
  }
}

function referenceDerivative(op: UnaryOp, x: number, alpha: number): number {
  switch (op) {
    case "relu":
      return x > 0 ? 1 : 0;
    case "sigmoid": {
      const s = 1 / (1 + Math.exp(-x));
      return s * (1 - s);
    }
    case "tanh":
      return 1 - Math.tanh(x) ** 2;
    case "leaky_relu":
      return x > 0 ? 1 : alpha;
    case "scale":
      return alpha;
    default:
      return 1;
  }
}

Deno.test("unary ops forward and backward match float64 reference, with accumulate", async () => {
  await withBench(async (bench) => {
    // 1037 floats run as f32 elements, 1036 as vec4f ones.
    for (const n of [1037, 1036]) await unaryCase(bench, n);
  });
});

async function unaryCase(bench: KernelBench, n: number) {
  const rng = new Rng(1);
  for (const op of UNARY_OPS) {
    const alpha = op === "leaky_relu" ? 0.01 : op === "scale" ? -1.75 : 0;
    const x = randomArray(rng, n, 3);
    const dy = randomArray(rng, n);
    const prior = randomArray(rng, n);
    const xs = bench.input(x);
    const y = bench.output(n);
    const yAcc = bench.input(prior);
    const dys = bench.input(dy);
    const dx = bench.output(n);
    const saved = op === "leaky_relu" ? xs : y;
    await bench.run([
      unary(op, n, xs, y, { alpha }),
      unary(op, n, xs, yAcc, { alpha, accumulate: true }),
      unaryBackward(op, n, saved, dys, dx, { alpha }),
    ]);
    const fwd = Array.from(x, (v) => reference(op, v, alpha));
    assertClose(await bench.read(y), fwd, TOL, `${op} forward`);
    assertClose(await bench.read(yAcc), fwd.map((v, i) => v + prior[i]), TOL, `${op} accumulate`);
    const bwd = Array.from(x, (v, i) => dy[i] * referenceDerivative(op, v, alpha));
    assertClose(await bench.read(dx), bwd, TOL, `${op} backward`);
  }
}

Deno.test("vec4 elementwise kernels compute every element exactly as the f32 ones", async () => {
  await withBench(async (bench) => {
    const rng = new Rng(3);
    const n = 4096;
    const x = randomArray(rng, n + 1, 3);
    const dy = randomArray(rng, n + 1);
    for (const op of UNARY_OPS) {
      const out: Float32Array[] = [];
      for (const count of [n, n + 1]) {
        const xs = bench.input(x.subarray(0, count));
        const y = bench.output(count);
        const dx = bench.output(count);
        const launches = [
          unary(op, count, xs, y, { alpha: 0.3 }),
          unaryBackward(
            op,
            count,
            op === "leaky_relu" ? xs : y,
            bench.input(dy.subarray(0, count)),
            dx,
            {
              alpha: 0.3,
            },
          ),
        ];
        assert.equal(launches[0].kernel.name.endsWith("_vec4"), count % 4 === 0);
        await bench.run(launches);
        out.push(
          new Float32Array([
            ...(await bench.read(y)).slice(0, n),
            ...(await bench.read(dx)).slice(0, n),
          ]),
        );
      }
      assert.deepEqual(out[0], out[1], `${op}: vec4 and f32 results differ`);
    }
  });
});

Deno.test("binary add/mul and fill", async () => {
  await withBench(async (bench) => {
    // Odd sizes run as f32 elements, multiples of 4 as vec4f.
    for (const n of [70_001, 70_000]) await binaryCase(bench, n);
  });
});

async function binaryCase(bench: KernelBench, n: number) {
  const rng = new Rng(2);
  const a = randomArray(rng, n);
  const b = randomArray(rng, n);
  const [as, bs] = [bench.input(a), bench.input(b)];
  const sum = bench.output(n);
  const prod = bench.output(n);
  const filled = bench.output(n);
  await bench.run([
    binary("add", n, as, bs, sum),
    binary("mul", n, as, bs, prod),
    fill(n, filled, 2.5),
  ]);
  assertClose(await bench.read(sum), Array.from(a, (v, i) => v + b[i]), TOL, "add");
  assertClose(await bench.read(prod), Array.from(a, (v, i) => v * b[i]), TOL, "mul");
  assertClose(await bench.read(filled), new Array(n).fill(2.5), TOL, "fill");
}

Deno.test("unary ops and the product match PyTorch golden values (forward and autograd)", async () => {
  await withBench(async (bench) => {
    const n = golden.x.length;
    const x = bench.input(golden.x);
    const dy = bench.input(golden.dy);
    for (const [name, expected] of Object.entries(golden.unary)) {
      const op = name as UnaryOp;
      const alpha = op === "scale" ? -1.75 : undefined;
      const y = bench.output(n);
      const dx = bench.output(n);
      const saved = op === "leaky_relu" || op === "scale" ? x : y;
      await bench.run([
        unary(op, n, x, y, { alpha }),
        unaryBackward(op, n, saved, dy, dx, { alpha }),
      ]);
      assertClose(await bench.read(y), expected.y, TOL, `${op} vs PyTorch`);
      assertClose(await bench.read(dx), expected.dx, TOL, `${op} gradient vs PyTorch`);
    }
    const [a, b] = [bench.input(golden.mul.a), bench.input(golden.mul.b)];
    const [y, da, db] = [bench.output(n), bench.output(n), bench.output(n)];
    await bench.run([
      binary("mul", n, a, b, y),
      binary("mul", n, dy, b, da),
      binary("mul", n, dy, a, db),
    ]);
    assertClose(await bench.read(y), golden.mul.y, TOL, "product vs PyTorch");
    assertClose(await bench.read(da), golden.mul.da, TOL, "product gradient (a) vs PyTorch");
    assertClose(await bench.read(db), golden.mul.db, TOL, "product gradient (b) vs PyTorch");
  });
});
