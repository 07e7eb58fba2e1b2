// dst[i] = clean[i] + ε, with ε drawn from Philox4x32-10 (Salmon et al., "Parallel random numbers:
// as easy as 1, 2, 3", SC 2011; passes BigCrush) of counter (i, step[0], 0, 0) under key
// (SEED_LO, SEED_HI). Counter-based: no state, fresh noise every step, the same noise for the same
// (seed, step, i) on any device.
//   KIND 0, uniform:  ε = LEVEL·((r0 >> 9) + ½)/2^22 − 1), symmetric in (−LEVEL, LEVEL)
//   KIND 1, gaussian: ε = LEVEL·√(−2 ln u1)·cos(π(2·u2 − 1)) (Box–Muller) with
//                     u1 = ((r0 >> 8) + 1)/2^24 ∈ (0, 1], u2 = (r1 >> 8)/2^24 ∈ [0, 1)
// LEVEL 0 copies clean exactly.

override WG: u32 = 256;
override N: u32;
override KIND: u32 = 0;
override LEVEL: f32 = 0.0;
override SEED_LO: u32 = 0;
override SEED_HI: u32 = 0;

const PI = 3.14159265358979;

#include "index"

@group(0) @binding(0) var<storage, read> clean: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<storage, read> step: array<u32>;

// High and low words of the 64-bit product a·b, from 16-bit halves (WGSL has no mulhi).
fn mul_hi_lo(a: u32, b: u32) -> vec2u {
  let a_lo = a & 0xffffu;
  let a_hi = a >> 16u;
  let b_lo = b & 0xffffu;
  let b_hi = b >> 16u;
  let lh = a_lo * b_hi;
  let hl = a_hi * b_lo;
  let mid = ((a_lo * b_lo) >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
  return vec2u(a_hi * b_hi + (lh >> 16u) + (hl >> 16u) + (mid >> 16u), a * b);
}

fn philox4x32_10(counter: vec4u, key: vec2u) -> vec4u {
  var c = counter;
  var k = key;
  for (var round = 0u; round < 10u; round++) {
    if (round > 0u) { k += vec2u(0x9e3779b9u, 0xbb67ae85u); }
    let p0 = mul_hi_lo(0xd2511f53u, c.x);
    let p1 = mul_hi_lo(0xcd9e8d57u, c.z);
    c = vec4u(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
  }
  return c;
}

fn sample(r: vec4u) -> f32 {
  if (KIND == 0u) {
    return (f32(r.x >> 9u) + 0.5) * exp2(-22.0) - 1.0;
  }
  let u1 = (f32(r.x >> 8u) + 1.0) * exp2(-24.0);
  let u2 = f32(r.y >> 8u) * exp2(-24.0);
  return sqrt(-2.0 * log(u1)) * cos(PI * (2.0 * u2 - 1.0));
}

@compute @workgroup_size(WG)
fn add_noise(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
             @builtin(num_workgroups) nwg: vec3u) {
  let i = thread_index(wid, lid, nwg);
  if (i >= N) { return; }
  let t = step[0];
  if (LEVEL == 0.0) {
    dst[i] = clean[i];
    return;
  }
  dst[i] = clean[i] + LEVEL * sample(philox4x32_10(vec4u(i, t, 0u, 0u), vec2u(SEED_LO, SEED_HI)));
}
