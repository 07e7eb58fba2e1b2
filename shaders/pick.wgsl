// Strided pick over NCHW f32 tensors: y[n, c, i, j] = x[n, c, S·i + O, S·j + O], 0 where that
// position lies outside x (FactorizedReduce's second path, pycls's pad-then-shift form). The
// backward writes every dx element: dy at the picked positions, 0 (or the prior value) elsewhere.

override WG: u32 = 256;
override N: u32;
override C: u32 = 1u;
override IH: u32 = 1u;
override IW: u32 = 1u;
override OH: u32 = 1u;
override OW: u32 = 1u;
override S: u32 = 2u;
override O: u32 = 1u;
override ACCUMULATE: bool = false;

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;

#include "index"
#include "store"

@compute @workgroup_size(WG)
fn pick_forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                @builtin(num_workgroups) nwg: vec3u) {
  let i = thread_index(wid, lid, nwg);
  if (i >= N * C * OH * OW) { return; }
  let at = split(i, OH, OW);
  let sy = S * at.y + O;
  let sx = S * at.z + O;
  var v = 0.0;
  if (sy < IH && sx < IW) {
    v = src[(at.x * IH + sy) * IW + sx];
  }
  store(i, v);
}

@compute @workgroup_size(WG)
fn pick_backward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                 @builtin(num_workgroups) nwg: vec3u) {
  let i = thread_index(wid, lid, nwg);
  if (i >= N * C * IH * IW) { return; }
  let at = split(i, IH, IW);
  var v = 0.0;
  if (at.y >= O && at.z >= O && (at.y - O) % S == 0u && (at.z - O) % S == 0u) {
    let oy = (at.y - O) / S;
    let ox = (at.z - O) / S;
    if (oy < OH && ox < OW) {
      v = src[(at.x * OH + oy) * OW + ox];
    }
  }
  store(i, v);
}
