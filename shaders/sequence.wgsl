// Sequence helpers of the recurrent networks (NAS-Bench-NLP):
//   copy_range: dst[DST_OFFSET + i] (= or +=) src[SRC_OFFSET + i] for i < N, which splits a
//               [L·B][D] tensor into time steps and stacks them back.
//   dropout:    dst[i] (= or +=) src[i] · keep(i mod PERIOD) / (1 − P), keep ~ Bernoulli(1 − P)
//               drawn from Philox4x32-10 of counter (i mod PERIOD, step[0], 1, 0) under key
//               (SEED_LO, SEED_HI): a fresh mask each step, the same mask in the forward and
//               backward of one step. PERIOD = B·D shares one mask over all time steps
//               (LockedDropout); PERIOD = N is plain dropout (WeightDrop on a weight).

override WG: u32 = 256;
override N: u32;
override SRC_OFFSET: u32 = 0u;
override DST_OFFSET: u32 = 0u;
override ACCUMULATE: bool = false;
override PERIOD: u32 = 1u;
override P: f32 = 0.0;
override SEED_LO: u32 = 0u;
override SEED_HI: u32 = 0u;

#include "index"

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(WG)
fn copy_range(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
              @builtin(num_workgroups) nwg: vec3u) {
  let i = thread_index(wid, lid, nwg);
  if (i >= N) { return; }
  var v = src[SRC_OFFSET + i];
  if (ACCUMULATE) { v += dst[DST_OFFSET + i]; }
  dst[DST_OFFSET + i] = v;
}

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

@compute @workgroup_size(WG)
fn dropout(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
           @builtin(num_workgroups) nwg: vec3u) {
  let i = thread_index(wid, lid, nwg);
  if (i >= N) { return; }
  let r = philox4x32_10(vec4u(i % PERIOD, step[0], 1u, 0u), vec2u(SEED_LO, SEED_HI));
  let u = f32(r.x >> 8u) * exp2(-24.0);
  var v = select(0.0, src[i] / (1.0 - P), u >= P);
  if (ACCUMULATE) { v += dst[i]; }
  dst[i] = v;
}
