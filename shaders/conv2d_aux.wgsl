// Helpers of the conv2d family.
//
// reduce_chunks: out[i] (= or +=) Σ over c < CHUNKS of partial[OFFSET + c·COUNT + i]; sums the
// split-K partials of the weight gradient (OFFSET 0) and of the bias gradient (after them).
//
// transpose_weights: w [Cout][Cin/groups][kh·kw] → wt [groups][CPG_LOOP][kh·kw][OCP] for the
// direct kernel (conv2d_direct.wgsl), zero in the padding channels. Source index of (g, c, tap,
// ch) is g·W_GROUP_STRIDE + ch·W_OUT_STRIDE + c·W_C_STRIDE + tap, which covers both the forward
// (ch = output channel) and the data gradient (ch = input channel, c = output channel).

override WG: u32 = 64u;
override COUNT: u32;
override CHUNKS: u32 = 1u;
override OFFSET: u32 = 0u;
override ACCUMULATE: bool = false;

override CPG_LOOP: u32 = 1u;
override CPG_OUTCH: u32 = 1u;
override KHW: u32 = 1u;
override OCP: u32 = 1u;
override W_GROUP_STRIDE: u32 = 0u;
override W_OUT_STRIDE: u32 = 0u;
override W_C_STRIDE: u32 = 0u;

@group(0) @binding(0) var<storage, read> partial: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn reduce_chunks(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
                 @builtin(num_workgroups) nwg: vec3u) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid.x;
  if (i >= COUNT) { return; }
  var sum = 0.0;
  for (var c = 0u; c < CHUNKS; c++) {
    sum += partial[OFFSET + c * COUNT + i];
  }
  if (ACCUMULATE) { sum += out[i]; }
  out[i] = sum;
}

@group(0) @binding(0) var<storage, read> weights: array<f32>;
@group(0) @binding(1) var<storage, read_write> transposed: array<f32>;

// COUNT = groups·CPG_LOOP·KHW·OCP
@compute @workgroup_size(WG)
fn transpose_weights(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
                     @builtin(num_workgroups) nwg: vec3u) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid.x;
  if (i >= COUNT) { return; }
  let ch = i % OCP;
  let tap = (i / OCP) % KHW;
  let c = (i / (OCP * KHW)) % CPG_LOOP;
  let g = i / (OCP * KHW * CPG_LOOP);
  let source_index = g * W_GROUP_STRIDE + min(ch, CPG_OUTCH - 1u) * W_OUT_STRIDE +
                     c * W_C_STRIDE + tap;
  transposed[i] = select(0.0, weights[source_index], ch < CPG_OUTCH);
}
