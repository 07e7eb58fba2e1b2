/** GPU buffer allocation, uploads and accounting. */
import type { BufferSlice } from "./kernel.ts";

/** UNIFORM too: a kernel may bind a small read-only range (conv weights) as a uniform buffer. */
export const STORAGE_USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.UNIFORM |
  GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

export function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

/** Creates storage buffers, remembers them, and destroys them all at once. */
export class BufferAllocator {
  readonly #device: GPUDevice;
  readonly #buffers: GPUBuffer[] = [];
  bytes = 0;

  constructor(device: GPUDevice) {
    this.#device = device;
  }

  /** A zero-initialised storage buffer of at least `bytes` (rounded up to 16, minimum 16). */
  storage(bytes: number, label: string): GPUBuffer {
    const size = Math.max(16, alignUp(bytes, 16));
    const buffer = this.#device.createBuffer({ label, size, usage: STORAGE_USAGE });
    this.#buffers.push(buffer);
    this.bytes += size;
    return buffer;
  }

  /** A storage buffer holding `data`, returned as a slice of exactly its length. */
  upload(data: Float32Array | Uint32Array | Int32Array, label: string): BufferSlice {
    const buffer = this.storage(data.byteLength, label);
    this.#device.queue.writeBuffer(buffer, 0, data as Float32Array<ArrayBuffer>);
    return { buffer, offset: 0, size: data.byteLength };
  }

  /** A slice covering `floats` f32 values of a new buffer. */
  slice(floats: number, label: string): BufferSlice {
    const size = floats * 4;
    return { buffer: this.storage(size, label), offset: 0, size };
  }

  destroy(): void {
    for (const buffer of this.#buffers) buffer.destroy();
    this.#buffers.length = 0;
    this.bytes = 0;
  }
}
