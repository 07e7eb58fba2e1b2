// Softmax cross-entropy over [N][K] logits with integer class labels (stored as f32):
// loss[slot] = WEIGHT · mean_n(logsumexp(logits_n) − logits_n[label_n]).
//
// ce_rows: one invocation per sample writes its loss term to partials[n] and, with GRAD, its
// gradient row grad_n = (WEIGHT / N) · (softmax(logits_n) − onehot(label_n)). The max is
// subtracted first, so large logits neither overflow nor lose the small terms.
// ce_final: one invocation sums the N terms in order (no atomics: bit-for-bit reproducible) into
// loss[0] or (INDEXED) loss[index[0]] unless that slot is past the end of the buffer.

override WG: u32 = 64;
override N: u32 = 1;
override K: u32 = 10;
override WEIGHT: f32 = 1.0;
override GRAD: bool = false;
override INDEXED: bool = false;

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;
@group(0) @binding(3) var<storage, read_write> grad: array<f32>; // with GRAD

@compute @workgroup_size(WG)
fn ce_rows(@builtin(global_invocation_id) gid: vec3u) {
  let n = gid.x;
  if (n >= N) { return; }
  let base = n * K;
  var top = logits[base];
  for (var k = 1u; k < K; k++) { top = max(top, logits[base + k]); }
  var total = 0.0;
  for (var k = 0u; k < K; k++) { total += exp(logits[base + k] - top); }
  let label = u32(labels[n]);
  let lse = top + log(total);
  partials[n] = lse - logits[base + label];
  if (GRAD) {
    let scale = WEIGHT / f32(N);
    for (var k = 0u; k < K; k++) {
      var p = exp(logits[base + k] - top) / total;
      if (k == label) { p -= 1.0; }
      grad[base + k] = scale * p;
    }
  }
}

@group(0) @binding(0) var<storage, read> row_losses: array<f32>;
@group(0) @binding(1) var<storage, read_write> loss: array<f32>;
@group(0) @binding(2) var<storage, read> slot_index: array<u32>; // with INDEXED

@compute @workgroup_size(1)
fn ce_final() {
  var total = 0.0;
  for (var n = 0u; n < N; n++) { total += row_losses[n]; }
  var slot = 0u;
  if (INDEXED) { slot = slot_index[0]; }
  if (slot < arrayLength(&loss)) { loss[slot] = total * (WEIGHT / f32(N)); }
}
