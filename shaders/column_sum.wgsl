// out[n] (= or +=) Σ_r x[r·N + n] over R rows: a bias gradient from [R][N] output gradients.
override WG: u32 = 64u;
override R: u32;
override N: u32;
override ACCUMULATE: bool = false;

#include "index"

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3u) {
  let n = thread_index(wid, lid, nwg);
  if (n >= N) { return; }
  var s = 0.0;
  for (var r = 0u; r < R; r++) { s += x[r * N + n]; }
  out[n] = select(s, s + out[n], ACCUMULATE);
}
