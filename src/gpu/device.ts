/**
 * Adapter and device acquisition. One device per process, shared by every graph.
 */
import type { DeviceClass } from "./kernel.ts";
import { PipelineCache } from "./pipelines.ts";

/** No WebGPU adapter could be found: says what to install. */
export class GpuUnavailableError extends Error {
  constructor(readonly detail: string) {
    super(
      `No WebGPU adapter found (${detail}).\n` +
        "On a machine without a GPU install Mesa's software Vulkan driver:\n" +
        "  apt-get install -y mesa-vulkan-drivers\n" +
        "and select the Vulkan backend with DENO_WEBGPU_BACKEND=vulkan (gennas sets it when unset).\n" +
        "On a GPU machine, install the vendor's Vulkan (Linux), Metal (macOS) or DX12 (Windows) driver.",
    );
    this.name = "GpuUnavailableError";
  }
}

export interface Gpu {
  readonly device: GPUDevice;
  readonly adapterInfo: GPUAdapterInfo;
  readonly pipelines: PipelineCache;
  /** Backend in use, as selected by DENO_WEBGPU_BACKEND (or "default"). */
  readonly backend: string;
  /** "cpu" for software adapters (lavapipe, SwiftShader, WARP), else "gpu". */
  readonly deviceClass: DeviceClass;
}

let shared: Promise<Gpu> | undefined;

/** Prepares the environment for Deno's WebGPU on Linux, where the defaults misfire. */
function prepareEnvironment(): void {
  if (Deno.build.os !== "linux") return;
  // Without it Mesa prints an error line per adapter probe; the value is never used for compute.
  if (!Deno.env.get("XDG_RUNTIME_DIR")) Deno.env.set("XDG_RUNTIME_DIR", "/tmp");
  if (!Deno.env.get("DENO_WEBGPU_BACKEND")) Deno.env.set("DENO_WEBGPU_BACKEND", "vulkan");
}

/** Returns the process-wide GPU, requesting the adapter's own limits and features. */
export function acquireGpu(): Promise<Gpu> {
  shared ??= createGpu().catch((e) => {
    shared = undefined;
    throw e;
  });
  return shared;
}

async function createGpu(): Promise<Gpu> {
  prepareEnvironment();
  if (!("gpu" in navigator) || !navigator.gpu) {
    throw new GpuUnavailableError("navigator.gpu is missing from this Deno build");
  }
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) throw new GpuUnavailableError("requestAdapter returned null");
  const requiredLimits: Record<string, number> = {};
  for (const key of LIMIT_KEYS) {
    const value = (adapter.limits as unknown as Record<string, number>)[key];
    if (typeof value === "number") requiredLimits[key] = value;
  }
  const requiredFeatures = [...adapter.features].filter((f) =>
    f === "shader-f16" || f === "timestamp-query"
  ) as GPUFeatureName[];
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  device.addEventListener("uncapturederror", (event) => {
    const error = (event as GPUUncapturedErrorEvent).error;
    console.error(`gennas: uncaptured WebGPU error: ${error.message}`);
  });
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const software = info.isFallbackAdapter === true ||
    /llvmpipe|lavapipe|swiftshader|warp|software/i.test(`${info.description} ${info.device}`);
  const forced = Deno.env.get("GENNAS_DEVICE_CLASS");
  return {
    device,
    adapterInfo: adapter.info,
    deviceClass: forced === "cpu" || forced === "gpu" ? forced : software ? "cpu" : "gpu",
    pipelines: new PipelineCache(device),
    backend: Deno.env.get("DENO_WEBGPU_BACKEND") ?? "default",
  };
}

/** Limits that matter for compute; requested at the adapter's maximum. */
const LIMIT_KEYS = [
  "maxBufferSize",
  "maxStorageBufferBindingSize",
  "maxStorageBuffersPerShaderStage",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupSizeZ",
  "maxComputeWorkgroupsPerDimension",
  "maxBindGroups",
  "maxBindingsPerBindGroup",
  "maxUniformBufferBindingSize",
  "maxUniformBuffersPerShaderStage",
  "minStorageBufferOffsetAlignment",
  "minUniformBufferOffsetAlignment",
] as const;

export interface GpuInfo {
  adapter: string;
  vendor: string;
  architecture: string;
  isFallbackAdapter: boolean;
  backend: string;
  deviceClass: DeviceClass;
  features: string[];
  limits: Record<string, number>;
}

/** Describes the device for `gennas info` and run reports. */
export function describeGpu(gpu: Gpu): GpuInfo {
  const limits: Record<string, number> = {};
  for (const key of LIMIT_KEYS) {
    limits[key] = (gpu.device.limits as unknown as Record<string, number>)[key];
  }
  const info = gpu.adapterInfo as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  return {
    adapter: info.description || info.device || "unknown",
    vendor: info.vendor,
    architecture: info.architecture,
    isFallbackAdapter: info.isFallbackAdapter ?? false,
    backend: gpu.backend,
    deviceClass: gpu.deviceClass,
    features: [...gpu.device.features].sort(),
    limits,
  };
}
