// 2-D max/average pooling (square window K, stride STRIDE, zero-or-−∞ padding PAD, floor mode)
// and global average pooling over NCHW f32 tensors, forward and backward.
//
// Forward kernels run one invocation per output element; backward kernels gather, one invocation
// per input element, over the windows that contain it (no atomics, fixed order: outputs in
// row-major order, the order in which PyTorch's scatter adds them).
// The `pool3_*` kernels specialise the hot 3×3 stride-1 pad-1 window (same-size output) for
// widths divisible by 4: each invocation handles 4 adjacent columns with vec4 loads (3–4× faster
// on lavapipe than the general kernels). The `pool2_*` kernels do the same for the 2×2 stride-2
// downsampling window on an even height and a width divisible by 8: one invocation per four
// adjacent outputs, forward and backward (each input lies in exactly one window).
// The source is generated at two widths (src/gpu/wgsl.ts): the general and global kernels read
// and write f32 (argmax u32), the pool3/pool2 kernels vec4f (argmax vec4u).
// Bindings: 0 = src (x or dy), 1 = dst (y or dx), 2 = argmax (max pooling only: written by the
// forward, read by the backward).

override WG: u32 = 256; // power of two for the global-pool reduction
override N: u32;
override C: u32;
override IH: u32 = 1u;
override IW: u32 = 1u;
override OH: u32 = 1u;
override OW: u32 = 1u;
override K: u32 = 1u;
override STRIDE: u32 = 1u;
override PAD: u32 = 0u;
override INCLUDE_PAD: bool = false;
override ACCUMULATE: bool = false;
override S: u32 = 1u; // spatial size of the global pool

@group(0) @binding(0) var<storage, read> src: array<$T>;
@group(0) @binding(1) var<storage, read_write> dst: array<$T>;
@group(0) @binding(2) var<storage, read_write> argmax_out: array<$U>;
@group(0) @binding(2) var<storage, read> argmax_in: array<$U>;

#include "index"
#include "store"

#if !VEC4
var<workgroup> partial: array<f32, WG>;

// Window of output (oy, ox) clipped to the input: rows [x, y), columns [z, w).
fn window(oy: u32, ox: u32) -> vec4u {
  let top = i32(oy * STRIDE) - i32(PAD);
  let left = i32(ox * STRIDE) - i32(PAD);
  return vec4u(
    u32(max(top, 0)),
    u32(min(top + i32(K), i32(IH))),
    u32(max(left, 0)),
    u32(min(left + i32(K), i32(IW))),
  );
}

// Outputs whose window contains input row/column `p` of an axis with `out` outputs: [x, y).
fn covering(p: u32, out: u32) -> vec2u {
  let last = i32(p + PAD);
  let first = last - i32(K) + 1;
  let lo = select(0, (first + i32(STRIDE) - 1) / i32(STRIDE), first > 0);
  let hi = min(last / i32(STRIDE), i32(out) - 1);
  return vec2u(u32(lo), u32(max(hi, lo - 1) + 1));
}

fn divisor(w: vec4u) -> f32 {
  if (INCLUDE_PAD) {
    return f32(K * K);
  }
  return f32((w.y - w.x) * (w.w - w.z));
}

struct WindowMax {
  value: f32,
  arg: u32,
}

// Row-major window order with a strict `>`: the first maximum wins (PyTorch's rule); padding is
// never a candidate, so it acts as −∞. A NaN is taken as the maximum, as in PyTorch.
fn window_max(i: u32) -> WindowMax {
  let at = split(i, OH, OW);
  let w = window(at.y, at.z);
  let base = at.x * IH * IW;
  var best = 0.0;
  var arg = w.x * IW + w.z;
  var found = false;
  for (var iy = w.x; iy < w.y; iy++) {
    for (var ix = w.z; ix < w.w; ix++) {
      let v = src[base + iy * IW + ix];
      if (!found || v > best || v != v) {
        found = true;
        best = v;
        arg = iy * IW + ix;
      }
    }
  }
  return WindowMax(best, arg);
}

@compute @workgroup_size(WG)
fn maxpool_forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                   @builtin(num_workgroups) nwg: vec3u) {
  let i = thread_index(wid, lid, nwg);
  if (i >= N * C * OH * OW) { return; }
  let m = window_max(i);
  store(i, m.value);
  argmax_out[i] = m.arg;
}

@group(0) @binding(3) var<storage, read> step: array<u32>;

// Max pooling with frozen switches (grasp's Hessian): the argmax found at step 0 (so that pass is
// the plain max pool) is kept after it, and y = x[argmax].
@compute @workgroup_size(WG)
fn maxpool_frozen_forward(@builtin(workgroup_id) wid: vec3u,
                          @builtin(local_invocation_index) lid: u32,
                          @builtin(num_workgroups) nwg: vec3u) {
  let i = thread_index(wid, lid, nwg);
  if (i >= N * C * OH * OW) { return; }
  if (step[0] == 0u) {
    let m = window_max(i);
    store(i, m.value);
    argmax_out[i] = m.arg;
    return;
  }
  let plane = (i / (OH * OW)) * IH * IW;
  store(i, src[plane + argmax_out[i]]);
}

@compute @workgroup_size(WG)
fn maxpool_backward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                    @builtin(num_workgroups) nwg: vec3u) {
  let i = thread_index(wid, lid, nwg);
  if (i >= N * C * IH * IW) { return; }
  let at = split(i, IH, IW);
  let rows = covering(at.y, OH);
  let cols = covering(at.z, OW);
  let position = at.y * IW + at.z;
  let base = at.x * OH * OW;
  var grad = 0.0;
  for (var oy = rows.x; oy < rows.y; oy++) {
    for (var ox = cols.x; ox < cols.y; ox++) {
      let o = base + oy * OW + ox;
      if (argmax_in[o] == position) {
        grad += src[o];
      }
    }
  }
  store(i, grad);
}

@compute @workgroup_size(WG)
fn avgpool_forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                   @builtin(num_workgroups) nwg: vec3u) {
  let i = thread_index(wid, lid, nwg);
  if (i >= N * C * OH * OW) { return; }
  let at = split(i, OH, OW);
  let w = window(at.y, at.z);
  let base = at.x * IH * IW;
  var sum = 0.0;
  for (var iy = w.x; iy < w.y; iy++) {
    for (var ix = w.z; ix < w.w; ix++) {
      sum += src[base + iy * IW + ix];
    }
  }
  store(i, sum / divisor(w));
}

@compute @workgroup_size(WG)
fn avgpool_backward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                    @builtin(num_workgroups) nwg: vec3u) {
  let i = thread_index(wid, lid, nwg);
  if (i >= N * C * IH * IW) { return; }
  let at = split(i, IH, IW);
  let rows = covering(at.y, OH);
  let cols = covering(at.z, OW);
  let base = at.x * OH * OW;
  var grad = 0.0;
  for (var oy = rows.x; oy < rows.y; oy++) {
    for (var ox = cols.x; ox < cols.y; ox++) {
      grad += src[base + oy * OW + ox] / divisor(window(oy, ox));
    }
  }
  store(i, grad);
}

// One workgroup per (n, c) row: strided partial sums, then a tree sum.
@compute @workgroup_size(WG)
fn global_avg_forward(@builtin(workgroup_id) wid: vec3u,
                      @builtin(local_invocation_index) lid: u32,
                      @builtin(num_workgroups) nwg: vec3u) {
  let row = group_index(wid, nwg);
  if (row >= N * C) { return; } // uniform: the whole workgroup leaves
  var sum = 0.0;
  for (var s = lid; s < S; s += WG) {
    sum += src[row * S + s];
  }
  partial[lid] = sum;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half >>= 1u) {
    if (lid < half) {
      partial[lid] += partial[lid + half];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    store(row, partial[0] / f32(S));
  }
}

@compute @workgroup_size(WG)
fn global_avg_backward(@builtin(workgroup_id) wid: vec3u,
                       @builtin(local_invocation_index) lid: u32,
                       @builtin(num_workgroups) nwg: vec3u) {
  let i = thread_index(wid, lid, nwg);
  if (i >= N * C * S) { return; }
  store(i, src[i / S] / f32(S));
}

#else
// ---- 3×3 stride 1 pad 1, four columns per invocation ------------------------------------------

override IW4: u32 = IW / 4u;

const UNSET: u32 = 0xffffffffu;

// Values at column offsets −1, 0, +1 of four adjacent columns 4j..4j+3 of one row.
struct Row3 {
  left: vec4f,
  centre: vec4f,
  right: vec4f,
}

struct Row3u {
  left: vec4u,
  centre: vec4u,
  right: vec4u,
}

// Index, in vec4s, of the first column of `row` in `plane`.
fn row_start(plane: u32, row: u32) -> u32 {
  return (plane * IH + row) * IW4;
}

// Whether the left/right neighbours of columns 4j..4j+3 exist: only the outer lanes can fall
// into the padding.
fn left_valid(j: u32) -> vec4<bool> {
  return vec4<bool>(j > 0u, true, true, true);
}

fn right_valid(j: u32) -> vec4<bool> {
  return vec4<bool>(true, true, true, j + 1u < IW4);
}

// Neighbours in the padding read as 0 (values) or UNSET (argmax); callers mask them.
fn row3(start: u32, j: u32) -> Row3 {
  let b = src[start + j];
  var a = vec4f(0.0);
  var c = vec4f(0.0);
  if (j > 0u) { a = src[start + j - 1u]; }
  if (j + 1u < IW4) { c = src[start + j + 1u]; }
  return Row3(vec4f(a.w, b.xyz), b, vec4f(b.yzw, c.x));
}

fn row3u(start: u32, j: u32) -> Row3u {
  let b = argmax_in[start + j];
  var a = vec4u(UNSET);
  var c = vec4u(UNSET);
  if (j > 0u) { a = argmax_in[start + j - 1u]; }
  if (j + 1u < IW4) { c = argmax_in[start + j + 1u]; }
  return Row3u(vec4u(a.w, b.xyz), b, vec4u(b.yzw, c.x));
}

// Divisors of the windows centred on (oy, col) for four columns.
fn divisor4(oy: u32, col: vec4u) -> vec4f {
  if (INCLUDE_PAD) {
    return vec4f(9.0);
  }
  let rows = 3u - select(0u, 1u, oy == 0u) - select(0u, 1u, oy + 1u == IH);
  let one = vec4f(1.0);
  let zero = vec4f(0.0);
  let cols = 3.0 - select(zero, one, col == vec4u(0u)) - select(zero, one, col == vec4u(IW - 1u));
  return f32(rows) * cols;
}

fn columns(j: u32) -> vec4u {
  return vec4u(0u, 1u, 2u, 3u) + 4u * j;
}

// Invocation q of the pool3 kernels: column group j (columns 4j..4j+3) of a strip of ROWS output
// rows of one plane. Each input row is loaded once per strip (plus one row above and below it),
// not once for each of the three outputs whose windows cover it: the rows' values roll through
// `above`, `centre` and `below`, and every output adds them in the same order as one invocation
// per output would (bit-identical, ≈ 2× faster on lavapipe).
override ROWS: u32 = 1u;

struct Strip {
  plane: u32,
  first: u32, // first output row
  j: u32,
}

fn strip4(q: u32) -> Strip {
  let t = q / IW4;
  let strips = IH / ROWS;
  return Strip(t / strips, (t % strips) * ROWS, q - t * IW4);
}

fn strip_count() -> u32 {
  return N * C * (IH / ROWS) * IW4;
}

struct Best {
  value: vec4f,
  index: vec4u,
}

// The same rule as maxpool_forward, four lanes at once.
fn consider(best: Best, v: vec4f, index: vec4u, valid: vec4<bool>) -> Best {
  let take = valid & ((best.index == vec4u(UNSET)) | (v > best.value) | (v != v));
  return Best(select(best.value, v, take), select(best.index, index, take));
}

fn consider_row(best: Best, r: Row3, iy: u32, j: u32) -> Best {
  let p = iy * IW + columns(j);
  var b = consider(best, r.left, p - 1u, left_valid(j));
  b = consider(b, r.centre, p, vec4<bool>(true));
  return consider(b, r.right, p + 1u, right_valid(j));
}

@compute @workgroup_size(WG)
fn pool3_max_forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                     @builtin(num_workgroups) nwg: vec3u) {
  let q = thread_index(wid, lid, nwg);
  if (q >= strip_count()) { return; }
  let at = strip4(q);
  var above = Row3(vec4f(0.0), vec4f(0.0), vec4f(0.0));
  if (at.first > 0u) { above = row3(row_start(at.plane, at.first - 1u), at.j); }
  var centre = row3(row_start(at.plane, at.first), at.j);
  for (var k = 0u; k < ROWS; k++) {
    let row = at.first + k;
    var below = Row3(vec4f(0.0), vec4f(0.0), vec4f(0.0));
    if (row + 1u < IH) { below = row3(row_start(at.plane, row + 1u), at.j); }
    var best = Best(vec4f(0.0), vec4u(UNSET));
    if (row > 0u) { best = consider_row(best, above, row - 1u, at.j); }
    best = consider_row(best, centre, row, at.j);
    if (row + 1u < IH) { best = consider_row(best, below, row + 1u, at.j); }
    let o = row_start(at.plane, row) + at.j;
    store(o, best.value);
    argmax_out[o] = best.index;
    above = centre;
    centre = below;
  }
}

// One input row of dy and of the argmax: dy at the window outputs around columns 4j..4j+3.
struct GradRow {
  dy: Row3,
  arg: Row3u,
}

fn grad_row(plane: u32, oy: u32, j: u32) -> GradRow {
  let start = row_start(plane, oy);
  return GradRow(row3(start, j), row3u(start, j));
}

fn routed(grad: vec4f, r: GradRow, p: vec4u) -> vec4f {
  var g = grad + select(vec4f(0.0), r.dy.left, r.arg.left == p);
  g += select(vec4f(0.0), r.dy.centre, r.arg.centre == p);
  return g + select(vec4f(0.0), r.dy.right, r.arg.right == p);
}

@compute @workgroup_size(WG)
fn pool3_max_backward(@builtin(workgroup_id) wid: vec3u,
                      @builtin(local_invocation_index) lid: u32,
                      @builtin(num_workgroups) nwg: vec3u) {
  let q = thread_index(wid, lid, nwg);
  if (q >= strip_count()) { return; }
  let at = strip4(q);
  let unset = vec4u(UNSET);
  let none = GradRow(Row3(vec4f(0.0), vec4f(0.0), vec4f(0.0)), Row3u(unset, unset, unset));
  var above = none;
  if (at.first > 0u) { above = grad_row(at.plane, at.first - 1u, at.j); }
  var centre = grad_row(at.plane, at.first, at.j);
  for (var k = 0u; k < ROWS; k++) {
    let row = at.first + k;
    var below = none;
    if (row + 1u < IH) { below = grad_row(at.plane, row + 1u, at.j); }
    let p = row * IW + columns(at.j);
    var grad = vec4f(0.0);
    if (row > 0u) { grad = routed(grad, above, p); }
    grad = routed(grad, centre, p);
    if (row + 1u < IH) { grad = routed(grad, below, p); }
    store(row_start(at.plane, row) + at.j, grad);
    above = centre;
    centre = below;
  }
}

fn row_sum(plane: u32, iy: u32, j: u32) -> vec4f {
  let r = row3(row_start(plane, iy), j);
  return r.left + r.centre + r.right; // out-of-bounds neighbours read as 0
}

@compute @workgroup_size(WG)
fn pool3_avg_forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                     @builtin(num_workgroups) nwg: vec3u) {
  let q = thread_index(wid, lid, nwg);
  if (q >= strip_count()) { return; }
  let at = strip4(q);
  var above = vec4f(0.0);
  if (at.first > 0u) { above = row_sum(at.plane, at.first - 1u, at.j); }
  var centre = row_sum(at.plane, at.first, at.j);
  for (var k = 0u; k < ROWS; k++) {
    let row = at.first + k;
    var below = vec4f(0.0);
    if (row + 1u < IH) { below = row_sum(at.plane, row + 1u, at.j); }
    var sum = vec4f(0.0);
    if (row > 0u) { sum += above; }
    sum += centre;
    if (row + 1u < IH) { sum += below; }
    store(row_start(at.plane, row) + at.j, sum / divisor4(row, columns(at.j)));
    above = centre;
    centre = below;
  }
}

// Input row oy's three terms of dx (dy / divisor of each covering window), added in order.
fn avg_terms(plane: u32, oy: u32, j: u32) -> Row3 {
  let col = columns(j);
  let g = row3(row_start(plane, oy), j);
  return Row3(
    select(vec4f(0.0), g.left / divisor4(oy, col - 1u), left_valid(j)),
    g.centre / divisor4(oy, col),
    select(vec4f(0.0), g.right / divisor4(oy, col + 1u), right_valid(j)),
  );
}

fn add_terms(grad: vec4f, t: Row3) -> vec4f {
  var g = grad + t.left;
  g += t.centre;
  return g + t.right;
}

// dx = Σ over the covering windows of dy / divisor(window), windows in row-major order.
@compute @workgroup_size(WG)
fn pool3_avg_backward(@builtin(workgroup_id) wid: vec3u,
                      @builtin(local_invocation_index) lid: u32,
                      @builtin(num_workgroups) nwg: vec3u) {
  let q = thread_index(wid, lid, nwg);
  if (q >= strip_count()) { return; }
  let at = strip4(q);
  let zero = Row3(vec4f(0.0), vec4f(0.0), vec4f(0.0));
  var above = zero;
  if (at.first > 0u) { above = avg_terms(at.plane, at.first - 1u, at.j); }
  var centre = avg_terms(at.plane, at.first, at.j);
  for (var k = 0u; k < ROWS; k++) {
    let row = at.first + k;
    var below = zero;
    if (row + 1u < IH) { below = avg_terms(at.plane, row + 1u, at.j); }
    var grad = vec4f(0.0);
    if (row > 0u) { grad = add_terms(grad, above); }
    grad = add_terms(grad, centre);
    if (row + 1u < IH) { grad = add_terms(grad, below); }
    store(row_start(at.plane, row) + at.j, grad);
    above = centre;
    centre = below;
  }
}

// ---- 2×2 stride 2 pad 0, four output columns per invocation -------------------------------------

// Needs IW % 8 == 0 and IH even: every input lies in exactly one window, and output row oy's
// columns 4j..4j+3 read input columns 8j..8j+7 of rows 2·oy and 2·oy + 1 (two vec4s each). The
// backward kernels run per output quad too and write those 16 inputs.
override OW4: u32 = OW / 4u;

// The four window corners of output columns 4j..4j+3, each as a vec4 over the four windows.
struct Windows2 {
  top_left: vec4f,
  top_right: vec4f,
  bottom_left: vec4f,
  bottom_right: vec4f,
}

// Index, in vec4s, of input column 8j on the top row of output row `oy` of `plane`.
fn window2_start(plane: u32, oy: u32, j: u32) -> u32 {
  return (plane * IH + 2u * oy) * IW4 + 2u * j;
}

fn windows2(top: u32) -> Windows2 {
  let a = src[top];
  let b = src[top + 1u];
  let c = src[top + IW4];
  let d = src[top + IW4 + 1u];
  return Windows2(
    vec4f(a.x, a.z, b.x, b.z),
    vec4f(a.y, a.w, b.y, b.w),
    vec4f(c.x, c.z, d.x, d.z),
    vec4f(c.y, c.w, d.y, d.w),
  );
}

struct Quad {
  plane: u32,
  row: u32,
  j: u32,
}

// Invocation q: plane, output row and output column group j.
fn split_out4(q: u32) -> Quad {
  let at = split(q, OH, OW4);
  return Quad(at.x, at.y, at.z);
}

// Stores per-window values `left`/`right` (the window's left/right input column) of one input
// row: input columns 8j..8j+3, then 8j+4..8j+7.
fn store_row2(start: u32, left: vec4f, right: vec4f) {
  store(start, vec4f(left.x, right.x, left.y, right.y));
  store(start + 1u, vec4f(left.z, right.z, left.w, right.w));
}

@compute @workgroup_size(WG)
fn pool2_max_forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                     @builtin(num_workgroups) nwg: vec3u) {
  let q = thread_index(wid, lid, nwg);
  if (q >= N * C * OH * OW4) { return; }
  let at = split_out4(q);
  let w = windows2(window2_start(at.plane, at.row, at.j));
  // Input position of each window's top-left corner: row 2·oy, column 8j + 2i.
  let p = 2u * at.row * IW + 2u * columns(at.j);
  let all = vec4<bool>(true);
  var best = Best(vec4f(0.0), vec4u(UNSET));
  best = consider(best, w.top_left, p, all);
  best = consider(best, w.top_right, p + 1u, all);
  best = consider(best, w.bottom_left, p + IW, all);
  best = consider(best, w.bottom_right, p + IW + 1u, all);
  store(q, best.value);
  argmax_out[q] = best.index;
}

@compute @workgroup_size(WG)
fn pool2_max_backward(@builtin(workgroup_id) wid: vec3u,
                      @builtin(local_invocation_index) lid: u32,
                      @builtin(num_workgroups) nwg: vec3u) {
  let q = thread_index(wid, lid, nwg);
  if (q >= N * C * OH * OW4) { return; }
  let at = split_out4(q);
  let g = src[q];
  let a = argmax_in[q];
  let p = 2u * at.row * IW + 2u * columns(at.j);
  let zero = vec4f(0.0);
  let top = window2_start(at.plane, at.row, at.j);
  store_row2(top, select(zero, g, a == p), select(zero, g, a == p + 1u));
  store_row2(top + IW4, select(zero, g, a == p + IW), select(zero, g, a == p + IW + 1u));
}

@compute @workgroup_size(WG)
fn pool2_avg_forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                     @builtin(num_workgroups) nwg: vec3u) {
  let q = thread_index(wid, lid, nwg);
  if (q >= N * C * OH * OW4) { return; }
  let at = split_out4(q);
  let w = windows2(window2_start(at.plane, at.row, at.j));
  // Row-major order, as avgpool_forward adds them; no padding, so the divisor is 4 either way.
  store(q, (((w.top_left + w.top_right) + w.bottom_left) + w.bottom_right) / 4.0);
}

@compute @workgroup_size(WG)
fn pool2_avg_backward(@builtin(workgroup_id) wid: vec3u,
                      @builtin(local_invocation_index) lid: u32,
                      @builtin(num_workgroups) nwg: vec3u) {
  let q = thread_index(wid, lid, nwg);
  if (q >= N * C * OH * OW4) { return; }
  let at = split_out4(q);
  let g = src[q] / 4.0;
  let top = window2_start(at.plane, at.row, at.j);
  store_row2(top, g, g);
  store_row2(top + IW4, g, g);
}
#endif
