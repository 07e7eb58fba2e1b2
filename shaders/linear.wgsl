// Strided matrix product C[M][N] (= or +=) Σ_k A(m, k)·B(k, n), the one kernel behind nn.Linear's
// forward and both gradients (src/kernels/linear.ts picks the strides):
//   A(m, k) = a[m·A_SM + k·A_SK],  B(k, n) = b[k·B_SK + n·B_SN],  C row-major.
//
// Each invocation owns a block of TM rows × 4 columns of C, held in registers (a vec4 per row).
// All invocations of a workgroup share the same TM rows and take consecutive column blocks, so
// the A operand is workgroup-uniform: one broadcast load per element on GPUs, and a scalar load
// instead of a gather on lavapipe, whose SIMD lanes are invocations. Loads past the edge of A or
// B are clamped to the last row/column so the inner loop has no branches; only stores are
// guarded. Every output is summed in k order by one invocation: deterministic.
//
// Entry points:
//   gemm          C (= or +=) A·B
//   gemm_bias     C (= or +=) A·B + bias[n]                       (nn.Linear forward)
//   gemm_row_sum  as gemm, and row_sum[m] (= or +=) Σ_k A(m, k)   (weight and bias gradients)

override WG: u32 = 16;
#include "gemm"

const TM = 8u;
const TN = 4u;

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>; // gemm_bias
@group(0) @binding(3) var<storage, read_write> row_sum: array<f32>; // gemm_row_sum

struct Tile {
  m0: u32,
  n0: u32,
  valid: bool,
}

struct Block {
  rows: array<vec4f, TM>,
  // Σ_k A(m0 + r, k); only computed for gemm_row_sum.
  a_sums: array<f32, TM>,
}

#include "index"

// Workgroups are numbered row block first: group g covers rows (g / groups_per_row)·TM and
// column blocks (g % groups_per_row)·WG + lid.x. The grid may fold into y (see grid()).
fn tile_of(wid: vec3u, lid: vec3u, nwg: vec3u) -> Tile {
  let col_blocks = (N + TN - 1u) / TN;
  let groups_per_row = (col_blocks + WG - 1u) / WG;
  let group = group_index(wid, nwg);
  let m0 = (group / groups_per_row) * TM;
  let col_block = (group % groups_per_row) * WG + lid.x;
  return Tile(m0, col_block * TN, col_block < col_blocks && m0 < M);
}

fn multiply(t: Tile, with_sums: bool) -> Block {
  var a_at: array<u32, TM>;
  for (var r = 0u; r < TM; r++) { a_at[r] = min(t.m0 + r, M - 1u) * A_SM; }
  let b_at = min(vec4u(t.n0) + vec4u(0u, 1u, 2u, 3u), vec4u(N - 1u)) * B_SN;
  var blk: Block;
  for (var r = 0u; r < TM; r++) {
    blk.rows[r] = vec4f(0.0);
    blk.a_sums[r] = 0.0;
  }
  for (var k = 0u; k < K; k++) {
    let kb = k * B_SK;
    let bv = vec4f(b[b_at.x + kb], b[b_at.y + kb], b[b_at.z + kb], b[b_at.w + kb]);
    let ka = k * A_SK;
    for (var r = 0u; r < TM; r++) {
      let av = a[a_at[r] + ka];
      blk.rows[r] = fma(vec4f(av), bv, blk.rows[r]);
      if (with_sums) { blk.a_sums[r] += av; }
    }
  }
  return blk;
}

// Adds `extra` (the bias) to each row and stores the part of the block inside C.
fn store(t: Tile, blk: Block, extra: vec4f) {
  for (var r = 0u; r < TM; r++) {
    let m = t.m0 + r;
    if (m >= M) { return; }
    let v = blk.rows[r] + extra;
    for (var j = 0u; j < TN; j++) {
      let n = t.n0 + j;
      if (n < N) {
        let at = m * N + n;
        c[at] = select(v[j], v[j] + c[at], ACCUMULATE);
      }
    }
  }
}

fn bias_of(n0: u32) -> vec4f {
  let n = min(vec4u(n0) + vec4u(0u, 1u, 2u, 3u), vec4u(N - 1u));
  return vec4f(bias[n.x], bias[n.y], bias[n.z], bias[n.w]);
}

@compute @workgroup_size(WG)
fn gemm(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  let t = tile_of(wid, lid, nwg);
  if (!t.valid) { return; }
  store(t, multiply(t, false), vec4f(0.0));
}

@compute @workgroup_size(WG)
fn gemm_bias(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
             @builtin(num_workgroups) nwg: vec3u) {
  let t = tile_of(wid, lid, nwg);
  if (!t.valid) { return; }
  store(t, multiply(t, false), bias_of(t.n0));
}

@compute @workgroup_size(WG)
fn gemm_row_sum(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
                @builtin(num_workgroups) nwg: vec3u) {
  let t = tile_of(wid, lid, nwg);
  if (!t.valid) { return; }
  let blk = multiply(t, true);
  store(t, blk, vec4f(0.0));
  // The first column block owns the row sums of its rows.
  if (t.n0 == 0u) {
    for (var r = 0u; r < TM; r++) {
      let m = t.m0 + r;
      if (m < M) {
        row_sum[m] = select(blk.a_sums[r], blk.a_sums[r] + row_sum[m], ACCUMULATE);
      }
    }
  }
}
