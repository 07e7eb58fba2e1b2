/**
 * Microbenchmark (issue 13): cost of a lane-dependent vec4 load on this adapter from a storage
 * buffer (vec4 / four scalars / contiguous / an index uniform across lanes) against a uniform
 * buffer, workgroup memory (filled from storage first; `shared_fill_only` is that fill alone, to
 * subtract) and textureLoad of an rgba32float texture.
 *   deno run -A bench/load_micro.ts
 */
const adapter = await navigator.gpu.requestAdapter();
const device = await adapter!.requestDevice();
const W = 512, H = 512; // texels
const n = W * H * 4;
const data = new Float32Array(n);
for (let i = 0; i < n; i++) data[i] = (i % 97) * 0.01;
const buf = device.createBuffer({
  size: n * 4,
  usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
});
device.queue.writeBuffer(buf, 0, data);
const tex = device.createTexture({
  size: [W, H],
  format: "rgba32float",
  usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST,
});
device.queue.writeTexture({ texture: tex }, data, { bytesPerRow: W * 16 }, [W, H]);
const out = device.createBuffer({ size: 65536 * 16, usage: GPUBufferUsage.STORAGE });
// 64 KiB (the largest uniform binding WebGPU guarantees) for the uniform-buffer variants.
const ubuf = device.createBuffer({
  size: 65536,
  usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
});
device.queue.writeBuffer(ubuf, 0, data.subarray(0, 16384));
const LOADS = 64;
const common = `const LOADS = ${LOADS}u;`;
/** A kernel that fills workgroup memory from storage (16 vec4s per lane), then runs `body`. */
function sharedKernel(body: string): string {
  return `${common}
@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> o: array<vec4<f32>>;
var<workgroup> sh: array<vec4<f32>, 1024>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(local_invocation_index) l: u32) {
  for (var j = 0u; j < 16u; j++) { sh[l * 16u + j] = a[(g.x * 16u + j) & 262143u]; }
  workgroupBarrier();
  ${body}
  o[g.x] = s; }`;
}
const srcs: Record<string, string> = {
  storage_vec4: `${common}
@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> o: array<vec4<f32>>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  var s = vec4<f32>(0.0);
  for (var i = 0u; i < LOADS; i++) { s += a[(g.x * 7u + i * 1031u) & 262143u]; }
  o[g.x] = s; }`,
  storage_scalar4: `${common}
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> o: array<vec4<f32>>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  var s = vec4<f32>(0.0);
  for (var i = 0u; i < LOADS; i++) { let b = ((g.x * 7u + i * 1031u) & 262143u) * 4u; s += vec4<f32>(a[b], a[b+1u], a[b+2u], a[b+3u]); }
  o[g.x] = s; }`,
  storage_contig: `${common}
@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> o: array<vec4<f32>>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  var s = vec4<f32>(0.0);
  for (var i = 0u; i < LOADS; i++) { s += a[(g.x + i * 1031u) & 262143u]; }
  o[g.x] = s; }`,
  // The same loads with an index that is the same in every lane of a workgroup (from the
  // workgroup id), and one from the loop counter alone: what a kernel gains by arranging for one
  // operand to load uniformly.
  storage_wg_uniform: `${common}
@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> o: array<vec4<f32>>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(workgroup_id) w: vec3<u32>) {
  var s = vec4<f32>(0.0);
  for (var i = 0u; i < LOADS; i++) { s += a[(w.x * 7u + i * 1031u) & 262143u]; }
  o[g.x] = s; }`,
  storage_loop_uniform: `${common}
@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> o: array<vec4<f32>>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  var s = vec4<f32>(f32(g.x));
  for (var i = 0u; i < LOADS; i++) { s += a[(i * 1031u) & 262143u]; }
  o[g.x] = s; }`,
  // A lane-dependent index into a uniform buffer (the same 4,096 vec4s as storage_small), and
  // the storage load over the same 64 KiB, so that cache residency is alike.
  uniform_lane: `${common}
@group(0) @binding(0) var<uniform> a: array<vec4<f32>, 4096>;
@group(0) @binding(1) var<storage, read_write> o: array<vec4<f32>>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  var s = vec4<f32>(0.0);
  for (var i = 0u; i < LOADS; i++) { s += a[(g.x * 7u + i * 1031u) & 4095u]; }
  o[g.x] = s; }`,
  storage_small: `${common}
@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> o: array<vec4<f32>>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  var s = vec4<f32>(0.0);
  for (var i = 0u; i < LOADS; i++) { s += a[(g.x * 7u + i * 1031u) & 4095u]; }
  o[g.x] = s; }`,
  // Workgroup memory: each lane stores 16 vec4s, then 64 lane-dependent (or lane-uniform) loads.
  shared_lane: sharedKernel(
    "var s = vec4<f32>(0.0);\n  for (var i = 0u; i < LOADS; i++) { s += sh[(l * 7u + i * 31u) & 1023u]; }",
  ),
  shared_fill_only: sharedKernel("var s = vec4<f32>(0.0);\n  s += sh[(l * 7u) & 1023u];"),
  shared_uniform_idx: sharedKernel(
    "var s = vec4<f32>(f32(l));\n  for (var i = 0u; i < LOADS; i++) { s += sh[(i * 31u) & 1023u]; }",
  ),
  texture: `${common}
@group(0) @binding(0) var a: texture_2d<f32>;
@group(0) @binding(1) var<storage, read_write> o: array<vec4<f32>>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  var s = vec4<f32>(0.0);
  for (var i = 0u; i < LOADS; i++) { let k = (g.x * 7u + i * 1031u) & 262143u; s += textureLoad(a, vec2<u32>(k & 511u, k >> 9u), 0); }
  o[g.x] = s; }`,
  texture_contig: `${common}
@group(0) @binding(0) var a: texture_2d<f32>;
@group(0) @binding(1) var<storage, read_write> o: array<vec4<f32>>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  var s = vec4<f32>(0.0);
  for (var i = 0u; i < LOADS; i++) { let k = (g.x + i * 1031u) & 262143u; s += textureLoad(a, vec2<u32>(k & 511u, k >> 9u), 0); }
  o[g.x] = s; }`,
};
const INV = 65536, REPS = 20;
for (let round = 0; round < 2; round++) {
  for (const [name, code] of Object.entries(srcs)) {
    const mod = device.createShaderModule({ code });
    const pipe = device.createComputePipeline({
      layout: "auto",
      compute: { module: mod, entryPoint: "main" },
    });
    const res = name.startsWith("texture")
      ? tex.createView()
      : { buffer: name.startsWith("uniform") ? ubuf : buf };
    const bg = device.createBindGroup({
      layout: pipe.getBindGroupLayout(0),
      entries: [{ binding: 0, resource: res as GPUBindingResource }, {
        binding: 1,
        resource: { buffer: out },
      }],
    });
    const run = async (reps: number) => {
      const enc = device.createCommandEncoder();
      const p = enc.beginComputePass();
      p.setPipeline(pipe);
      p.setBindGroup(0, bg);
      for (let r = 0; r < reps; r++) p.dispatchWorkgroups(INV / 64);
      p.end();
      device.queue.submit([enc.finish()]);
      await device.queue.onSubmittedWorkDone();
    };
    await run(1);
    const t0 = performance.now();
    await run(REPS);
    const dt = performance.now() - t0;
    const loads = INV * LOADS * REPS;
    console.log(
      `${name.padEnd(20)} ${(dt / REPS).toFixed(2)} ms/dispatch  ${
        (loads / dt / 1e6).toFixed(2)
      } Gvec4-loads/s`,
    );
  }
}
