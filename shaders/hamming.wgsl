// NASWOT's Hamming kernel (Mellor et al. 2021). sign_pack packs the signs [z > 0] of an [N][F]
// activation into N rows of WORDS u32 words (bit b of word w is feature 32·w + b; bits past F
// stay 0 in every row, so they never differ). hamming_accumulate adds USES · (F − popcount(a ⊕ b))
// to K[i][l] for l ≥ i (the host mirrors the lower triangle), one invocation per pair.

override WG: u32 = 64;
override N: u32;
override F: u32;
override WORDS: u32;
override USES: u32 = 1u;

#if PACK
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> bits: array<u32>;
#else
@group(0) @binding(0) var<storage, read> bits: array<u32>;
@group(0) @binding(1) var<storage, read_write> k: array<u32>;
#endif

#include "index"

#if PACK
@compute @workgroup_size(WG)
fn sign_pack(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
             @builtin(num_workgroups) nwg: vec3u) {
  let t = thread_index(wid, lid, nwg);
  if (t >= N * WORDS) { return; }
  let i = t / WORDS;
  let first = (t - i * WORDS) * 32u;
  let count = min(32u, F - first);
  let base = i * F + first;
  var word = 0u;
  for (var b = 0u; b < count; b++) {
    word |= select(0u, 1u << b, src[base + b] > 0.0);
  }
  bits[t] = word;
}
#else
@compute @workgroup_size(WG)
fn hamming_accumulate(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                      @builtin(num_workgroups) nwg: vec3u) {
  let t = thread_index(wid, lid, nwg);
  if (t >= N * N) { return; }
  let i = t / N;
  let l = t - i * N;
  if (l < i) { return; }
  var distance = 0u;
  for (var w = 0u; w < WORDS; w++) {
    distance += countOneBits(bits[i * WORDS + w] ^ bits[l * WORDS + w]);
  }
  k[t] += USES * (F - distance);
}
#endif
