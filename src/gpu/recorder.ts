/**
 * Command recording: many dispatches go into one compute pass and one submit; `readback` is the
 * only call that awaits the GPU. Counters let tests prove a training loop never syncs.
 */
import type { Gpu } from "./device.ts";
import type { BufferSlice, Launch } from "./kernel.ts";

/** A launch bound to real buffers: pipeline and bind group are built once and replayed. */
export interface Dispatch {
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
  readonly workgroups: readonly [number, number, number];
  readonly label: string;
}

/**
 * Builds the pipeline (cached) and bind group of a launch over concrete buffer slices; an empty
 * optional binding gets the device's placeholder buffer.
 */
export function bindLaunch(gpu: Gpu, launch: Launch<BufferSlice>): Dispatch {
  const { name, layout } = launch.kernel;
  // A declared layout would have to list the uniform binding too; only "auto" layouts take one.
  if (launch.uniforms && layout) {
    throw new Error(`kernel ${name}: uniforms need an auto layout, not declared bindings`);
  }
  const { pipeline, bindGroupLayout } = gpu.pipelines.get(launch.kernel);
  if (layout && launch.bindings.length !== layout.entries.length) {
    throw new Error(
      `kernel ${name}: ${launch.bindings.length} bindings for ${layout.entries.length} declared`,
    );
  }
  const entries = launch.bindings.map((slice, binding): GPUBindGroupEntry => {
    if (slice) {
      return {
        binding,
        resource: { buffer: slice.buffer, offset: slice.offset, size: slice.size },
      };
    }
    const declared = layout?.entries[binding];
    if (!declared?.optional) {
      throw new Error(`kernel ${name}: binding ${binding} (${declared?.name}) is required`);
    }
    return { binding, resource: { buffer: gpu.pipelines.placeholder(declared.access) } };
  });
  if (launch.uniforms) {
    const buffer = gpu.pipelines.uniformValues(launch.uniforms.values);
    entries.push({ binding: launch.uniforms.binding, resource: { buffer } });
  }
  const bindGroup = gpu.device.createBindGroup({ label: name, layout: bindGroupLayout, entries });
  return { pipeline, bindGroup, workgroups: launch.workgroups, label: name };
}

/**
 * Binds lists of launches under one validation scope and waits for their pipelines, so that a
 * bad shader or binding fails here, named by `what` (a graph's compilation, kernels run after a
 * pass), rather than at submit.
 */
export async function bindChecked(
  gpu: Gpu,
  what: string,
  ...lists: readonly (readonly Launch<BufferSlice>[])[]
): Promise<Dispatch[][]> {
  gpu.device.pushErrorScope("validation");
  const bound = lists.map((list) => list.map((launch) => bindLaunch(gpu, launch)));
  const verified = gpu.pipelines.verify().then(() => undefined, (e: unknown) => e);
  const [shaderError, error] = [await verified, await gpu.device.popErrorScope()];
  if (shaderError) throw shaderError; // a ShaderError names its kernel
  if (error) throw new Error(`${what}: ${error.message}`);
  return bound;
}

export class Recorder {
  readonly #gpu: Gpu;
  submits = 0;
  readbacks = 0;
  dispatches = 0;

  constructor(gpu: Gpu) {
    this.#gpu = gpu;
  }

  /** Encodes every list, in order, into one compute pass and submits it once. */
  submit(...lists: readonly (readonly Dispatch[])[]): void {
    const encoder = this.#gpu.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    let last: GPUComputePipeline | undefined;
    for (const list of lists) {
      for (const d of list) {
        if (d.pipeline !== last) pass.setPipeline(d.pipeline);
        last = d.pipeline;
        pass.setBindGroup(0, d.bindGroup);
        pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
        this.dispatches++;
      }
    }
    pass.end();
    this.#gpu.device.queue.submit([encoder.finish()]);
    this.submits++;
  }

  /** Host data into a slice; ordered with submits, never waits. */
  write(slice: BufferSlice, data: Float32Array | Uint32Array): void {
    if (data.byteLength > slice.size) {
      throw new RangeError(`write of ${data.byteLength} bytes into a ${slice.size}-byte slice`);
    }
    this.#gpu.device.queue.writeBuffer(
      slice.buffer,
      slice.offset,
      data as Float32Array<ArrayBuffer>,
    );
  }

  /** Copies the slices out through one staging buffer and one map: the only await in a run. */
  async readback(slices: readonly BufferSlice[]): Promise<Float32Array[]> {
    const device = this.#gpu.device;
    const total = slices.reduce((sum, s) => sum + s.size, 0);
    const staging = device.createBuffer({
      label: "readback",
      size: Math.max(4, total),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    const encoder = device.createCommandEncoder();
    let offset = 0;
    for (const s of slices) {
      encoder.copyBufferToBuffer(s.buffer, s.offset, staging, offset, s.size);
      offset += s.size;
    }
    device.queue.submit([encoder.finish()]);
    this.readbacks++;
    try {
      await staging.mapAsync(GPUMapMode.READ);
      const bytes = new Float32Array(staging.getMappedRange().slice(0));
      staging.unmap();
      const out: Float32Array[] = [];
      offset = 0;
      for (const s of slices) {
        out.push(bytes.subarray(offset / 4, (offset + s.size) / 4));
        offset += s.size;
      }
      return out;
    } finally {
      staging.destroy();
    }
  }
}
