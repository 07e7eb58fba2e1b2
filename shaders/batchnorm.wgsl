// Batch normalisation over NCHW f32 tensors, seen as [N][C][S] with S = H·W, plus fused ReLU.
//
// Forward (train):  bn_stats*  one workgroup per channel: mean, invstd (and running stats);
//                   bn_apply*  elementwise: y (= or +=) act(γ·(x−mean)·invstd + β).
// Forward (eval):   bn_apply*  with EVAL: centre/spread are the running mean/variance.
// Backward (train): bn_backward_reduce*  one workgroup per channel: Σdy', Σdy'·x̂ (dy' = masked dy)
//                   folded into per-channel coefficients (COEFFS floats per channel, see below);
//                   bn_backward_dx*  elementwise: dx = a·dy' + b·(x−mean) + k, and dγ/dβ
//                   (keeps every kernel ≤ 7 bindings).
// Entry points come in pairs: `*_vec4` reads and writes vec4s (needs S % 4 == 0; lavapipe runs
// them about twice as fast), the plain name is the scalar fallback. `*_affine` reads γ/β, the
// others act as γ = 1, β = 0. Elementwise kernels loop with a grid stride, so the host may launch
// fewer invocations than elements. Reductions are tree sums in workgroup memory: fixed order,
// deterministic.

override WG: u32 = 256; // power of two
override N: u32;
override C: u32;
override S: u32;
override EPS: f32 = 1e-5;
override MOMENTUM: f32 = 0.1;
override RELU: bool = false;
override EVAL: bool = false;
override ACCUMULATE: bool = false;
override ACCUMULATE_PARAMS: bool = false;

// Elements per channel and in all; the same counted in vec4s (vec4 entry points only).
override M: u32 = N * S;
override TOTAL: u32 = N * C * S;
override S4: u32 = S / 4u;
override M4: u32 = M / 4u;
override TOTAL4: u32 = TOTAL / 4u;

// Per-channel backward coefficients: scale = γ·invstd, β, mean, slope of (x − mean), offset,
// Σdy', Σdy'·x̂, unused.
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

// ---- forward statistics ----------------------------------------------------------------------

@group(0) @binding(1) var<storage, read_write> mean_out: array<f32>;
@group(0) @binding(2) var<storage, read_write> invstd_out: array<f32>;
@group(0) @binding(3) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(4) var<storage, read_write> running_var: array<f32>;

// Two passes: mean, then Σ(x − mean)² with the compensation term Σ(x − mean), which removes the
// rounding error of the mean. These return this invocation's partial sums.
fn partial_sum(c: u32, lid: u32) -> f32 {
  var sum = 0.0;
  for (var k = lid; k < M; k += WG) {
    sum += x[channel_element(c, k)];
  }
  return sum;
}

fn partial_sum4(c: u32, lid: u32) -> f32 {
  var sum = vec4f(0.0);
  for (var k = lid; k < M4; k += WG) {
    sum += x4[channel_element4(c, k)];
  }
  return horizontal_sum(sum);
}

fn partial_deviations(c: u32, lid: u32, mean: f32) -> vec2f {
  var squares = 0.0;
  var deviations = 0.0;
  for (var k = lid; k < M; k += WG) {
    let d = x[channel_element(c, k)] - mean;
    squares += d * d;
    deviations += d;
  }
  return vec2f(squares, deviations);
}

fn partial_deviations4(c: u32, lid: u32, mean: f32) -> vec2f {
  var squares = vec4f(0.0);
  var deviations = vec4f(0.0);
  for (var k = lid; k < M4; k += WG) {
    let d = x4[channel_element4(c, k)] - mean;
    squares += d * d;
    deviations += d;
  }
  return vec2f(horizontal_sum(squares), horizontal_sum(deviations));
}

fn channel_mean(lid: u32, partial_sum: f32) -> f32 {
  return workgroup_sum(lid, vec2f(partial_sum, 0.0)).x / f32(M);
}

// Writes mean and invstd of channel c; returns the biased variance.
fn finish_statistics(c: u32, lid: u32, mean: f32, partial_deviations: vec2f) -> f32 {
  let totals = workgroup_sum(lid, partial_deviations);
  let variance = max(totals.x - totals.y * totals.y / f32(M), 0.0) / f32(M);
  if (lid == 0u) {
    mean_out[c] = mean;
    invstd_out[c] = 1.0 / sqrt(variance + EPS);
  }
  return variance;
}

// PyTorch's rule: running = (1 − MOMENTUM)·running + MOMENTUM·batch, unbiased variance.
fn update_running(c: u32, lid: u32, mean: f32, variance: f32) {
  if (lid == 0u) {
    let unbiased = variance * f32(M) / f32(max(M, 2u) - 1u);
    running_mean[c] = (1.0 - MOMENTUM) * running_mean[c] + MOMENTUM * mean;
    running_var[c] = (1.0 - MOMENTUM) * running_var[c] + MOMENTUM * unbiased;
  }
}

// The early returns below are uniform: a whole workgroup leaves together.

@compute @workgroup_size(WG)
fn bn_stats(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
            @builtin(num_workgroups) nwg: vec3u) {
  let c = group_index(wid, nwg);
  if (c >= C) { return; }
  let mean = channel_mean(lid, partial_sum(c, lid));
  finish_statistics(c, lid, mean, partial_deviations(c, lid, mean));
}

@compute @workgroup_size(WG)
fn bn_stats_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                 @builtin(num_workgroups) nwg: vec3u) {
  let c = group_index(wid, nwg);
  if (c >= C) { return; }
  let mean = channel_mean(lid, partial_sum4(c, lid));
  finish_statistics(c, lid, mean, partial_deviations4(c, lid, mean));
}

@compute @workgroup_size(WG)
fn bn_stats_tracked(@builtin(workgroup_id) wid: vec3u,
                    @builtin(local_invocation_index) lid: u32,
                    @builtin(num_workgroups) nwg: vec3u) {
  let c = group_index(wid, nwg);
  if (c >= C) { return; }
  let mean = channel_mean(lid, partial_sum(c, lid));
  let variance = finish_statistics(c, lid, mean, partial_deviations(c, lid, mean));
  update_running(c, lid, mean, variance);
}

@compute @workgroup_size(WG)
fn bn_stats_tracked_vec4(@builtin(workgroup_id) wid: vec3u,
                         @builtin(local_invocation_index) lid: u32,
                         @builtin(num_workgroups) nwg: vec3u) {
  let c = group_index(wid, nwg);
  if (c >= C) { return; }
  let mean = channel_mean(lid, partial_sum4(c, lid));
  let variance = finish_statistics(c, lid, mean, partial_deviations4(c, lid, mean));
  update_running(c, lid, mean, variance);
}

// ---- forward normalisation -------------------------------------------------------------------

@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read_write> y4: array<vec4f>;
@group(0) @binding(2) var<storage, read> centre: array<f32>; // mean, or running mean (EVAL)
@group(0) @binding(3) var<storage, read> spread: array<f32>; // invstd, or running var (EVAL)
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
@group(0) @binding(5) var<storage, read> beta: array<f32>;

// act(γ·(v − centre)·invstd + β) for channel c; scalar callers use the x component.
fn normalise(v: vec4f, c: u32, g: f32, b: f32) -> vec4f {
  var invstd = spread[c];
  if (EVAL) {
    invstd = 1.0 / sqrt(invstd + EPS);
  }
  var z = (v - centre[c]) * (g * invstd) + b;
  if (RELU) {
    z = max(z, vec4f(0.0));
  }
  return z;
}

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

@compute @workgroup_size(WG)
fn bn_apply_affine(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                   @builtin(num_workgroups) nwg: vec3u) {
  for (var i = thread_index(wid, lid, nwg); i < TOTAL; i += thread_count(nwg)) {
    let c = channel_of(i);
    store_y(i, normalise(vec4f(x[i]), c, gamma[c], beta[c]).x);
  }
}

@compute @workgroup_size(WG)
fn bn_apply_plain(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                  @builtin(num_workgroups) nwg: vec3u) {
  for (var i = thread_index(wid, lid, nwg); i < TOTAL; i += thread_count(nwg)) {
    store_y(i, normalise(vec4f(x[i]), channel_of(i), 1.0, 0.0).x);
  }
}

@compute @workgroup_size(WG)
fn bn_apply_affine_vec4(@builtin(workgroup_id) wid: vec3u,
                        @builtin(local_invocation_index) lid: u32,
                        @builtin(num_workgroups) nwg: vec3u) {
  for (var i = thread_index(wid, lid, nwg); i < TOTAL4; i += thread_count(nwg)) {
    let c = channel_of4(i);
    store_y4(i, normalise(x4[i], c, gamma[c], beta[c]));
  }
}

@compute @workgroup_size(WG)
fn bn_apply_plain_vec4(@builtin(workgroup_id) wid: vec3u,
                       @builtin(local_invocation_index) lid: u32,
                       @builtin(num_workgroups) nwg: vec3u) {
  for (var i = thread_index(wid, lid, nwg); i < TOTAL4; i += thread_count(nwg)) {
    store_y4(i, normalise(x4[i], channel_of4(i), 1.0, 0.0));
  }
}

// ---- backward --------------------------------------------------------------------------------

@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> dy4: array<vec4f>;
@group(0) @binding(2) var<storage, read> saved_mean: array<f32>;
@group(0) @binding(3) var<storage, read> saved_invstd: array<f32>;
@group(0) @binding(4) var<storage, read_write> coeffs_out: array<f32>;
@group(0) @binding(5) var<storage, read> gamma_in: array<f32>;
@group(0) @binding(6) var<storage, read> beta_in: array<f32>;

// dy through the ReLU, whose mask z > 0 is recomputed exactly as `normalise` computes z.
fn masked_grad(grad: vec4f, centred: vec4f, scale: f32, b: f32) -> vec4f {
  if (RELU) {
    return select(vec4f(0.0), grad, centred * scale + b > vec4f(0.0));
  }
  return grad;
}

// This invocation's (Σdy', Σdy'·(x − mean)) over channel c.
fn partial_grad_sums(c: u32, lid: u32, scale: f32, b: f32) -> vec2f {
  let mean = saved_mean[c];
  var sums = vec2f(0.0);
  for (var k = lid; k < M; k += WG) {
    let i = channel_element(c, k);
    let centred = x[i] - mean;
    let grad = masked_grad(vec4f(dy[i]), vec4f(centred), scale, b).x;
    sums += vec2f(grad, grad * centred);
  }
  return sums;
}

fn partial_grad_sums4(c: u32, lid: u32, scale: f32, b: f32) -> vec2f {
  let mean = saved_mean[c];
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

fn write_coefficients(c: u32, lid: u32, scale: f32, b: f32, partial_sums: vec2f) {
  let totals = workgroup_sum(lid, partial_sums);
  if (lid == 0u) {
    let invstd = saved_invstd[c];
    let sum_grad = totals.x;
    let sum_grad_xhat = totals.y * invstd;
    let base = c * COEFFS;
    coeffs_out[base] = scale;
    coeffs_out[base + 1u] = b;
    coeffs_out[base + 2u] = saved_mean[c];
    coeffs_out[base + 3u] = -scale * invstd * sum_grad_xhat / f32(M);
    coeffs_out[base + 4u] = -scale * sum_grad / f32(M);
    coeffs_out[base + 5u] = sum_grad;
    coeffs_out[base + 6u] = sum_grad_xhat;
    coeffs_out[base + 7u] = 0.0;
  }
}

@compute @workgroup_size(WG)
fn bn_backward_reduce_affine(@builtin(workgroup_id) wid: vec3u,
                             @builtin(local_invocation_index) lid: u32,
                             @builtin(num_workgroups) nwg: vec3u) {
  let c = group_index(wid, nwg);
  if (c >= C) { return; }
  let scale = gamma_in[c] * saved_invstd[c];
  write_coefficients(c, lid, scale, beta_in[c], partial_grad_sums(c, lid, scale, beta_in[c]));
}

@compute @workgroup_size(WG)
fn bn_backward_reduce_plain(@builtin(workgroup_id) wid: vec3u,
                            @builtin(local_invocation_index) lid: u32,
                            @builtin(num_workgroups) nwg: vec3u) {
  let c = group_index(wid, nwg);
  if (c >= C) { return; }
  let scale = saved_invstd[c];
  write_coefficients(c, lid, scale, 0.0, partial_grad_sums(c, lid, scale, 0.0));
}

@compute @workgroup_size(WG)
fn bn_backward_reduce_affine_vec4(@builtin(workgroup_id) wid: vec3u,
                                  @builtin(local_invocation_index) lid: u32,
                                  @builtin(num_workgroups) nwg: vec3u) {
  let c = group_index(wid, nwg);
  if (c >= C) { return; }
  let scale = gamma_in[c] * saved_invstd[c];
  write_coefficients(c, lid, scale, beta_in[c], partial_grad_sums4(c, lid, scale, beta_in[c]));
}

@compute @workgroup_size(WG)
fn bn_backward_reduce_plain_vec4(@builtin(workgroup_id) wid: vec3u,
                                 @builtin(local_invocation_index) lid: u32,
                                 @builtin(num_workgroups) nwg: vec3u) {
  let c = group_index(wid, nwg);
  if (c >= C) { return; }
  let scale = saved_invstd[c];
  write_coefficients(c, lid, scale, 0.0, partial_grad_sums4(c, lid, scale, 0.0));
}

@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx4: array<vec4f>;
@group(0) @binding(3) var<storage, read> coeffs: array<f32>;
@group(0) @binding(4) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(5) var<storage, read_write> dbeta: array<f32>;

fn input_grad(v: vec4f, grad: vec4f, c: u32) -> vec4f {
  let base = c * COEFFS;
  let scale = coeffs[base];
  let centred = v - coeffs[base + 2u];
  let g = masked_grad(grad, centred, scale, coeffs[base + 1u]);
  return scale * g + coeffs[base + 3u] * centred + coeffs[base + 4u];
}

fn input_grads(wid: vec3u, lid: u32, nwg: vec3u) {
  for (var i = thread_index(wid, lid, nwg); i < TOTAL; i += thread_count(nwg)) {
    var g = input_grad(vec4f(x[i]), vec4f(dy[i]), channel_of(i)).x;
    if (ACCUMULATE) {
      g += dx[i];
    }
    dx[i] = g;
  }
}

fn input_grads4(wid: vec3u, lid: u32, nwg: vec3u) {
  for (var i = thread_index(wid, lid, nwg); i < TOTAL4; i += thread_count(nwg)) {
    var g = input_grad(x4[i], dy4[i], channel_of4(i));
    if (ACCUMULATE) {
      g += dx4[i];
    }
    dx4[i] = g;
  }
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
fn bn_backward_dx_plain(@builtin(workgroup_id) wid: vec3u,
                        @builtin(local_invocation_index) lid: u32,
                        @builtin(num_workgroups) nwg: vec3u) {
  input_grads(wid, lid, nwg);
}

@compute @workgroup_size(WG)
fn bn_backward_dx_affine(@builtin(workgroup_id) wid: vec3u,
                         @builtin(local_invocation_index) lid: u32,
                         @builtin(num_workgroups) nwg: vec3u) {
  input_grads(wid, lid, nwg);
  param_grads(wid, lid, nwg);
}

@compute @workgroup_size(WG)
fn bn_backward_dx_plain_vec4(@builtin(workgroup_id) wid: vec3u,
                             @builtin(local_invocation_index) lid: u32,
                             @builtin(num_workgroups) nwg: vec3u) {
  input_grads4(wid, lid, nwg);
}

@compute @workgroup_size(WG)
fn bn_backward_dx_affine_vec4(@builtin(workgroup_id) wid: vec3u,
                              @builtin(local_invocation_index) lid: u32,
                              @builtin(num_workgroups) nwg: vec3u) {
  input_grads4(wid, lid, nwg);
  param_grads(wid, lid, nwg);
}
