// Helpers of the conv2d family.
//
// reduce_chunks: out[i] (= or +=) Σ over c < CHUNKS of partial[c·COUNT + i]; sums the split-K
// partials of the weight gradient, over elements of $T (vec4f when the weight count is a multiple
// of 4, COUNT then counting vec4s; the sums per float are the same either way).
// reduce_chunks_bias does the same and, in the same launch, the bias gradient (f32): invocations
// COUNT … COUNT + BIAS_COUNT − 1 sum bias_partial ([CHUNKS][BIAS_COUNT]) into bias_out.
//
// transpose_weights: w → wt [groups][CPG_LOOP][kh·kw][OCP] for the direct kernel
// (conv2d_direct.wgsl), zero in the padding channels. Source index of (g, c, tap, ch) is
// g·W_GROUP_STRIDE + ch·W_OUT_STRIDE + c·W_C_STRIDE + tap·W_TAP_STRIDE, which covers both the
// forward (ch = output channel) and the data gradient (ch = input channel, c = output channel)
// from weights in either layout (oihw or ihwo).

override WG: u32 = 64u;
override COUNT: u32;
override BIAS_COUNT: u32 = 0u;
override CHUNKS: u32 = 1u;
override ACCUMULATE: bool = false;

override CPG_LOOP: u32 = 1u;
override CPG_OUTCH: u32 = 1u;
override KHW: u32 = 1u;
override OCP: u32 = 1u;
override W_GROUP_STRIDE: u32 = 0u;
override W_OUT_STRIDE: u32 = 0u;
override W_C_STRIDE: u32 = 0u;
override W_TAP_STRIDE: u32 = 1u;

@group(0) @binding(0) var<storage, read> partial: array<$T>;
@group(0) @binding(1) var<storage, read_write> out: array<$T>;
@group(0) @binding(2) var<storage, read> bias_partial: array<f32>;
@group(0) @binding(3) var<storage, read_write> bias_out: array<f32>;

fn reduce_weight(i: u32) {
  var sum = $T(0.0);
  for (var c = 0u; c < CHUNKS; c++) {
    sum += partial[c * COUNT + i];
  }
  if (ACCUMULATE) { sum += out[i]; }
  out[i] = sum;
}

@compute @workgroup_size(WG)
fn reduce_chunks(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
                 @builtin(num_workgroups) nwg: vec3u) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid.x;
  if (i < COUNT) { reduce_weight(i); }
}

@compute @workgroup_size(WG)
fn reduce_chunks_bias(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
                      @builtin(num_workgroups) nwg: vec3u) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid.x;
  if (i < COUNT) {
    reduce_weight(i);
    return;
  }
  let j = i - COUNT;
  if (j >= BIAS_COUNT) { return; }
  var sum = 0.0;
  for (var c = 0u; c < CHUNKS; c++) {
    sum += bias_partial[c * BIAS_COUNT + j];
  }
  if (ACCUMULATE) { sum += bias_out[j]; }
  bias_out[j] = sum;
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
                     c * W_C_STRIDE + tap * W_TAP_STRIDE;
  transposed[i] = select(0.0, weights[source_index], ch < CPG_OUTCH);
}
