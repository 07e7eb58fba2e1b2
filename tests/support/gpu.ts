/** Shared plumbing for kernel tests: run launches on real buffers, poison outputs, compare. */
import { acquireGpu, type Gpu } from "../../src/gpu/device.ts";
import { BufferAllocator } from "../../src/gpu/buffers.ts";
import type { BufferSlice, Launch, LaunchContext } from "../../src/gpu/kernel.ts";
import { bindLaunch, Recorder } from "../../src/gpu/recorder.ts";
import type { Rng } from "../../src/util/rng.ts";

export { acquireGpu };
export type { Gpu };

/** A bit pattern no kernel computes by accident: outputs start as NaN. */
export const POISON = Number.NaN;

/** Test harness around one allocator and recorder; call `dispose()` at the end. */
export class KernelBench {
  readonly alloc: BufferAllocator;
  readonly recorder: Recorder;
  constructor(readonly gpu: Gpu) {
    this.alloc = new BufferAllocator(gpu.device);
    this.recorder = new Recorder(gpu);
  }

  static async create(): Promise<KernelBench> {
    return new KernelBench(await acquireGpu());
  }

  input(data: Float32Array | number[]): BufferSlice {
    return this.alloc.upload(data instanceof Float32Array ? data : Float32Array.from(data), "in");
  }

  /** An output of n floats filled with `value` (NaN by default) so unwritten elements show. */
  output(n: number, value = POISON): BufferSlice {
    return this.alloc.upload(new Float32Array(n).fill(value), "out");
  }

  /** Scratch provider for factories that need temporary buffers. */
  get context(): LaunchContext<BufferSlice> {
    return {
      scratch: (floats: number) => this.output(floats),
      deviceClass: this.gpu.deviceClass,
      maxStorageBuffers: this.gpu.device.limits.maxStorageBuffersPerShaderStage,
    };
  }

  /** Runs the launches in order in one submit, verifying shader compilation first. */
  async run(launches: readonly Launch<BufferSlice>[]): Promise<void> {
    this.gpu.device.pushErrorScope("validation");
    const dispatches = launches.map((l) => bindLaunch(this.gpu, l));
    await this.gpu.pipelines.verify();
    const error = await this.gpu.device.popErrorScope();
    if (error) {
      throw new Error(`binding ${launches.map((l) => l.kernel.name).join(", ")}: ${error.message}`);
    }
    this.recorder.submit(dispatches);
  }

  async read(slice: BufferSlice): Promise<Float32Array> {
    const [data] = await this.recorder.readback([slice]);
    return data;
  }

  dispose(): void {
    this.alloc.destroy();
  }
}

/** Runs `body` with a fresh bench and disposes it afterwards, even when `body` throws. */
export async function withBench(body: (bench: KernelBench) => Promise<void>): Promise<void> {
  const bench = await KernelBench.create();
  try {
    await body(bench);
  } finally {
    bench.dispose();
  }
}

/** A one-input op's kernels and float64 references, for `checkMapOp`. */
export interface MapOpCase {
  what: string;
  inputs: number;
  outputs: number;
  forward(
    io: { x: BufferSlice; y: BufferSlice },
    o: { accumulate: boolean },
  ): Launch<BufferSlice>[];
  backward(
    io: { dy: BufferSlice; dx: BufferSlice },
    o: { accumulate: boolean },
  ): Launch<BufferSlice>[];
  forwardRef(x: Float32Array): ArrayLike<number>;
  backwardRef(dy: Float32Array): ArrayLike<number>;
  /** Tolerances of y and dx; the accumulating runs use `accumulated` (default: the same). */
  tol: { y: Tolerance; dx: Tolerance; accumulated?: Tolerance };
}

/**
 * Checks y = f(x) and dx = f'ᵀ(dy) on random inputs against the references, each both written
 * into a poisoned buffer and accumulated onto random prior values, in one submit.
 */
export async function checkMapOp(bench: KernelBench, rng: Rng, c: MapOpCase): Promise<void> {
  const x = randomArray(rng, c.inputs);
  const dy = randomArray(rng, c.outputs);
  const priorY = randomArray(rng, c.outputs);
  const priorDx = randomArray(rng, c.inputs);
  const [xs, dys] = [bench.input(x), bench.input(dy)];
  const y = bench.output(c.outputs);
  const yAcc = bench.input(priorY);
  const dx = bench.output(c.inputs);
  const dxAcc = bench.input(priorDx);
  const set = { accumulate: false };
  const acc = { accumulate: true };
  await bench.run([
    ...c.forward({ x: xs, y }, set),
    ...c.forward({ x: xs, y: yAcc }, acc),
    ...c.backward({ dy: dys, dx }, set),
    ...c.backward({ dy: dys, dx: dxAcc }, acc),
  ]);
  const yRef = Array.from(c.forwardRef(x));
  const dxRef = Array.from(c.backwardRef(dy));
  const accumulated = c.tol.accumulated;
  assertClose(await bench.read(y), yRef, c.tol.y, `y ${c.what}`);
  const yAccRef = yRef.map((v, i) => v + priorY[i]);
  assertClose(await bench.read(yAcc), yAccRef, accumulated ?? c.tol.y, `y accumulate ${c.what}`);
  assertClose(await bench.read(dx), dxRef, c.tol.dx, `dx ${c.what}`);
  const dxAccRef = dxRef.map((v, i) => v + priorDx[i]);
  assertClose(
    await bench.read(dxAcc),
    dxAccRef,
    accumulated ?? c.tol.dx,
    `dx accumulate ${c.what}`,
  );
}

/** Random values in [-1, 1) (no zeros-only inputs, ever). */
export function randomArray(rng: Rng, n: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rng.uniform() * 2 - 1) * scale;
  return out;
}

export interface Tolerance {
  /** Absolute tolerance. */
  atol: number;
  /** Relative tolerance (scaled by |expected|). */
  rtol: number;
}

/**
 * Throws, naming the worst element, unless |actual − expected| ≤ atol + rtol·|expected|
 * everywhere. NaN anywhere in actual fails (poisoned outputs).
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tolerance,
  what: string,
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: length ${actual.length}, expected ${expected.length}`);
  }
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const bound = tol.atol + tol.rtol * Math.abs(e);
    const err = Math.abs(a - e);
    if (!(err <= bound)) {
      const excess = Number.isNaN(err) ? Infinity : err - bound;
      if (worst < 0 || excess > worstExcess) {
        worst = i;
        worstExcess = excess;
      }
    }
  }
  if (worst >= 0) {
    let failures = 0;
    for (let i = 0; i < actual.length; i++) {
      if (!(Math.abs(actual[i] - expected[i]) <= tol.atol + tol.rtol * Math.abs(expected[i]))) {
        failures++;
      }
    }
    throw new Error(
      `${what}: ${failures}/${actual.length} elements out of tolerance (atol ${tol.atol}, ` +
        `rtol ${tol.rtol}); worst at [${worst}]: got ${actual[worst]}, expected ${expected[worst]}`,
    );
  }
}
