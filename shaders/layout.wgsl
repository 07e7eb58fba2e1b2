// Data movement over NCHW f32 tensors: nearest-neighbour resampling (PyTorch F.interpolate,
// mode "nearest") forward and gather backward, and copies of channel ranges between tensors.
// One invocation per destination element; the `*_vec4` variants (for planes or rows whose length
// is divisible by 4) handle four adjacent destination elements with vec4 loads and stores.

override WG: u32 = 256;
override N: u32;
override ACCUMULATE: bool = false;

// Resampling: C channels, IH×IW in, OH×OW out; SCALE_* = f32(in / out), rounded by the host
// exactly as PyTorch rounds it, so the f32 product below picks PyTorch's source pixels.
override C: u32 = 1u;
override IH: u32 = 1u;
override IW: u32 = 1u;
override OH: u32 = 1u;
override OW: u32 = 1u;
override SCALE_H: f32 = 1.0;
override SCALE_W: f32 = 1.0;
// Integer ratios in/out when out divides in (subsample_backward_strided_vec4 only).
override KH: u32 = 1u;
override KW: u32 = 1u;

// Channel copy: S = H·W; COUNT channels from SRC_OFF of SRC_C to DST_OFF of DST_C.
override S: u32 = 1u;
override SRC_C: u32 = 1u;
override SRC_OFF: u32 = 0u;
override DST_C: u32 = 1u;
override DST_OFF: u32 = 0u;
override COUNT: u32 = 1u;

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(0) var<storage, read> src4: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> dst4: array<vec4f>;

override S4: u32 = S / 4u;
override IW4: u32 = IW / 4u;

fn linear_index(wid: vec3u, lid: u32, nwg: vec3u) -> u32 {
  return (wid.x + wid.y * nwg.x) * WG + lid;
}

fn store(i: u32, value: f32) {
  var v = value;
  if (ACCUMULATE) {
    v += dst[i];
  }
  dst[i] = v;
}

fn store4(i: u32, value: vec4f) {
  var v = value;
  if (ACCUMULATE) {
    v += dst4[i];
  }
  dst4[i] = v;
}

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

@compute @workgroup_size(WG)
fn subsample_forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                     @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(wid, lid, nwg);
  if (i >= N * C * OH * OW) { return; }
  let plane = i / (OH * OW);
  let r = i - plane * OH * OW;
  let oy = r / OW;
  let sy = source_index(oy, SCALE_H, IH);
  let sx = source_index(r - oy * OW, SCALE_W, IW);
  store(i, src[(plane * IH + sy) * IW + sx]);
}

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

@compute @workgroup_size(WG)
fn subsample_backward(@builtin(workgroup_id) wid: vec3u,
                      @builtin(local_invocation_index) lid: u32,
                      @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(wid, lid, nwg);
  if (i >= N * C * IH * IW) { return; }
  let plane = i / (IH * IW);
  let r = i - plane * IH * IW;
  let iy = r / IW;
  let ix = r - iy * IW;
  let rows = preimage(iy, IH, OH);
  var grad = 0.0;
  for (var oy = rows.x; oy < rows.y; oy++) {
    if (source_index(oy, SCALE_H, IH) == iy) {
      grad += sampled_columns_sum((plane * OH + oy) * OW, ix);
    }
  }
  store(i, grad);
}

// Four adjacent input columns 4j..4j+3 per invocation (IW % 4 == 0); most rows of a subsampled
// input are not sampled at all and cost one vec4 store.
@compute @workgroup_size(WG)
fn subsample_backward_vec4(@builtin(workgroup_id) wid: vec3u,
                           @builtin(local_invocation_index) lid: u32,
                           @builtin(num_workgroups) nwg: vec3u) {
  let q = linear_index(wid, lid, nwg);
  if (q >= N * C * IH * IW4) { return; }
  let plane = q / (IH * IW4);
  let r = q - plane * IH * IW4;
  let iy = r / IW4;
  let ix = 4u * (r - iy * IW4);
  let rows = preimage(iy, IH, OH);
  var grad = vec4f(0.0);
  for (var oy = rows.x; oy < rows.y; oy++) {
    if (source_index(oy, SCALE_H, IH) == iy) {
      let start = (plane * OH + oy) * OW;
      grad += vec4f(
        sampled_columns_sum(start, ix),
        sampled_columns_sum(start, ix + 1u),
        sampled_columns_sum(start, ix + 2u),
        sampled_columns_sum(start, ix + 3u),
      );
    }
  }
  store4(q, grad);
}

// Integer-ratio subsampling (the GenNAS taps: 32→8, 16→8): input (iy, ix) was sampled, exactly
// once, iff KH divides iy and KW divides ix — PyTorch's f32 scale is then the exact integer.
@compute @workgroup_size(WG)
fn subsample_backward_strided_vec4(@builtin(workgroup_id) wid: vec3u,
                                   @builtin(local_invocation_index) lid: u32,
                                   @builtin(num_workgroups) nwg: vec3u) {
  let q = linear_index(wid, lid, nwg);
  if (q >= N * C * IH * IW4) { return; }
  let plane = q / (IH * IW4);
  let r = q - plane * IH * IW4;
  let iy = r / IW4;
  let ix = 4u * (r - iy * IW4);
  var grad = vec4f(0.0);
  if (iy % KH == 0u) {
    let start = (plane * OH + iy / KH) * OW;
    for (var lane = 0u; lane < 4u; lane++) {
      if ((ix + lane) % KW == 0u) {
        grad[lane] = src[start + (ix + lane) / KW];
      }
    }
  }
  store4(q, grad);
}

// dst[n, DST_OFF + c, :] (= or +=) src[n, SRC_OFF + c, :] for c < COUNT.
@compute @workgroup_size(WG)
fn channel_copy(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(wid, lid, nwg);
  let part = COUNT * S;
  if (i >= N * part) { return; }
  let n = i / part;
  let r = i - n * part;
  store((n * DST_C + DST_OFF) * S + r, src[(n * SRC_C + SRC_OFF) * S + r]);
}

// As channel_copy, over every element of dst: channels outside the copied range become 0.
@compute @workgroup_size(WG)
fn channel_copy_zero_rest(@builtin(workgroup_id) wid: vec3u,
                          @builtin(local_invocation_index) lid: u32,
                          @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(wid, lid, nwg);
  if (i >= N * DST_C * S) { return; }
  let n = i / (DST_C * S);
  let r = i - n * DST_C * S;
  let c = r / S;
  var v = 0.0;
  if (c >= DST_OFF && c < DST_OFF + COUNT) {
    v = src[(n * SRC_C + SRC_OFF + c - DST_OFF) * S + (r - c * S)];
  }
  dst[i] = v;
}

@compute @workgroup_size(WG)
fn channel_copy_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                     @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(wid, lid, nwg);
  let part = COUNT * S4;
  if (i >= N * part) { return; }
  let n = i / part;
  let r = i - n * part;
  store4((n * DST_C + DST_OFF) * S4 + r, src4[(n * SRC_C + SRC_OFF) * S4 + r]);
}

@compute @workgroup_size(WG)
fn channel_copy_zero_rest_vec4(@builtin(workgroup_id) wid: vec3u,
                               @builtin(local_invocation_index) lid: u32,
                               @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(wid, lid, nwg);
  if (i >= N * DST_C * S4) { return; }
  let n = i / (DST_C * S4);
  let r = i - n * DST_C * S4;
  let c = r / S4;
  var v = vec4f(0.0);
  if (c >= DST_OFF && c < DST_OFF + COUNT) {
    v = src4[(n * SRC_C + SRC_OFF + c - DST_OFF) * S4 + (r - c * S4)];
  }
  dst4[i] = v;
}
