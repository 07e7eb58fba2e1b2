// Grid indices of one-dimensional workgroups of WG invocations (the includer's override). The
// grid folds into y past 65535 groups (grid() in src/gpu/kernel.ts).

fn group_index(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.x + wid.y * nwg.x;
}

fn thread_index(wid: vec3u, lid: u32, nwg: vec3u) -> u32 {
  return group_index(wid, nwg) * WG + lid;
}

fn thread_count(nwg: vec3u) -> u32 {
  return nwg.x * nwg.y * WG;
}
