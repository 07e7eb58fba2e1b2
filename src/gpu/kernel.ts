/**
 * The kernel contract. A kernel is a name, WGSL source, an entry point and override constants
 * (sizes, flags, scalars); name + constants form the pipeline cache key. A kernel *factory*
 * (src/kernels/*.ts) turns shapes and options into `Launch`es whose bindings are of a generic
 * type B: BufferSlices in kernel tests, tensor references in the graph.
 */
import { ShaderError } from "./device.ts";

export interface KernelSpec {
  /** Family and variant, e.g. "conv2d_fwd_b8x8x8"; names errors and the cache entry. */
  readonly name: string;
  readonly source: string;
  readonly entryPoint?: string;
  /** WGSL `override` values; every distinct set is a distinct pipeline (JIT cost on lavapipe). */
  readonly constants?: Readonly<Record<string, number>>;
}

/**
 * One dispatch. bindings[i] is @group(0) @binding(i); every binding must be statically used by
 * the entry point (layouts are "auto").
 */
export interface Launch<B> {
  readonly kernel: KernelSpec;
  readonly bindings: readonly B[];
  readonly workgroups: readonly [number, number, number];
}

/** A byte range of a GPU buffer; offsets must be multiples of minStorageBufferOffsetAlignment. */
export interface BufferSlice {
  readonly buffer: GPUBuffer;
  readonly offset: number;
  readonly size: number;
}

/**
 * Which tiling family suits the device: "cpu" for software rasterisers such as lavapipe
 * (register-blocked, no shared memory), "gpu" for real GPUs (more, smaller invocations).
 */
export type DeviceClass = "cpu" | "gpu";

/** What a factory may ask of its caller beyond its own inputs and outputs. */
export interface LaunchContext<B> {
  /** A scratch buffer of `floats` f32 elements, live only across the launches of this call. */
  scratch(floats: number, label: string): B;
  readonly deviceClass: DeviceClass;
  /**
   * The device's maxStorageBuffersPerShaderStage, where a factory may choose a launch structure
   * by it (e.g. batch norm's one-launch affine backward binds 9). Absent: assume enough, as on
   * any device gennas requests at the adapter's limits (lavapipe: 32; WebGPU's minimum is 8).
   */
  readonly maxStorageBuffers?: number;
}

/** Largest workgroup count per grid dimension that every WebGPU device supports. */
export const MAX_GROUPS_PER_DIM = 65535;

/**
 * Workgroup counts covering `count` groups, folded into y when x would exceed the limit.
 * Shaders recover the linear group index as `wid.x + wid.y * nwg.x`.
 */
export function grid(count: number): [number, number, number] {
  if (count <= MAX_GROUPS_PER_DIM) return [Math.max(1, count), 1, 1];
  const y = Math.ceil(count / MAX_GROUPS_PER_DIM);
  return [Math.ceil(count / y), y, 1];
}

/** Workgroups for `threads` invocations at `workgroupSize` per group (see `grid`). */
export function grid1d(threads: number, workgroupSize: number): [number, number, number] {
  return grid(Math.ceil(threads / workgroupSize));
}

export function cacheKey(spec: KernelSpec): string {
  const constants = spec.constants ?? {};
  const keys = Object.keys(constants).sort();
  const parts = keys.map((k) => `${k}=${constants[k]}`);
  return `${spec.name}|${spec.entryPoint ?? "main"}|${parts.join(",")}`;
}

/**
 * Shape-keyed pipeline cache. Creation is synchronous; validation errors are collected from
 * error scopes and surfaced, with the kernel's name, by `verify()`.
 */
export class PipelineCache {
  readonly #device: GPUDevice;
  readonly #pipelines = new Map<string, GPUComputePipeline>();
  readonly #modules = new Map<string, GPUShaderModule>();
  #pending: Promise<void>[] = [];
  created = 0;

  constructor(device: GPUDevice) {
    this.#device = device;
  }

  get size(): number {
    return this.#pipelines.size;
  }

  get(spec: KernelSpec): GPUComputePipeline {
    const key = cacheKey(spec);
    const cached = this.#pipelines.get(key);
    if (cached) return cached;
    const device = this.#device;
    device.pushErrorScope("validation");
    device.pushErrorScope("internal");
    const module = this.#module(spec);
    const pipeline = device.createComputePipeline({
      label: spec.name,
      layout: "auto",
      compute: { module, entryPoint: spec.entryPoint ?? "main", constants: spec.constants ?? {} },
    });
    const internal = device.popErrorScope();
    const validation = device.popErrorScope();
    this.#pending.push(
      Promise.all([internal, validation]).then(([a, b]) => {
        const error = a ?? b;
        if (error) throw new ShaderError(spec.name, error.message);
      }),
    );
    this.#pipelines.set(key, pipeline);
    this.created++;
    return pipeline;
  }

  #module(spec: KernelSpec): GPUShaderModule {
    const key = `${spec.name}\u0000${spec.source}`;
    let module = this.#modules.get(key);
    if (!module) {
      module = this.#device.createShaderModule({ label: spec.name, code: spec.source });
      this.#modules.set(key, module);
    }
    return module;
  }

  /** Rejects with the first ShaderError among pipelines created since the last call. */
  async verify(): Promise<void> {
    const pending = this.#pending;
    this.#pending = [];
    await Promise.all(pending);
  }
}
