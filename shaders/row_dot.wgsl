// Row-wise dot products: out[r] = Σ_{s < S} a[r·S + s] · b[r·S + s] for the R rows of two
// [R][S] tensors, one invocation per row (fisher's Σ_spatial a·∂L/∂a per sample and channel).

override WG: u32 = 64;
override R: u32;
override S: u32;

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

#include "index"

@compute @workgroup_size(WG)
fn row_dot(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
           @builtin(num_workgroups) nwg: vec3u) {
  let r = thread_index(wid, lid, nwg);
  if (r >= R) { return; }
  let base = r * S;
  var sum = 0.0;
  for (var s = 0u; s < S; s++) {
    sum += a[base + s] * b[base + s];
  }
  out[r] = sum;
}
