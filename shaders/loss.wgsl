// Weighted multi-stage MSE: loss[slot] = Σ_s weight_s · mean_s((out_s − target_s)²).
//
// Pass 1 (one launch per stage): each workgroup reduces its WG·PER_THREAD elements (a fixed
// serial sum per invocation, then a fixed tree in workgroup memory), scales the sum by
// SCALE = weight / n and writes it to partials[PART_OFFSET + group]; with GRAD it also writes
// grad = 2·SCALE·(out − target).
// Pass 2 (one workgroup): sums PARTS partials in a fixed order into loss[0] or (INDEXED)
// loss[index[0]].
// No atomics anywhere, so the value is bit-for-bit reproducible.

override WG: u32 = 256;
override PER_THREAD: u32 = 4;
override N: u32 = 1;
override SCALE: f32 = 0.0;
override PART_OFFSET: u32 = 0;
// Workgroups of this stage; a grid folded into y may launch a few more, which must not write.
override GROUPS: u32 = 0;
override PARTS: u32 = 0;
override GRAD: bool = false;
override INDEXED: bool = false;

var<workgroup> sums: array<f32, WG>;

// Tree-reduces sums[] (every invocation must call it: it has barriers) and returns the total.
fn workgroup_total(lid: u32, own: f32) -> f32 {
  sums[lid] = own;
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    workgroupBarrier();
    if (lid < stride) { sums[lid] += sums[lid + stride]; }
  }
  workgroupBarrier();
  return sums[0];
}

@group(0) @binding(0) var<storage, read> predictions: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad: array<f32>; // with GRAD

#include "index"

fn element(group: u32, lid: u32, j: u32) -> u32 {
  return group * WG * PER_THREAD + j * WG + lid;
}

fn squared_error_sum(group: u32, lid: u32) -> f32 {
  var total = 0.0;
  for (var j = 0u; j < PER_THREAD; j++) {
    let i = element(group, lid, j);
    if (i < N) {
      let d = predictions[i] - targets[i];
      total = fma(d, d, total);
      if (GRAD) { grad[i] = (2.0 * SCALE) * d; }
    }
  }
  return total;
}

@compute @workgroup_size(WG)
fn mse_partial(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,
               @builtin(num_workgroups) nwg: vec3u) {
  let group = group_index(wid, nwg);
  let total = workgroup_total(lid, squared_error_sum(group, lid));
  if (lid == 0u && group < GROUPS) { partials[PART_OFFSET + group] = total * SCALE; }
}

@group(0) @binding(0) var<storage, read> stage_partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> loss: array<f32>;
@group(0) @binding(2) var<storage, read> slot_index: array<u32>; // with INDEXED

fn partials_total(lid: u32) -> f32 {
  var own = 0.0;
  for (var p = lid; p < PARTS; p += WG) { own += stage_partials[p]; }
  return workgroup_total(lid, own);
}

// loss[0], or (INDEXED) loss[slot_index[0]] unless that slot is past the end of the buffer.
@compute @workgroup_size(WG)
fn mse_final(@builtin(local_invocation_index) lid: u32) {
  let total = partials_total(lid);
  var slot = 0u;
  if (INDEXED) { slot = slot_index[0]; }
  if (lid == 0u && slot < arrayLength(&loss)) { loss[slot] = total; }
}
