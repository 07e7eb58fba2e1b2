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

/** Random values in [-1, 1) (no zeros-only inputs, ever). */
/** Runs `body` with a fresh bench and disposes it afterwards, even when `body` throws. */
export async function withBench(body: (bench: KernelBench) => Promise<void>): Promise<void> {
  const bench = await KernelBench.create();
  try {
    await body(bench);
  } finally {
    bench.dispose();
  }
}

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
