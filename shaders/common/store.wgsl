// dst[i] = value, or += with ACCUMULATE; the includer declares dst as array<$T>.
fn store(i: u32, value: $T) {
  var v = value;
  if (ACCUMULATE) {
    v += dst[i];
  }
  dst[i] = v;
}
