// Elementwise kernels over flat f32 arrays, one invocation per element. The source is generated
// at two widths (src/gpu/wgsl.ts): elements of vec4f where the float count is a multiple of 4
// (lavapipe loads a vec4 for about the cost of two floats) and of f32 otherwise; N counts
// elements of that width. Every component is computed as the f32 kernel computes it.
//
// OP selects the function for `unary` and its derivative for `unary_backward`:
//   0 identity, 1 relu, 2 sigmoid, 3 tanh, 4 leaky_relu (slope ALPHA), 5 scale (by ALPHA)
// BINOP for `binary`: 0 add, 1 multiply.

override WG: u32 = 256;
override N: u32;
override OP: u32 = 0u;
override BINOP: u32 = 0u;
override ALPHA: f32 = 0.0;
override ACCUMULATE: bool = false;

#include "index"

fn forward_op(v: $T) -> $T {
  switch OP {
    case 1u: { return max(v, $T(0.0)); }
    case 2u: { return $T(1.0) / ($T(1.0) + exp(-v)); }
    case 3u: { return tanh(v); }
    case 4u: { return select(ALPHA * v, v, v > $T(0.0)); }
    case 5u: { return ALPHA * v; }
    default: { return v; }
  }
}

// Derivative expressed through the forward output y (relu, sigmoid, tanh) or input x (leaky).
fn derivative(saved: $T) -> $T {
  switch OP {
    case 1u: { return select($T(0.0), $T(1.0), saved > $T(0.0)); }
    case 2u: { return saved * ($T(1.0) - saved); }
    case 3u: { return $T(1.0) - saved * saved; }
    case 4u: { return select($T(ALPHA), $T(1.0), saved > $T(0.0)); }
    case 5u: { return $T(ALPHA); }
    default: { return $T(1.0); }
  }
}

@group(0) @binding(0) var<storage, read> src: array<$T>;
@group(0) @binding(1) var<storage, read_write> dst: array<$T>;

// dst (= or +=) f(src)
@compute @workgroup_size(WG)
fn unary(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
         @builtin(num_workgroups) nwg: vec3u) {
  let i = thread_index(wid, lid, nwg);
  if (i >= N) { return; }
  var v = forward_op(src[i]);
  if (ACCUMULATE) { v += dst[i]; }
  dst[i] = v;
}

@group(0) @binding(0) var<storage, read> saved: array<$T>;
@group(0) @binding(1) var<storage, read> grad_out: array<$T>;
@group(0) @binding(2) var<storage, read_write> grad_in: array<$T>;

// grad_in (= or +=) grad_out * f'(saved); saved is y for relu/sigmoid/tanh, x for leaky_relu.
@compute @workgroup_size(WG)
fn unary_backward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
                  @builtin(num_workgroups) nwg: vec3u) {
  let i = thread_index(wid, lid, nwg);
  if (i >= N) { return; }
  var g = grad_out[i] * derivative(saved[i]);
  if (ACCUMULATE) { g += grad_in[i]; }
  grad_in[i] = g;
}

@group(0) @binding(0) var<storage, read> lhs: array<$T>;
@group(0) @binding(1) var<storage, read> rhs: array<$T>;
@group(0) @binding(2) var<storage, read_write> result: array<$T>;

// result (= or +=) lhs (+|*) rhs
@compute @workgroup_size(WG)
fn binary(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
          @builtin(num_workgroups) nwg: vec3u) {
  let i = thread_index(wid, lid, nwg);
  if (i >= N) { return; }
  var v = select(lhs[i] + rhs[i], lhs[i] * rhs[i], BINOP == 1u);
  if (ACCUMULATE) { v += result[i]; }
  result[i] = v;
}

@group(0) @binding(0) var<storage, read_write> filled: array<$T>;

// filled = ALPHA
@compute @workgroup_size(WG)
fn fill(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3u) {
  let i = thread_index(wid, lid, nwg);
  if (i >= N) { return; }
  filled[i] = $T(ALPHA);
}

@group(0) @binding(0) var<storage, read> masked_x: array<$T>;
@group(0) @binding(1) var<storage, read_write> mask: array<$T>;
@group(0) @binding(2) var<storage, read_write> masked_y: array<$T>;
@group(0) @binding(3) var<storage, read> step: array<u32>;

// A ReLU with a frozen pattern: y (= or +=) x · [m > 0], m captured from x at step 0 (so the first
// pass is a plain ReLU) and kept, with whatever the host writes into it later, after that.
@compute @workgroup_size(WG)
fn relu_mask(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
             @builtin(num_workgroups) nwg: vec3u) {
  let i = thread_index(wid, lid, nwg);
  if (i >= N) { return; }
  let x = masked_x[i];
  if (step[0] == 0u) { mask[i] = x; }
  var v = x * select($T(0.0), $T(1.0), mask[i] > $T(0.0));
  if (ACCUMULATE) { v += masked_y[i]; }
  masked_y[i] = v;
}
