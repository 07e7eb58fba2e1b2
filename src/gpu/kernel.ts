/**
 * The kernel contract. A kernel is a name, WGSL source, an entry point, override constants
 * (sizes, flags, scalars) and, optionally, its declared bindings (src/gpu/bindings.ts); the
 * pipeline cache keys on all of them (src/gpu/pipelines.ts). A kernel *factory*
 * (src/kernels/*.ts) turns shapes and options into `Launch`es whose bindings are of a generic
 * type B: BufferSlices in kernel tests, tensor references in the graph.
 */
import type { DeclaredBindings } from "./bindings.ts";

export interface KernelSpec {
  /** Family and variant, e.g. "conv2d_fwd_b8x8x8"; names errors and the cache entry. */
  readonly name: string;
  readonly source: string;
  readonly entryPoint?: string;
  /** WGSL `override` values; every distinct set is a distinct pipeline (JIT cost on lavapipe). */
  readonly constants?: Readonly<Record<string, number>>;
  /**
   * The bind-group layout; absent: `layout: "auto"`, where every binding must be statically used
   * by the entry point and none may be left out.
   */
  readonly layout?: DeclaredBindings;
}

/**
 * One dispatch. bindings[i] is @group(0) @binding(i); `undefined` leaves an optional declared
 * binding empty.
 */
export interface Launch<B> {
  readonly kernel: KernelSpec;
  readonly bindings: readonly (B | undefined)[];
  readonly workgroups: readonly [number, number, number];
  /**
   * u32 values bound as a uniform buffer at `binding` (after the positional bindings): sizes a
   * kernel reads at run time instead of as override constants, so that one pipeline serves
   * launches that differ only in them. The buffer is made once per distinct list (PipelineCache).
   */
  readonly uniforms?: { readonly binding: number; readonly values: readonly number[] };
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

/**
 * Register-block size of the conv kernels: "large" (default) runs fastest once compiled;
 * "compact" caps the unrolled block far lower, so a first-seen shape compiles several times
 * faster (lavapipe JITs each pipeline at its first dispatch) at some cost per iteration.
 */
export type ConvBlocks = "large" | "compact";

/** What a factory may ask of its caller beyond its own inputs and outputs. */
export interface LaunchContext<B> {
  /** A scratch buffer of `floats` f32 elements, live only across the launches of this call. */
  scratch(floats: number, label: string): B;
  readonly deviceClass: DeviceClass;
  /** Conv register blocks (absent: "large"). */
  readonly convBlocks?: ConvBlocks;
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
