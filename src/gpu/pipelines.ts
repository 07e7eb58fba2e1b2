/**
 * The one pipeline mechanism: shader modules, bind-group and pipeline layouts and compute
 * pipelines, each created once per distinct kernel and reused; and the placeholder buffers bound
 * where a launch leaves an optional binding empty.
 */
import type { BindingAccess, DeclaredBindings } from "./bindings.ts";
import type { KernelSpec } from "./kernel.ts";

/** A WGSL compile or pipeline validation error, naming the kernel it came from. */
export class ShaderError extends Error {
  constructor(readonly kernel: string, message: string) {
    super(`kernel ${kernel}: ${message}`);
    this.name = "ShaderError";
  }
}

const sourceHashes = new Map<string, string>();

/**
 * FNV-1a (32 bits) of the source's UTF-16 code units, with its length: memoised, since kernel
 * sources are memoised strings that come back for every launch.
 */
function sourceHash(source: string): string {
  let hash = sourceHashes.get(source);
  if (hash === undefined) {
    let h = 0x811c9dc5;
    for (let i = 0; i < source.length; i++) {
      h = Math.imul(h ^ source.charCodeAt(i), 0x01000193);
    }
    hash = `${source.length.toString(36)}.${(h >>> 0).toString(36)}`;
    sourceHashes.set(source, hash);
  }
  return hash;
}

/** Name, entry point, source, declared layout and constants: what makes a pipeline distinct. */
function cacheKey(spec: KernelSpec): string {
  const constants = spec.constants ?? {};
  const parts = Object.keys(constants).sort().map((k) => `${k}=${constants[k]}`);
  const layout = spec.layout?.key ?? "auto";
  return `${spec.name}|${spec.entryPoint ?? "main"}|${sourceHash(spec.source)}|${layout}|${
    parts.join(",")
  }`;
}

/** A pipeline and the layout its bind groups are made for. */
export interface KernelPipeline {
  readonly pipeline: GPUComputePipeline;
  readonly bindGroupLayout: GPUBindGroupLayout;
}

interface Layouts {
  readonly bindGroup: GPUBindGroupLayout;
  readonly pipeline: GPUPipelineLayout;
}

/** Bytes of a placeholder buffer: room for any element an empty binding may declare. */
const PLACEHOLDER_BYTES = 256;

/**
 * Pipeline cache of one device. Creation is synchronous; validation errors are collected from
 * error scopes and surfaced, with the kernel's name, by `verify()`.
 */
export class PipelineCache {
  readonly #device: GPUDevice;
  readonly #pipelines = new Map<string, KernelPipeline>();
  readonly #modules = new Map<string, GPUShaderModule>();
  readonly #layouts = new Map<string, Layouts>();
  readonly #placeholders = new Map<BindingAccess, GPUBuffer>();
  readonly #uniforms = new Map<string, GPUBuffer>();
  #pending: Promise<void>[] = [];

  constructor(device: GPUDevice) {
    this.#device = device;
  }

  get(spec: KernelSpec): KernelPipeline {
    const key = cacheKey(spec);
    const cached = this.#pipelines.get(key);
    if (cached) return cached;
    const device = this.#device;
    device.pushErrorScope("validation");
    device.pushErrorScope("internal");
    const module = this.#module(spec);
    const layouts = spec.layout ? this.#layoutsOf(spec.layout) : undefined;
    const pipeline = device.createComputePipeline({
      label: spec.name,
      layout: layouts?.pipeline ?? "auto",
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
    let auto: GPUBindGroupLayout | undefined;
    const entry: KernelPipeline = layouts ? { pipeline, bindGroupLayout: layouts.bindGroup } : {
      pipeline,
      // Asked for only when bound, so that a failed pipeline reports through verify() first.
      get bindGroupLayout() {
        return auto ??= pipeline.getBindGroupLayout(0);
      },
    };
    this.#pipelines.set(key, entry);
    return entry;
  }

  /** The buffer bound to an optional binding that a launch leaves empty, one per access. */
  placeholder(access: BindingAccess): GPUBuffer {
    let buffer = this.#placeholders.get(access);
    if (!buffer) {
      buffer = this.#device.createBuffer({
        label: `empty ${access} binding`,
        size: PLACEHOLDER_BYTES,
        usage: access === "uniform" ? GPUBufferUsage.UNIFORM : GPUBufferUsage.STORAGE,
      });
      this.#placeholders.set(access, buffer);
    }
    return buffer;
  }

  /** A uniform buffer holding `values` as u32s (padded to 16 bytes), one per distinct list. */
  uniformValues(values: readonly number[]): GPUBuffer {
    const key = values.join(",");
    let buffer = this.#uniforms.get(key);
    if (!buffer) {
      if (values.some((v) => !Number.isInteger(v) || v < 0 || v > 0xffffffff)) {
        throw new RangeError(`uniform values must be u32s: ${key}`);
      }
      const data = new Uint32Array(Math.max(4, Math.ceil(values.length / 4) * 4));
      data.set(values);
      buffer = this.#device.createBuffer({
        label: `uniform values ${key}`,
        size: data.byteLength,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
      this.#device.queue.writeBuffer(buffer, 0, data);
      this.#uniforms.set(key, buffer);
    }
    return buffer;
  }

  #module(spec: KernelSpec): GPUShaderModule {
    let module = this.#modules.get(spec.source);
    if (!module) {
      module = this.#device.createShaderModule({ label: spec.name, code: spec.source });
      this.#modules.set(spec.source, module);
    }
    return module;
  }

  #layoutsOf(declared: DeclaredBindings): Layouts {
    let layouts = this.#layouts.get(declared.key);
    if (!layouts) {
      const bindGroup = this.#device.createBindGroupLayout({
        label: `bindings ${declared.key}`,
        entries: declared.entries.map((e, binding) => ({
          binding,
          visibility: GPUShaderStage.COMPUTE,
          buffer: {
            type:
              ({ read: "read-only-storage", read_write: "storage", uniform: "uniform" } as const)[
                e.access
              ],
            minBindingSize: e.minBytes,
          },
        })),
      });
      const pipeline = this.#device.createPipelineLayout({ bindGroupLayouts: [bindGroup] });
      layouts = { bindGroup, pipeline };
      this.#layouts.set(declared.key, layouts);
    }
    return layouts;
  }

  /** Rejects with the first ShaderError among pipelines created since the last call. */
  async verify(): Promise<void> {
    const pending = this.#pending;
    this.#pending = [];
    await Promise.all(pending);
  }
}
