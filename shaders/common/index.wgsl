// Grid indices of one-dimensional workgroups of WG invocations (the includer's override; the
// grid folds into y past 65535 groups, see grid() in src/gpu/kernel.ts), and tensor indices.

fn group_index(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.x + wid.y * nwg.x;
}

fn thread_index(wid: vec3u, lid: u32, nwg: vec3u) -> u32 {
  return group_index(wid, nwg) * WG + lid;
}

fn thread_count(nwg: vec3u) -> u32 {
  return nwg.x * nwg.y * WG;
}

// Plane index and (row, column) of flat element i of a [planes][h][w] tensor.
fn split(i: u32, h: u32, w: u32) -> vec3u {
  let plane = i / (h * w);
  let r = i - plane * h * w;
  let row = r / w;
  return vec3u(plane, row, r - row * w);
}
