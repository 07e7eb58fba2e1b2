// Weight (and bias) gradient of a 2-D convolution, split over the reduction (split-K).
//
// dw[co][ci][ky][kx] = Σ over n, oy, ox of
//                      dy[n][co][oy][ox] · x[n][ci][oy·s − p + ky·d][ox·s − p + kx·d]
//
// The reduction runs over "units" of ROWS_PER_UNIT dy rows × COLS_PER_UNIT dy columns of one image;
// invocation (block, chunk) sums units chunk, chunk + CHUNKS, … (interleaved, so neighbouring
// lanes read neighbouring memory) for OCB output channels × ICB input channels × every tap, and
// writes its partial sums to `partial` ([CHUNKS][dw size]) and `bias_partial` ([CHUNKS][COUT]);
// conv2d_aux.wgsl adds the chunks up. With CHUNKS = 1 these are dw and dbias themselves, and
// ACCUMULATE adds to them. dw is indexed co·DW_CO + ci·DW_CI + tap·DW_TAP (co global, ci local
// to the group), which covers both weight layouts (oihw, ihwo). RELU_X reads x through max(·, 0)
// (fused ReLU of the input). As in conv2d_direct.wgsl, `main` is generated (register
// block and taps unrolled) and appended to this file, with the `dy` binding and its gather:
// array<vec4f>, four columns at a time, when OW and COLS_PER_UNIT are multiples of 4 (a vec4
// gather costs lavapipe about two scalar ones), else array<f32>.

override WG: u32 = 64u;
override H: u32;
override W: u32;
override OH: u32;
override OW: u32;
override OCB: u32;
override ICB: u32;
override ROWS_PER_UNIT: u32;
override COLS_PER_UNIT: u32;
override ROW_BLOCKS: u32;
override COL_BLOCKS: u32;
override ROW_STEP: u32;    // x rows of unit row-block rb start at rb·ROW_STEP − PH (columns alike)
override COL_STEP: u32;
override PH: i32;
override PW: i32;
override KHW: u32;
override RELU_X: bool = false;
override ACCUMULATE: bool = false;

// The sizes that follow from channel counts and batch, read from a uniform buffer (binding 4)
// rather than override constants, so that one pipeline serves every channel count and batch with
// the same blocking and spatial shape (fewer pipelines to compile and keep). Measured neutral on
// lavapipe: these enter per-unit base offsets, not the per-gather row and column arithmetic.
struct Dims {
  N: u32,
  CIN: u32,
  COUT: u32,
  CPG_IN: u32,
  CPG_OUT: u32,
  CO_BLOCKS: u32,
  CI_BLOCKS: u32,
  CHUNKS: u32,
  GROUPS: u32,
  DW_CO: u32,
  DW_CI: u32,
  DW_TAP: u32,
  UNITS: u32,
  DW_SIZE: u32,
  INVOCATIONS: u32,
}
@group(0) @binding(4) var<uniform> dims: Dims;

// Bindings 0 (`dy`), 1 (`x`, f32 or aligned vec4 column groups), 2 (`partial`) and 3
// (`bias_partial`, only bound and used with a bias gradient), the gathers and the stores are
// declared by the generated code: the stores take four output channels at once (vec4 partials)
// when dw has the output channel innermost (DW_CO = 1) and OCB and CPG_OUT are multiples of 4.

struct Work {
  group: u32,
  co0: u32,        // first output channel, local to the group
  ci0: u32,        // first input channel, local to the group
  chunk: u32,
  unit_end: u32,   // UNITS, or 0 for a lane past the last invocation
  live: bool,
}

fn work_of(workgroup: u32, lane: u32) -> Work {
  let index = workgroup * WG + lane;
  let i = min(index, dims.INVOCATIONS - 1u);
  var w: Work;
  w.chunk = i % dims.CHUNKS;
  let block = i / dims.CHUNKS;
  w.ci0 = (block % dims.CI_BLOCKS) * ICB;
  w.co0 = ((block / dims.CI_BLOCKS) % dims.CO_BLOCKS) * OCB;
  w.group = block / (dims.CI_BLOCKS * dims.CO_BLOCKS);
  w.live = index < dims.INVOCATIONS;
  w.unit_end = select(0u, dims.UNITS, w.live);
  return w;
}

struct Unit {
  n: u32,
  dy_row0: u32,
  dy_col0: u32,
  x_row0: i32,
  x_col0: i32,
}

fn unit_of(u: u32) -> Unit {
  let cb = u % COL_BLOCKS;
  let rb = (u / COL_BLOCKS) % ROW_BLOCKS;
  return Unit(u / (COL_BLOCKS * ROW_BLOCKS), rb * ROWS_PER_UNIT, cb * COLS_PER_UNIT,
              i32(rb * ROW_STEP) - PH, i32(cb * COL_STEP) - PW);
}

struct Offset {
  index: u32,
  ok: bool,
}

fn dy_row(p: Unit, r: u32) -> Offset {
  let row = p.dy_row0 + r;
  return Offset(min(row, OH - 1u) * OW, row < OH);
}

fn dy_col(p: Unit, q: u32) -> Offset {
  let col = p.dy_col0 + q;
  return Offset(min(col, OW - 1u), col < OW);
}

fn x_row(p: Unit, d: i32) -> Offset {
  let row = p.x_row0 + d;
  return Offset(u32(clamp(row, 0, i32(H) - 1)) * W, row >= 0 && row < i32(H));
}

fn x_col(p: Unit, d: i32) -> Offset {
  let col = p.x_col0 + d;
  return Offset(u32(clamp(col, 0, i32(W) - 1)), col >= 0 && col < i32(W));
}

fn dy_base(w: Work, p: Unit, o: u32) -> u32 {
  return (p.n * dims.COUT + w.group * dims.CPG_OUT + min(w.co0 + o, dims.CPG_OUT - 1u)) * OH * OW;
}

fn x_base(w: Work, p: Unit, i: u32) -> u32 {
  return (p.n * dims.CIN + w.group * dims.CPG_IN + min(w.ci0 + i, dims.CPG_IN - 1u)) * H * W;
}
