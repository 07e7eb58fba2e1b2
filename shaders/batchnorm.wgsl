// Batch normalisation over NCHW f32 tensors, seen as [N][C][S] with S = H·W, plus fused ReLU.
// Every pass is one launch of one workgroup per channel (C groups; channel c = group index):
//
// Forward (train):  bn_train*  mean and biased variance in one pass over the channel (shifted
//                   Welford per invocation, Chan's merge across the workgroup), mean/invstd (and
//                   running stats) saved by invocation 0, then y (= or +=) act(γ·(x−mean)·invstd
//                   + β) over the same channel.
// Forward (eval):   bn_eval*  y (= or +=) act(γ·(x−running mean)/sqrt(running var + eps) + β).
// Backward (train): bn_backward*  Σdy', Σdy'·x̂ (dy' = dy through the ReLU mask) by a workgroup
//                   reduction, then dx = a·dy' + b·(x−mean) + k over the same channel, and dγ/dβ.
//                   The affine kernel binds 9 storage buffers; for devices that allow fewer, the
//                   split pair bn_backward_reduce_affine* (coefficients, COEFFS floats per channel)
//                   plus bn_backward_dx_affine* (elementwise, grid-stride dx, then dγ/dβ) keeps
//                   each kernel ≤ 7.
// Entry points come in pairs: `*_vec4` reads and writes vec4s (needs S % 4 == 0; lavapipe runs
// them about twice as fast), the plain name is the scalar fallback. `*_affine` reads γ/β, the
// others act as γ = 1, β = 0. Within a channel, invocation `lid` takes elements lid, lid + WG, …;
// reductions combine those partial results in a fixed tree: deterministic for a given WG.
//
// The early returns `c >= C` in the entry points are uniform: a whole workgroup leaves together.

override WG: u32 = 256; // power of two
override N: u32;
override C: u32;
override S: u32;
override EPS: f32 = 1e-5;
override MOMENTUM: f32 = 0.1;
override RELU: bool = false;
override ACCUMULATE: bool = false;
override ACCUMULATE_PARAMS: bool = false;

// Elements per channel and in all; the same counted in vec4s (vec4 entry points only).
override M: u32 = N * S;
override TOTAL: u32 = N * C * S;
override S4: u32 = S / 4u;
override M4: u32 = M / 4u;
override TOTAL4: u32 = TOTAL / 4u;

// Per-channel backward coefficients of the split path: scale = γ·invstd, β, mean, slope of
// (x − mean), offset, Σdy', Σdy'·x̂, unused.
const COEFFS: u32 = 8u;

var<workgroup> partial: array<vec2f, WG>;

fn group_index(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.x + wid.y * nwg.x;
}

fn thread_index(wid: vec3u, lid: u32, nwg: vec3u) -> u32 {
  return group_index(wid, nwg) * WG + lid;
}

fn thread_count(nwg: vec3u) -> u32 {
  return nwg.x * nwg.y * WG;
}

// Flat index of the k-th element (k < M) of channel c; the same for vec4 k < M4.
fn channel_element(c: u32, k: u32) -> u32 {
  let n = k / S;
  return (n * C + c) * S + (k - n * S);
}

fn channel_element4(c: u32, k: u32) -> u32 {
  let n = k / S4;
  return (n * C + c) * S4 + (k - n * S4);
}

fn channel_of(i: u32) -> u32 {
  return (i / S) % C;
}

fn channel_of4(i: u32) -> u32 {
  return (i / S4) % C;
}

fn horizontal_sum(v: vec4f) -> f32 {
  return (v.x + v.y) + (v.z + v.w);
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

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(0) var<storage, read> x4: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read_write> y4: array<vec4f>;
// γ and β of the forward kernels (train and eval).
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
@group(0) @binding(5) var<storage, read> beta: array<f32>;

fn store_y(i: u32, value: f32) {
  var v = value;
  if (ACCUMULATE) {
    v += y[i];
  }
  y[i] = v;
}

fn store_y4(i: u32, value: vec4f) {
  var v = value;
  if (ACCUMULATE) {
    v += y4[i];
  }
  y4[i] = v;
}

fn activation(z: vec4f) -> vec4f {
  if (RELU) {
    return max(z, vec4f(0.0));
  }
  return z;
}

// ---- train forward: one workgroup per channel ------------------------------------------------

// Bindings: 0 x, 1 y, 2 mean, 3 invstd, then γ, β (affine: 4, 5), then running mean and running
// variance (tracked: 4, 5 without affine, 6, 7 with).
@group(0) @binding(2) var<storage, read_write> mean_out: array<f32>;
@group(0) @binding(3) var<storage, read_write> invstd_out: array<f32>;
@group(0) @binding(4) var<storage, read_write> running_mean_plain: array<f32>;
@group(0) @binding(5) var<storage, read_write> running_var_plain: array<f32>;
@group(0) @binding(6) var<storage, read_write> running_mean_affine: array<f32>;
@group(0) @binding(7) var<storage, read_write> running_var_affine: array<f32>;

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
  let shift = x[channel_element(c, 0u)];
  var m = Moments(0.0, 0.0, 0.0, vec2f(0.0));
  for (var k = lid; k < M; k += WG) {
    let value = x[channel_element(c, k)];
    let v = value - shift;
    m.count += 1.0;
    let delta = v - m.mean;
    m.mean += delta / m.count;
    m.m2 += delta * (v - m.mean);
    m.sums += vec2f(value, v);
  }
  return workgroup_statistics(lid, shift, m);
}

fn statistics4(c: u32, lid: u32) -> vec2f {
  let shift = x4[channel_element4(c, 0u)].x;
  var count = 0.0;
  var mean = vec4f(0.0);
  var m2 = vec4f(0.0);
  var sum = vec4f(0.0);
  var sum_shifted = vec4f(0.0);
  for (var k = lid; k < M4; k += WG) {
    let value = x4[channel_element4(c, k)];
    let v = value - shift;
    count += 1.0;
    let delta = v - mean;
    mean += delta * (1.0 / count);
    m2 += delta * (v - mean);
    sum += value;
    sum_shifted += v;
  }
  let lane_x = Moments(count, mean.x, m2.x, vec2f(sum.x, sum_shifted.x));
  let lane_y = Moments(count, mean.y, m2.y, vec2f(sum.y, sum_shifted.y));
  let lane_z = Moments(count, mean.z, m2.z, vec2f(sum.z, sum_shifted.z));
  let lane_w = Moments(count, mean.w, m2.w, vec2f(sum.w, sum_shifted.w));
  let m = merge_moments(merge_moments(lane_x, lane_y), merge_moments(lane_z, lane_w));
  return workgroup_statistics(lid, shift, m);
}

// Saves mean and invstd of channel c from its statistics, then writes y over the channel.
fn normalise_channel(c: u32, lid: u32, stats: vec2f, g: f32, b: f32) {
  let invstd = 1.0 / sqrt(stats.y + EPS);
  if (lid == 0u) {
    mean_out[c] = stats.x;
    invstd_out[c] = invstd;
  }
  let scale = g * invstd;
  for (var k = lid; k < M; k += WG) {
    let i = channel_element(c, k);
    store_y(i, activation(vec4f((x[i] - stats.x) * scale + b)).x);
  }
}

fn normalise_channel4(c: u32, lid: u32, stats: vec2f, g: f32, b: f32) {
  let invstd = 1.0 / sqrt(stats.y + EPS);
  if (lid == 0u) {
    mean_out[c] = stats.x;
    invstd_out[c] = invstd;
  }
  let scale = g * invstd;
  for (var k = lid; k < M4; k += WG) {
    let i = channel_element4(c, k);
    store_y4(i, activation((x4[i] - stats.x) * scale + b));
  }
}

// PyTorch's rule: running = (1 − MOMENTUM)·running + MOMENTUM·batch, unbiased variance.
// `old` is (running mean, running variance); returns the updated pair.
fn updated_running(stats: vec2f, old: vec2f) -> vec2f {
  let unbiased = stats.y * f32(M) / f32(max(M, 2u) - 1u);
  return (1.0 - MOMENTUM) * old + MOMENTUM * vec2f(stats.x, unbiased);
}

fn update_running_plain(c: u32, lid: u32, stats: vec2f) {
  if (lid == 0u) {
    let r = updated_running(stats, vec2f(running_mean_plain[c], running_var_plain[c]));
    running_mean_plain[c] = r.x;
    running_var_plain[c] = r.y;
  }
}

fn update_running_affine(c: u32, lid: u32, stats: vec2f) {
  if (lid == 0u) {
    let r = updated_running(stats, vec2f(running_mean_affine[c], running_var_affine[c]));
    running_mean_affine[c] = r.x;
    running_var_affine[c] = r.y;
  }
}

@compute @workgroup_size(WG)
fn bn_train_plain(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                  @builtin(num_workgroups) nwg: vec3u) {
  let c = group_index(wid, nwg);
  if (c >= C) { return; }
  normalise_channel(c, lid, statistics(c, lid), 1.0, 0.0);
}

@compute @workgroup_size(WG)
fn bn_train_plain_vec4(@builtin(workgroup_id) wid: vec3u,
                       @builtin(local_invocation_index) lid: u32,
                       @builtin(num_workgroups) nwg: vec3u) {
  let c = group_index(wid, nwg);
  if (c >= C) { return; }
  normalise_channel4(c, lid, statistics4(c, lid), 1.0, 0.0);
}

@compute @workgroup_size(WG)
fn bn_train_plain_tracked(@builtin(workgroup_id) wid: vec3u,
                          @builtin(local_invocation_index) lid: u32,
                          @builtin(num_workgroups) nwg: vec3u) {
  let c = group_index(wid, nwg);
  if (c >= C) { return; }
  let stats = statistics(c, lid);
  normalise_channel(c, lid, stats, 1.0, 0.0);
  update_running_plain(c, lid, stats);
}

@compute @workgroup_size(WG)
fn bn_train_plain_tracked_vec4(@builtin(workgroup_id) wid: vec3u,
                               @builtin(local_invocation_index) lid: u32,
                               @builtin(num_workgroups) nwg: vec3u) {
  let c = group_index(wid, nwg);
  if (c >= C) { return; }
  let stats = statistics4(c, lid);
  normalise_channel4(c, lid, stats, 1.0, 0.0);
  update_running_plain(c, lid, stats);
}

@compute @workgroup_size(WG)
fn bn_train_affine(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                   @builtin(num_workgroups) nwg: vec3u) {
  let c = group_index(wid, nwg);
  if (c >= C) { return; }
  normalise_channel(c, lid, statistics(c, lid), gamma[c], beta[c]);
}

@compute @workgroup_size(WG)
fn bn_train_affine_vec4(@builtin(workgroup_id) wid: vec3u,
                        @builtin(local_invocation_index) lid: u32,
                        @builtin(num_workgroups) nwg: vec3u) {
  let c = group_index(wid, nwg);
  if (c >= C) { return; }
  normalise_channel4(c, lid, statistics4(c, lid), gamma[c], beta[c]);
}

@compute @workgroup_size(WG)
fn bn_train_affine_tracked(@builtin(workgroup_id) wid: vec3u,
                           @builtin(local_invocation_index) lid: u32,
                           @builtin(num_workgroups) nwg: vec3u) {
  let c = group_index(wid, nwg);
  if (c >= C) { return; }
  let stats = statistics(c, lid);
  normalise_channel(c, lid, stats, gamma[c], beta[c]);
  update_running_affine(c, lid, stats);
}

@compute @workgroup_size(WG)
fn bn_train_affine_tracked_vec4(@builtin(workgroup_id) wid: vec3u,
                                @builtin(local_invocation_index) lid: u32,
                                @builtin(num_workgroups) nwg: vec3u) {
  let c = group_index(wid, nwg);
  if (c >= C) { return; }
  let stats = statistics4(c, lid);
  normalise_channel4(c, lid, stats, gamma[c], beta[c]);
  update_running_affine(c, lid, stats);
}

// ---- eval forward: one workgroup per channel -------------------------------------------------

@group(0) @binding(2) var<storage, read> centre: array<f32>; // running mean
@group(0) @binding(3) var<storage, read> spread: array<f32>; // running variance

// act(γ·(x − running mean)/sqrt(running var + eps) + β) over channel c.
fn eval_channel(c: u32, lid: u32, g: f32, b: f32) {
  let mean = centre[c];
  let scale = g / sqrt(spread[c] + EPS);
  for (var k = lid; k < M; k += WG) {
    let i = channel_element(c, k);
    store_y(i, activation(vec4f((x[i] - mean) * scale + b)).x);
  }
}

fn eval_channel4(c: u32, lid: u32, g: f32, b: f32) {
  let mean = centre[c];
  let scale = g / sqrt(spread[c] + EPS);
  for (var k = lid; k < M4; k += WG) {
    let i = channel_element4(c, k);
    store_y4(i, activation((x4[i] - mean) * scale + b));
  }
}

@compute @workgroup_size(WG)
fn bn_eval_affine(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                  @builtin(num_workgroups) nwg: vec3u) {
  let c = group_index(wid, nwg);
  if (c >= C) { return; }
  eval_channel(c, lid, gamma[c], beta[c]);
}

@compute @workgroup_size(WG)
fn bn_eval_plain(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                 @builtin(num_workgroups) nwg: vec3u) {
  let c = group_index(wid, nwg);
  if (c >= C) { return; }
  eval_channel(c, lid, 1.0, 0.0);
}

@compute @workgroup_size(WG)
fn bn_eval_affine_vec4(@builtin(workgroup_id) wid: vec3u,
                       @builtin(local_invocation_index) lid: u32,
                       @builtin(num_workgroups) nwg: vec3u) {
  let c = group_index(wid, nwg);
  if (c >= C) { return; }
  eval_channel4(c, lid, gamma[c], beta[c]);
}

@compute @workgroup_size(WG)
fn bn_eval_plain_vec4(@builtin(workgroup_id) wid: vec3u,
                      @builtin(local_invocation_index) lid: u32,
                      @builtin(num_workgroups) nwg: vec3u) {
  let c = group_index(wid, nwg);
  if (c >= C) { return; }
  eval_channel4(c, lid, 1.0, 0.0);
}

// ---- train backward: one workgroup per channel -----------------------------------------------

// Bindings of the one-launch kernels: 0 x, 1 dy, 2 dx, 3 mean, 4 invstd, then (affine) 5 γ, 6 β,
// 7 dγ, 8 dβ.
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> dy4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx4: array<vec4f>;
@group(0) @binding(3) var<storage, read> saved_mean: array<f32>;
@group(0) @binding(4) var<storage, read> saved_invstd: array<f32>;
@group(0) @binding(5) var<storage, read> gamma_in: array<f32>;
@group(0) @binding(6) var<storage, read> beta_in: array<f32>;
@group(0) @binding(7) var<storage, read_write> dgamma_out: array<f32>;
@group(0) @binding(8) var<storage, read_write> dbeta_out: array<f32>;

// dy through the ReLU, whose mask z > 0 is recomputed exactly as the forward computes z.
fn masked_grad(grad: vec4f, centred: vec4f, scale: f32, b: f32) -> vec4f {
  if (RELU) {
    return select(vec4f(0.0), grad, centred * scale + b > vec4f(0.0));
  }
  return grad;
}

// This invocation's (Σdy', Σdy'·(x − mean)) over channel c.
fn partial_grad_sums(c: u32, lid: u32, mean: f32, scale: f32, b: f32) -> vec2f {
  var sums = vec2f(0.0);
  for (var k = lid; k < M; k += WG) {
    let i = channel_element(c, k);
    let centred = x[i] - mean;
    let grad = masked_grad(vec4f(dy[i]), vec4f(centred), scale, b).x;
    sums += vec2f(grad, grad * centred);
  }
  return sums;
}

fn partial_grad_sums4(c: u32, lid: u32, mean: f32, scale: f32, b: f32) -> vec2f {
  var grads = vec4f(0.0);
  var products = vec4f(0.0);
  for (var k = lid; k < M4; k += WG) {
    let i = channel_element4(c, k);
    let centred = x4[i] - mean;
    let grad = masked_grad(dy4[i], centred, scale, b);
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

fn input_grad(v: vec4f, grad: vec4f, k: Coefficients) -> vec4f {
  let centred = v - k.mean;
  return k.scale * masked_grad(grad, centred, k.scale, k.b) + k.slope * centred + k.offset;
}

fn channel_input_grads(c: u32, lid: u32, k: Coefficients) {
  for (var j = lid; j < M; j += WG) {
    let i = channel_element(c, j);
    var g = input_grad(vec4f(x[i]), vec4f(dy[i]), k).x;
    if (ACCUMULATE) {
      g += dx[i];
    }
    dx[i] = g;
  }
}

fn channel_input_grads4(c: u32, lid: u32, k: Coefficients) {
  for (var j = lid; j < M4; j += WG) {
    let i = channel_element4(c, j);
    var g = input_grad(x4[i], dy4[i], k);
    if (ACCUMULATE) {
      g += dx4[i];
    }
    dx4[i] = g;
  }
}

fn channel_coefficients(c: u32, lid: u32, g: f32, b: f32) -> Coefficients {
  let mean = saved_mean[c];
  let invstd = saved_invstd[c];
  let scale = g * invstd;
  let totals = workgroup_sum(lid, partial_grad_sums(c, lid, mean, scale, b));
  return coefficients(mean, invstd, scale, b, totals);
}

fn channel_coefficients4(c: u32, lid: u32, g: f32, b: f32) -> Coefficients {
  let mean = saved_mean[c];
  let invstd = saved_invstd[c];
  let scale = g * invstd;
  let totals = workgroup_sum(lid, partial_grad_sums4(c, lid, mean, scale, b));
  return coefficients(mean, invstd, scale, b, totals);
}

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

@compute @workgroup_size(WG)
fn bn_backward_plain(@builtin(workgroup_id) wid: vec3u,
                     @builtin(local_invocation_index) lid: u32,
                     @builtin(num_workgroups) nwg: vec3u) {
  let c = group_index(wid, nwg);
  if (c >= C) { return; }
  channel_input_grads(c, lid, channel_coefficients(c, lid, 1.0, 0.0));
}

@compute @workgroup_size(WG)
fn bn_backward_plain_vec4(@builtin(workgroup_id) wid: vec3u,
                          @builtin(local_invocation_index) lid: u32,
                          @builtin(num_workgroups) nwg: vec3u) {
  let c = group_index(wid, nwg);
  if (c >= C) { return; }
  channel_input_grads4(c, lid, channel_coefficients4(c, lid, 1.0, 0.0));
}

@compute @workgroup_size(WG)
fn bn_backward_affine(@builtin(workgroup_id) wid: vec3u,
                      @builtin(local_invocation_index) lid: u32,
                      @builtin(num_workgroups) nwg: vec3u) {
  let c = group_index(wid, nwg);
  if (c >= C) { return; }
  let k = channel_coefficients(c, lid, gamma_in[c], beta_in[c]);
  channel_input_grads(c, lid, k);
  store_param_grads(c, lid, k);
}

@compute @workgroup_size(WG)
fn bn_backward_affine_vec4(@builtin(workgroup_id) wid: vec3u,
                           @builtin(local_invocation_index) lid: u32,
                           @builtin(num_workgroups) nwg: vec3u) {
  let c = group_index(wid, nwg);
  if (c >= C) { return; }
  let k = channel_coefficients4(c, lid, gamma_in[c], beta_in[c]);
  channel_input_grads4(c, lid, k);
  store_param_grads(c, lid, k);
}

// ---- backward, split in two launches (devices with fewer than 9 storage buffers) -------------

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
fn bn_backward_reduce_affine(@builtin(workgroup_id) wid: vec3u,
                             @builtin(local_invocation_index) lid: u32,
                             @builtin(num_workgroups) nwg: vec3u) {
  let c = group_index(wid, nwg);
  if (c >= C) { return; }
  let scale = gamma_in[c] * split_invstd[c];
  let sums = partial_grad_sums(c, lid, split_mean[c], scale, beta_in[c]);
  write_coefficients(c, lid, workgroup_sum(lid, sums));
}

@compute @workgroup_size(WG)
fn bn_backward_reduce_affine_vec4(@builtin(workgroup_id) wid: vec3u,
                                  @builtin(local_invocation_index) lid: u32,
                                  @builtin(num_workgroups) nwg: vec3u) {
  let c = group_index(wid, nwg);
  if (c >= C) { return; }
  let scale = gamma_in[c] * split_invstd[c];
  let sums = partial_grad_sums4(c, lid, split_mean[c], scale, beta_in[c]);
  write_coefficients(c, lid, workgroup_sum(lid, sums));
}

// dx: 0 x, 1 dy, 2 dx, 3 coefficients, 4 dγ, 5 dβ.
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
fn bn_backward_dx_affine(@builtin(workgroup_id) wid: vec3u,
                         @builtin(local_invocation_index) lid: u32,
                         @builtin(num_workgroups) nwg: vec3u) {
  for (var i = thread_index(wid, lid, nwg); i < TOTAL; i += thread_count(nwg)) {
    var g = input_grad(vec4f(x[i]), vec4f(dy[i]), stored_coefficients(channel_of(i))).x;
    if (ACCUMULATE) {
      g += dx[i];
    }
    dx[i] = g;
  }
  param_grads(wid, lid, nwg);
}

@compute @workgroup_size(WG)
fn bn_backward_dx_affine_vec4(@builtin(workgroup_id) wid: vec3u,
                              @builtin(local_invocation_index) lid: u32,
                              @builtin(num_workgroups) nwg: vec3u) {
  for (var i = thread_index(wid, lid, nwg); i < TOTAL4; i += thread_count(nwg)) {
    var g = input_grad(x4[i], dy4[i], stored_coefficients(channel_of4(i)));
    if (ACCUMULATE) {
      g += dx4[i];
    }
    dx4[i] = g;
  }
  param_grads(wid, lid, nwg);
}
