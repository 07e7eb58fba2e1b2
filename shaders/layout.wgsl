// Data movement over NCHW f32 tensors: nearest-neighbour resampling (PyTorch F.interpolate,
// mode "nearest") forward and gather backward, and, in the COPY source, copies of channel ranges
// between tensors. One invocation per destination element; in the vec4 sources (planes or rows
// whose length is divisible by 4) per four adjacent ones, with vec4 loads and stores.

override WG: u32 = 256;
override N: u32;
override ACCUMULATE: bool = false;

#if COPY
// S = H·W; COUNT channels from SRC_OFF of SRC_C to DST_OFF of DST_C.
override S: u32 = 1u;
override SRC_C: u32 = 1u;
override SRC_OFF: u32 = 0u;
override DST_C: u32 = 1u;
override DST_OFF: u32 = 0u;
override COUNT: u32 = 1u;
// A plane counted in elements of the width.
override SW: u32 = S / $W;

@group(0) @binding(0) var<storage, read> src: array<$T>;
#else
// Resampling: C channels, IH×IW in, OH×OW out; SCALE_* = f32(in / out), rounded by the host
// exactly as PyTorch rounds it, so the f32 product below picks PyTorch's source pixels.
override C: u32 = 1u;
override IH: u32 = 1u;
override IW: u32 = 1u;
override OH: u32 = 1u;
override OW: u32 = 1u;
override SCALE_H: f32 = 1.0;
override SCALE_W: f32 = 1.0;
// Integer ratios in/out when out divides in (subsample_backward_strided only).
override KH: u32 = 1u;
override KW: u32 = 1u;
// An input row counted in elements of the width.
override IWW: u32 = IW / $W;

@group(0) @binding(0) var<storage, read> src: array<f32>;
#endif
@group(0) @binding(1) var<storage, read_write> dst: array<$T>;

#include "index"
#include "store"

#if COPY
// dst[n, DST_OFF + c, :] (= or +=) src[n, SRC_OFF + c, :] for c < COUNT.
@compute @workgroup_size(WG)
fn channel_copy(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                @builtin(num_workgroups) nwg: vec3u) {
  let i = thread_index(wid, lid, nwg);
  let part = COUNT * SW;
  if (i >= N * part) { return; }
  let n = i / part;
  let r = i - n * part;
  store((n * DST_C + DST_OFF) * SW + r, src[(n * SRC_C + SRC_OFF) * SW + r]);
}

// As channel_copy, over every element of dst: channels outside the copied range become 0.
@compute @workgroup_size(WG)
fn channel_copy_zero_rest(@builtin(workgroup_id) wid: vec3u,
                          @builtin(local_invocation_index) lid: u32,
                          @builtin(num_workgroups) nwg: vec3u) {
  let i = thread_index(wid, lid, nwg);
  if (i >= N * DST_C * SW) { return; }
  let n = i / (DST_C * SW);
  let r = i - n * DST_C * SW;
  let c = r / SW;
  var v = $T(0.0);
  if (c >= DST_OFF && c < DST_OFF + COUNT) {
    v = src[(n * SRC_C + SRC_OFF + c - DST_OFF) * SW + (r - c * SW)];
  }
  dst[i] = v;
}
#else
// PyTorch's nearest source index: min(floor(dst · scale), size − 1) in f32.
fn source_index(d: u32, scale: f32, size: u32) -> u32 {
  return min(u32(floor(f32(d) * scale)), size - 1u);
}

// Destinations [x, y) of an axis that read source position p. The exact preimage is
// [ceil(p·out/in), ceil((p+1)·out/in)); f32 rounding can move either end by one, so the
// candidates are widened by one and each is checked.
fn preimage(p: u32, size_in: u32, size_out: u32) -> vec2u {
  let lo = (p * size_out) / size_in;
  let hi = min(((p + 1u) * size_out + size_in - 1u) / size_in + 1u, size_out);
  return vec2u(select(0u, lo - 1u, lo > 0u), hi);
}

#if !VEC4
@compute @workgroup_size(WG)
fn subsample_forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                     @builtin(num_workgroups) nwg: vec3u) {
  let i = thread_index(wid, lid, nwg);
  if (i >= N * C * OH * OW) { return; }
  let at = split(i, OH, OW);
  let sy = source_index(at.y, SCALE_H, IH);
  let sx = source_index(at.z, SCALE_W, IW);
  store(i, src[(at.x * IH + sy) * IW + sx]);
}
#endif

// Σ dy[plane, oy, ox] over the columns ox that sample input column ix.
fn sampled_columns_sum(row_start: u32, ix: u32) -> f32 {
  let cols = preimage(ix, IW, OW);
  var sum = 0.0;
  for (var ox = cols.x; ox < cols.y; ox++) {
    if (source_index(ox, SCALE_W, IW) == ix) {
      sum += src[row_start + ox];
    }
  }
  return sum;
}

// The sums of input columns ix.. (one or four of them).
#if VEC4
fn sampled_columns(row_start: u32, ix: u32) -> vec4f {
  return vec4f(
    sampled_columns_sum(row_start, ix),
    sampled_columns_sum(row_start, ix + 1u),
    sampled_columns_sum(row_start, ix + 2u),
    sampled_columns_sum(row_start, ix + 3u),
  );
}
#else
fn sampled_columns(row_start: u32, ix: u32) -> f32 {
  return sampled_columns_sum(row_start, ix);
}
#endif

// Most rows of a subsampled input are not sampled at all and cost one store.
@compute @workgroup_size(WG)
fn subsample_backward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                      @builtin(num_workgroups) nwg: vec3u) {
  let q = thread_index(wid, lid, nwg);
  if (q >= N * C * IH * IWW) { return; }
  let at = split(q, IH, IWW);
  let iy = at.y;
  let ix = $W * at.z;
  let rows = preimage(iy, IH, OH);
  var grad = $T(0.0);
  for (var oy = rows.x; oy < rows.y; oy++) {
    if (source_index(oy, SCALE_H, IH) == iy) {
      grad += sampled_columns((at.x * OH + oy) * OW, ix);
    }
  }
  store(q, grad);
}

#if VEC4
// Integer-ratio subsampling (the GenNAS taps: 32→8, 16→8): input (iy, ix) was sampled, exactly
// once, iff KH divides iy and KW divides ix — PyTorch's f32 scale is then the exact integer.
@compute @workgroup_size(WG)
fn subsample_backward_strided(@builtin(workgroup_id) wid: vec3u,
                              @builtin(local_invocation_index) lid: u32,
                              @builtin(num_workgroups) nwg: vec3u) {
  let q = thread_index(wid, lid, nwg);
  if (q >= N * C * IH * IWW) { return; }
  let at = split(q, IH, IWW);
  let iy = at.y;
  let ix = 4u * at.z;
  var grad = vec4f(0.0);
  if (iy % KH == 0u) {
    let start = (at.x * OH + iy / KH) * OW;
    for (var lane = 0u; lane < 4u; lane++) {
      if ((ix + lane) % KW == 0u) {
        grad[lane] = src[start + (ix + lane) / KW];
      }
    }
  }
  store(q, grad);
}
#endif
#endif
