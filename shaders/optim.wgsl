// Fused optimizer updates over one flat parameter buffer (one invocation per parameter), and the
// step counter. The first DECAY_COUNT parameters get coupled L2 weight decay (the graph lays out
// the decayed parameters first); the rest get none.
//
// sgd:   torch.optim.SGD, dampening 0, no nesterov. The momentum buffer starts at zero, which
//        equals torch's first-step clone of the gradient.
// adam:  torch.optim.Adam, amsgrad off, bias-corrected with t = step[0] + 1, where step holds the
//        number of completed steps (read only here; `increment` advances it afterwards).
//        1 − β^t is computed as −expm1(t·ln β) so that 1 − 0.999^t keeps full f32 precision.

override WG: u32 = 256;
override N: u32 = 0;
override DECAY_COUNT: u32 = 0;
override LR: f32 = 0.0;
override WEIGHT_DECAY: f32 = 0.0;
override MOMENTUM: f32 = 0.0;
override BETA1: f32 = 0.9;
override BETA2: f32 = 0.999;
// 1 − β and ln β, computed in double precision on the host.
override ONE_MINUS_BETA1: f32 = 0.1;
override ONE_MINUS_BETA2: f32 = 0.001;
override LN_BETA1: f32 = -0.105360516;
override LN_BETA2: f32 = -0.0010005003;
override EPS: f32 = 1e-8;

#include "index"

fn decayed_grad(i: u32, g: f32, p: f32) -> f32 {
  return select(g, g + WEIGHT_DECAY * p, i < DECAY_COUNT);
}

@group(0) @binding(0) var<storage, read_write> params: array<f32>;
@group(0) @binding(1) var<storage, read> grads: array<f32>;
@group(0) @binding(2) var<storage, read_write> momentum_buf: array<f32>;

@compute @workgroup_size(WG)
fn sgd(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
       @builtin(num_workgroups) nwg: vec3u) {
  let i = thread_index(wid, lid, nwg);
  if (i >= N) { return; }
  let p = params[i];
  var buf = decayed_grad(i, grads[i], p);
  // Without momentum torch keeps no buffer; skipping the read keeps stale contents harmless.
  if (MOMENTUM != 0.0) { buf += MOMENTUM * momentum_buf[i]; }
  momentum_buf[i] = buf;
  params[i] = p - LR * buf;
}

@group(0) @binding(2) var<storage, read_write> exp_avg: array<f32>;
@group(0) @binding(3) var<storage, read_write> exp_avg_sq: array<f32>;
@group(0) @binding(4) var<storage, read> step: array<u32>;

// e^x − 1 without cancellation: Taylor series (to x^9, error < 3e-10 relative) for |x| < 0.5.
fn expm1(x: f32) -> f32 {
  if (abs(x) >= 0.5) { return exp(x) - 1.0; }
  var term = x;
  var sum = x;
  for (var k = 2.0; k <= 9.0; k += 1.0) {
    term *= x / k;
    sum += term;
  }
  return sum;
}

// 1 − β^t for β = e^ln_beta.
fn bias_correction(ln_beta: f32, t: f32) -> f32 {
  return -expm1(t * ln_beta);
}

@compute @workgroup_size(WG)
fn adam(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3u) {
  let i = thread_index(wid, lid, nwg);
  if (i >= N) { return; }
  let t = f32(step[0] + 1u);
  let step_size = LR / bias_correction(LN_BETA1, t);
  let correction2_sqrt = sqrt(bias_correction(LN_BETA2, t));
  let p = params[i];
  let g = decayed_grad(i, grads[i], p);
  let m = BETA1 * exp_avg[i] + ONE_MINUS_BETA1 * g;
  let v = BETA2 * exp_avg_sq[i] + ONE_MINUS_BETA2 * (g * g);
  exp_avg[i] = m;
  exp_avg_sq[i] = v;
  params[i] = p - step_size * (m / (sqrt(v) / correction2_sqrt + EPS));
}

@group(0) @binding(0) var<storage, read_write> counter: array<u32>;

@compute @workgroup_size(1)
fn increment() {
  counter[0] += 1u;
}
