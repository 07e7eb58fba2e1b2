// Batch normalisation over NCHW f32 tensors, seen as [N][C][S] with S = H·W, plus fused ReLU.
// Every pass is one launch of one workgroup per channel (C groups; channel c = group index):
//
// Forward (train):  bn_train  mean and biased variance in one pass over the channel (shifted
//                   Welford per invocation, Chan's merge across the workgroup), mean/invstd (and,
//                   TRACKED, running stats) saved by invocation 0, then y (= or +=)
//                   act(γ·(x−mean)·invstd + β) over the same channel.
// Forward (eval):   bn_eval  y (= or +=) act(γ·(x−running mean)/sqrt(running var + eps) + β).
// Backward (train): bn_backward  Σdy', Σdy'·x̂ (dy' = dy through the ReLU mask) by a workgroup
//                   reduction, then dx = a·dy' + b·(x−mean) + k over the same channel, and dγ/dβ.
//                   The affine kernel binds 9 storage buffers; for devices that allow fewer, the
//                   split pair bn_backward_reduce (coefficients, COEFFS floats per channel) plus
//                   bn_backward_dx (elementwise, grid-stride dx, then dγ/dβ) keeps each kernel ≤ 7.
// The source is generated (src/gpu/wgsl.ts) at two widths: elements of vec4f (needs S % 4 == 0;
// lavapipe runs them about twice as fast) or of f32, the scalar fallback;
// and with or without AFFINE: γ/β read, or γ = 1, β = 0 (and no γ, β, dγ, dβ bindings); plain
// kernels also with RESIDUAL (train forward adds a residual input, backward writes its gradient,
// dy: a skip connection fused into the batch norm that it is summed with). Within a
// channel, invocation `lid` takes elements lid, lid + WG, …; reductions combine those partial
// results in a fixed tree: deterministic for a given WG.
//
// The early returns `c >= C` in the entry points are uniform: a whole workgroup leaves together.

override WG: u32 = 256; // power of two
override N: u32;
override C: u32;
override S: u32;
override EPS: f32 = 1e-5;
override MOMENTUM: f32 = 0.1;
override RELU: bool = false;
override TRACKED: bool = false;
override INPUT_GRAD: bool = true;
override ACCUMULATE: bool = false;
override ACCUMULATE_PARAMS: bool = false;

// Elements per channel and in all; S, M and TOTAL counted in elements of the width (SW, MW,
// TOTALW).
override M: u32 = N * S;
override TOTAL: u32 = N * C * S;
override SW: u32 = S / $W;
override MW: u32 = M / $W;
override TOTALW: u32 = TOTAL / $W;

// Per-channel backward coefficients of the split path: scale = γ·invstd, β, mean, slope of
// (x − mean), offset, Σdy', Σdy'·x̂, unused.
const COEFFS: u32 = 8u;

var<workgroup> partial: array<vec2f, WG>;

#include "index"

// Flat index of the k-th element (k < MW) of channel c.
fn channel_element(c: u32, k: u32) -> u32 {
  let n = k / SW;
  return (n * C + c) * SW + (k - n * SW);
}

fn channel_of(i: u32) -> u32 {
  return (i / SW) % C;
}

// Sum of `v` over the workgroup, returned to every invocation.
fn workgroup_sum(lid: u32, v: vec2f) -> vec2f {
  partial[lid] = v;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half >>= 1u) {
    if (lid < half) {
      partial[lid] += partial[lid + half];
    }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}

fn activation(z: $T) -> $T {
  if (RELU) {
    return max(z, $T(0.0));
  }
  return z;
}

// (γ, β) of channel c, or (1, 0) without AFFINE.
fn affine_params(c: u32) -> vec2f {
#if AFFINE
  return vec2f(gamma[c], beta[c]);
#else
  return vec2f(1.0, 0.0);
#endif
}

// ---- forward: one workgroup per channel -------------------------------------------------------

// Bindings: 0 x, 1 y, 2 mean, 3 invstd (train), 4 γ, 5 β (AFFINE), 6 running mean, 7 running
// variance (eval, and train with TRACKED).
@group(0) @binding(0) var<storage, read> x: array<$T>;
@group(0) @binding(1) var<storage, read_write> dst: array<$T>;
@group(0) @binding(2) var<storage, read_write> mean_out: array<f32>;
@group(0) @binding(3) var<storage, read_write> invstd_out: array<f32>;
#if AFFINE
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
@group(0) @binding(5) var<storage, read> beta: array<f32>;
#endif
#if RESIDUAL
// Plain train forward only: y = (act(x̂) (+ y)) + residual (a skip connection summed in).
@group(0) @binding(4) var<storage, read> residual: array<$T>;
#endif
@group(0) @binding(6) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(7) var<storage, read_write> running_var: array<f32>;

#include "store"

// Statistics in one pass. Each invocation runs Welford's update over its strided elements (per
// vec4 lane: four streams) for M2 = Σ(x − mean)², on values shifted by the channel's first
// element so that a mean far from zero (relative to the spread) costs the variance no precision;
// Chan's merge combines the (count, mean, M2) of vec4 lanes, then of the workgroup in a tree.
// The mean comes from plain sums carried alongside, of x and of x − shift: the first is exact
// near zero, the second far from it, and the one whose partial sums stay smaller is taken
// (PyTorch accumulates in f64; Welford's running mean, an ulp or two of the shift off, is enough
// to move the 5-step PyTorch proxy golden by 3e-3).
struct Moments {
  count: f32,
  mean: f32, // of x − shift
  m2: f32,
  sums: vec2f, // Σx, Σ(x − shift)
}

var<workgroup> moments: array<Moments, WG>;

// The moments of the union of two disjoint sets.
fn merge_moments(a: Moments, b: Moments) -> Moments {
  if (b.count == 0.0) {
    return a;
  }
  let n = a.count + b.count;
  let delta = b.mean - a.mean;
  let w = b.count / n;
  return Moments(n, a.mean + delta * w, a.m2 + b.m2 + delta * delta * a.count * w, a.sums + b.sums);
}

#if VEC4
fn first_lane(v: vec4f) -> f32 {
  return v.x;
}

fn horizontal_sum(v: vec4f) -> f32 {
  return (v.x + v.y) + (v.z + v.w);
}

fn mean_step(delta: vec4f, count: f32) -> vec4f {
  return delta * (1.0 / count);
}

// One invocation's moments from its four lane streams.
fn lane_moments(count: f32, mean: vec4f, m2: vec4f, sum: vec4f, shifted: vec4f) -> Moments {
  let lane_x = Moments(count, mean.x, m2.x, vec2f(sum.x, shifted.x));
  let lane_y = Moments(count, mean.y, m2.y, vec2f(sum.y, shifted.y));
  let lane_z = Moments(count, mean.z, m2.z, vec2f(sum.z, shifted.z));
  let lane_w = Moments(count, mean.w, m2.w, vec2f(sum.w, shifted.w));
  return merge_moments(merge_moments(lane_x, lane_y), merge_moments(lane_z, lane_w));
}
#else
fn first_lane(v: f32) -> f32 {
  return v;
}

fn horizontal_sum(v: f32) -> f32 {
  return v;
}

fn mean_step(delta: f32, count: f32) -> f32 {
  return delta / count;
}

fn lane_moments(count: f32, mean: f32, m2: f32, sum: f32, shifted: f32) -> Moments {
  return Moments(count, mean, m2, vec2f(sum, shifted));
}
#endif

// Batch mean and biased variance of channel c from this invocation's moments, the same in every
// invocation.
fn workgroup_statistics(lid: u32, shift: f32, m: Moments) -> vec2f {
  moments[lid] = m;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half >>= 1u) {
    if (lid < half) {
      moments[lid] = merge_moments(moments[lid], moments[lid + half]);
    }
    workgroupBarrier();
  }
  let total = moments[0];
  let mean = total.sums.x / f32(M);
  let shifted = shift + total.sums.y / f32(M);
  return vec2f(select(mean, shifted, 2.0 * abs(mean - shift) < abs(mean)), total.m2 / f32(M));
}

fn statistics(c: u32, lid: u32) -> vec2f {
  let shift = first_lane(x[channel_element(c, 0u)]);
  var count = 0.0;
  var mean = $T(0.0);
  var m2 = $T(0.0);
  var sum = $T(0.0);
  var sum_shifted = $T(0.0);
  for (var k = lid; k < MW; k += WG) {
    let value = x[channel_element(c, k)];
    let v = value - shift;
    count += 1.0;
    let delta = v - mean;
    mean += mean_step(delta, count);
    m2 += delta * (v - mean);
    sum += value;
    sum_shifted += v;
  }
  return workgroup_statistics(lid, shift, lane_moments(count, mean, m2, sum, sum_shifted));
}

// Saves mean and invstd of channel c from its statistics, then writes y over the channel.
fn normalise_channel(c: u32, lid: u32, stats: vec2f, g: f32, b: f32) {
  let invstd = 1.0 / sqrt(stats.y + EPS);
  if (lid == 0u) {
    mean_out[c] = stats.x;
    invstd_out[c] = invstd;
  }
  let scale = g * invstd;
  for (var k = lid; k < MW; k += WG) {
    let i = channel_element(c, k);
#if RESIDUAL
    // After the accumulation: the sum rounds as a separate add of the residual would.
    var v = activation((x[i] - stats.x) * scale + b);
    if (ACCUMULATE) { v += dst[i]; }
    dst[i] = v + residual[i];
#else
    store(i, activation((x[i] - stats.x) * scale + b));
#endif
  }
}

// PyTorch's rule: running = (1 − MOMENTUM)·running + MOMENTUM·batch, unbiased variance.
fn update_running(c: u32, lid: u32, stats: vec2f) {
  if (lid == 0u) {
    let unbiased = stats.y * f32(M) / f32(max(M, 2u) - 1u);
    let old = vec2f(running_mean[c], running_var[c]);
    let r = (1.0 - MOMENTUM) * old + MOMENTUM * vec2f(stats.x, unbiased);
    running_mean[c] = r.x;
    running_var[c] = r.y;
  }
}

@compute @workgroup_size(WG)
fn bn_train(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
            @builtin(num_workgroups) nwg: vec3u) {
  let c = group_index(wid, nwg);
  if (c >= C) { return; }
  let stats = statistics(c, lid);
  let p = affine_params(c);
  normalise_channel(c, lid, stats, p.x, p.y);
  if (TRACKED) {
    update_running(c, lid, stats);
  }
}

// act(γ·(x − running mean)/sqrt(running var + eps) + β) over channel c.
@compute @workgroup_size(WG)
fn bn_eval(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
           @builtin(num_workgroups) nwg: vec3u) {
  let c = group_index(wid, nwg);
  if (c >= C) { return; }
  let p = affine_params(c);
  let mean = running_mean[c];
  let scale = p.x / sqrt(running_var[c] + EPS);
  for (var k = lid; k < MW; k += WG) {
    let i = channel_element(c, k);
    store(i, activation((x[i] - mean) * scale + p.y));
  }
}

// ---- train backward: one workgroup per channel -----------------------------------------------

// Bindings of the one-launch kernel: 0 x, 1 dy, 2 dx (INPUT_GRAD), 3 mean, 4 invstd, then
// (AFFINE) 5 γ, 6 β, 7 dγ, 8 dβ.
@group(0) @binding(1) var<storage, read> dy: array<$T>;
@group(0) @binding(2) var<storage, read_write> dx: array<$T>;
@group(0) @binding(3) var<storage, read> saved_mean: array<f32>;
@group(0) @binding(4) var<storage, read> saved_invstd: array<f32>;
#if AFFINE
@group(0) @binding(5) var<storage, read> gamma_in: array<f32>;
@group(0) @binding(6) var<storage, read> beta_in: array<f32>;
@group(0) @binding(7) var<storage, read_write> dgamma_out: array<f32>;
@group(0) @binding(8) var<storage, read_write> dbeta_out: array<f32>;
#endif
#if RESIDUAL
// Plain backward only: the gradient of the forward's residual, dy itself (= or +=).
@group(0) @binding(5) var<storage, read_write> dresidual: array<$T>;
override ACCUMULATE_RESIDUAL: bool = false;
#endif

// dy through the ReLU, whose mask z > 0 is recomputed exactly as the forward computes z.
fn masked_grad(grad: $T, centred: $T, scale: f32, b: f32) -> $T {
  if (RELU) {
    return select($T(0.0), grad, centred * scale + b > $T(0.0));
  }
  return grad;
}

// This invocation's (Σdy', Σdy'·(x − mean)) over channel c.
fn partial_grad_sums(c: u32, lid: u32, mean: f32, scale: f32, b: f32) -> vec2f {
  var grads = $T(0.0);
  var products = $T(0.0);
  for (var k = lid; k < MW; k += WG) {
    let i = channel_element(c, k);
    let centred = x[i] - mean;
    let grad = masked_grad(dy[i], centred, scale, b);
    grads += grad;
    products += grad * centred;
  }
  return vec2f(horizontal_sum(grads), horizontal_sum(products));
}

// What dx needs of channel c: dx = scale·dy' + slope·(x − mean) + offset.
struct Coefficients {
  mean: f32,
  scale: f32, // γ·invstd
  b: f32, // β
  slope: f32,
  offset: f32,
  sum_grad: f32, // Σdy' = dβ
  sum_grad_xhat: f32, // Σdy'·x̂ = dγ
}

// `totals` are the workgroup's (Σdy', Σdy'·(x − mean)).
fn coefficients(mean: f32, invstd: f32, scale: f32, b: f32, totals: vec2f) -> Coefficients {
  let sum_grad_xhat = totals.y * invstd;
  return Coefficients(
    mean,
    scale,
    b,
    -scale * invstd * sum_grad_xhat / f32(M),
    -scale * totals.x / f32(M),
    totals.x,
    sum_grad_xhat,
  );
}

fn input_grad(v: $T, grad: $T, k: Coefficients) -> $T {
  let centred = v - k.mean;
  return k.scale * masked_grad(grad, centred, k.scale, k.b) + k.slope * centred + k.offset;
}

fn store_input_grad(i: u32, value: $T) {
  var g = value;
  if (ACCUMULATE) {
    g += dx[i];
  }
  dx[i] = g;
}

fn channel_input_grads(c: u32, lid: u32, k: Coefficients) {
  for (var j = lid; j < MW; j += WG) {
    let i = channel_element(c, j);
#if RESIDUAL
    let grad = dy[i];
    store_input_grad(i, input_grad(x[i], grad, k));
    var r = grad;
    if (ACCUMULATE_RESIDUAL) { r += dresidual[i]; }
    dresidual[i] = r;
#else
    store_input_grad(i, input_grad(x[i], dy[i], k));
#endif
  }
}

fn channel_coefficients(c: u32, lid: u32, g: f32, b: f32) -> Coefficients {
  let mean = saved_mean[c];
  let invstd = saved_invstd[c];
  let scale = g * invstd;
  let totals = workgroup_sum(lid, partial_grad_sums(c, lid, mean, scale, b));
  return coefficients(mean, invstd, scale, b, totals);
}

#if AFFINE
fn store_param_grads(c: u32, lid: u32, k: Coefficients) {
  if (lid == 0u) {
    var dg = k.sum_grad_xhat;
    var db = k.sum_grad;
    if (ACCUMULATE_PARAMS) {
      dg += dgamma_out[c];
      db += dbeta_out[c];
    }
    dgamma_out[c] = dg;
    dbeta_out[c] = db;
  }
}
#endif

@compute @workgroup_size(WG)
fn bn_backward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
               @builtin(num_workgroups) nwg: vec3u) {
  let c = group_index(wid, nwg);
  if (c >= C) { return; }
#if AFFINE
  let k = channel_coefficients(c, lid, gamma_in[c], beta_in[c]);
#else
  let k = channel_coefficients(c, lid, 1.0, 0.0);
#endif
  if (INPUT_GRAD) {
    channel_input_grads(c, lid, k);
  }
#if AFFINE
  store_param_grads(c, lid, k);
#endif
}

#if AFFINE
// ---- affine backward, split in two launches (devices with fewer than 9 storage buffers) -------

// Reduce: 0 x, 1 dy, 2 mean, 3 invstd, 4 coefficients (out), 5 γ, 6 β.
@group(0) @binding(2) var<storage, read> split_mean: array<f32>;
@group(0) @binding(3) var<storage, read> split_invstd: array<f32>;
@group(0) @binding(4) var<storage, read_write> coeffs_out: array<f32>;

fn write_coefficients(c: u32, lid: u32, totals: vec2f) {
  if (lid == 0u) {
    let mean = split_mean[c];
    let g = gamma_in[c];
    let b = beta_in[c];
    let invstd = split_invstd[c];
    let k = coefficients(mean, invstd, g * invstd, b, totals);
    let base = c * COEFFS;
    coeffs_out[base] = k.scale;
    coeffs_out[base + 1u] = k.b;
    coeffs_out[base + 2u] = k.mean;
    coeffs_out[base + 3u] = k.slope;
    coeffs_out[base + 4u] = k.offset;
    coeffs_out[base + 5u] = k.sum_grad;
    coeffs_out[base + 6u] = k.sum_grad_xhat;
    coeffs_out[base + 7u] = 0.0;
  }
}

@compute @workgroup_size(WG)
fn bn_backward_reduce(@builtin(workgroup_id) wid: vec3u,
                      @builtin(local_invocation_index) lid: u32,
                      @builtin(num_workgroups) nwg: vec3u) {
  let c = group_index(wid, nwg);
  if (c >= C) { return; }
  let scale = gamma_in[c] * split_invstd[c];
  let sums = partial_grad_sums(c, lid, split_mean[c], scale, beta_in[c]);
  write_coefficients(c, lid, workgroup_sum(lid, sums));
}

// dx: 0 x, 1 dy, 2 dx (INPUT_GRAD), 3 coefficients, 4 dγ, 5 dβ.
@group(0) @binding(3) var<storage, read> coeffs: array<f32>;
@group(0) @binding(4) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(5) var<storage, read_write> dbeta: array<f32>;

fn stored_coefficients(c: u32) -> Coefficients {
  let base = c * COEFFS;
  return Coefficients(
    coeffs[base + 2u],
    coeffs[base],
    coeffs[base + 1u],
    coeffs[base + 3u],
    coeffs[base + 4u],
    coeffs[base + 5u],
    coeffs[base + 6u],
  );
}

// dγ = Σdy'·x̂ and dβ = Σdy' come from the reduce pass.
fn param_grads(wid: vec3u, lid: u32, nwg: vec3u) {
  for (var c = thread_index(wid, lid, nwg); c < C; c += thread_count(nwg)) {
    var dg = coeffs[c * COEFFS + 6u];
    var db = coeffs[c * COEFFS + 5u];
    if (ACCUMULATE_PARAMS) {
      dg += dgamma[c];
      db += dbeta[c];
    }
    dgamma[c] = dg;
    dbeta[c] = db;
  }
}

@compute @workgroup_size(WG)
fn bn_backward_dx(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                  @builtin(num_workgroups) nwg: vec3u) {
  if (INPUT_GRAD) {
    for (var i = thread_index(wid, lid, nwg); i < TOTALW; i += thread_count(nwg)) {
      store_input_grad(i, input_grad(x[i], dy[i], stored_coefficients(channel_of(i))));
    }
  }
  param_grads(wid, lid, nwg);
}
#endif
