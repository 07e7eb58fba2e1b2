/**
 * WGSL generation: the entry points of the direct and weight-gradient kernels, appended to their
 * templates (shaders/conv2d_direct.wgsl, shaders/conv2d_wgrad.wgsl). One source per structure,
 * named after it.
 */
import directTemplate from "../../../shaders/conv2d_direct.wgsl" with { type: "text" };
import wgradTemplate from "../../../shaders/conv2d_wgrad.wgsl" with { type: "text" };
import { KeyedCache } from "./cache.ts";
import { type DirectStructure, directTaps, type WeightStructure, weightTaps } from "./structure.ts";
import { columnSlot, distinctOffsets, usedPairs, usedTaps } from "./taps.ts";

/** Generated sources by kernel name (a name encodes its whole structure). */
const sourceCache = new KeyedCache<string>();

/** The direct kernel of structure `d`: its name and full source. */
export function directKernel(d: DirectStructure): { name: string; source: string } {
  const name = directName(d);
  return { name, source: sourceCache.get(name, () => `${directTemplate}\n${directMain(d)}\n`) };
}

/** The weight-gradient kernel of structure `w`: its name and full source. */
export function weightKernel(w: WeightStructure): { name: string; source: string } {
  const name = weightName(w);
  return { name, source: sourceCache.get(name, () => `${wgradTemplate}\n${weightMain(w)}\n`) };
}

function directName(d: DirectStructure): string {
  const phase = (d.pass === "data" ? `_m${d.padModH}x${d.padModW}` : "") +
    (d.colAlign >= 0 ? `_a${d.colAlign}` : "");
  const weights = d.weightVector === "none" ? "" : `_w${d.weightVector === "dst" ? "d" : "l"}`;
  const stores = (d.vectorStore ? "_v4" : "") + (d.vectorMask ? "_m4" : "") +
    (d.uniformVec4s > 0 ? `_ubo${d.uniformVec4s}` : "");
  return `conv2d_${d.pass === "forward" ? "fwd" : "bwd_data"}_o${d.ocb}r${d.rows}c${d.cols}` +
    `u${d.kb}_k${d.kernelH}x${d.kernelW}_s${d.strideH}x${d.strideW}_d${d.dilationH}x` +
    `${d.dilationW}${phase}${weights}${stores}`;
}

function weightName(w: WeightStructure): string {
  return `conv2d_bwd_weight_o${w.ocb}i${w.icb}r${w.rows}c${w.cols}_k${w.kernelH}x${w.kernelW}` +
    `_s${w.strideH}x${w.strideW}_d${w.dilationH}x${w.dilationW}${w.withBias ? "_bias" : ""}` +
    (w.vectorDy ? "_v4" : "") + (w.xAlign >= 0 ? `_x4a${w.xAlign}` : "") +
    (w.vectorPartials ? "_s4" : "");
}

const ENTRY_SIGNATURE = "@compute @workgroup_size(WG)\n" +
  "fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,\n" +
  "        @builtin(num_workgroups) nwg: vec3u) {";

function indexOf(values: readonly number[]): Map<number, number> {
  return new Map(values.map((v, i) => [v, i]));
}

/** Entry point of the direct kernel: the whole register block unrolled, one loop over channels. */
function directMain(d: DirectStructure): string {
  const { rows, cols } = directTaps(d);
  const rowOffsets = distinctOffsets(rows);
  const colOffsets = distinctOffsets(cols);
  const rowIndex = indexOf(rowOffsets);
  const colIndex = indexOf(colOffsets);
  const pairs = usedPairs(rows, cols);
  const taps = usedTaps(rows, cols, d.kernelW);
  const out: string[] = [...directDeclarations(d), "", ENTRY_SIGNATURE];
  out.push("  let t = tile_of(wid.x + wid.y * nwg.x, lid.x);");
  rowOffsets.forEach((off, i) => out.push(`  let ro${i} = row_offset(t, ${off});`));
  if (d.colAlign < 0) {
    colOffsets.forEach((off, i) => out.push(`  let co${i} = col_offset(t, ${off});`));
  } else {
    const groups = new Set(colOffsets.map((off) => columnSlot(d.colAlign, off).group));
    for (const k of groups) {
      out.push(`  let cg${groupName(k)} = col_group(t, ${d.colAlign}, ${k});`);
    }
  }
  out.push(...weightBases(d));
  forEachBlock(
    d.ocb,
    rows.length,
    cols.length,
    (o, r, q) => out.push(`  var a${o}_${r}_${q} = 0.0;`),
  );
  out.push(`  for (var c = 0u; c < CPG_LOOP; c += ${d.kb}u) {`);
  for (let j = 0; j < d.kb; j++) out.push(`    let sb${j} = src_channel_base(t, c + ${j}u);`);
  out.push(...weightLoads(d, taps));
  for (let j = 0; j < d.kb; j++) {
    out.push(...channelLoads(j, pairs, rowIndex, colIndex, {
      align: d.colAlign,
      vectorPrefix: "g",
      scalar: (ri, ci) => `gather(sb${j}, ro${ri}, co${ci})`,
      vector: (ri, group) => `gather(sb${j}, ro${ri}, cg${group})`,
    }));
  }
  forEachBlock(d.ocb, rows.length, cols.length, (o, r, q) => {
    const terms: string[] = [];
    for (let j = 0; j < d.kb; j++) {
      for (const [ro, ky] of rows[r]) {
        for (const [co, kx] of cols[q]) {
          const v = `v${j}_${rowIndex.get(ro)}_${colIndex.get(co)}`;
          terms.push(`w${j}_${o}_${ky * d.kernelW + kx} * ${v}`);
        }
      }
    }
    if (terms.length > 0) out.push(`    a${o}_${r}_${q} += ${terms.join(" + ")};`);
  });
  out.push("  }");
  forEachBlock(d.ocb, rows.length, cols.length, (o, r, q) => {
    if (!d.vectorStore) {
      out.push(`  store(t, ${o}u, ${r}u, ${q}u, a${o}_${r}_${q});`);
    } else if (q % 4 === 0) {
      const parts = [0, 1, 2, 3].map((e) => `a${o}_${r}_${q + e}`).join(", ");
      out.push(`  store(t, ${o}u, ${r}u, ${q}u, vec4f(${parts}));`);
    }
  });
  out.push("}");
  return out.join("\n");
}

/** The src and weight bindings (f32 or vec4f elements) and the masked src gather. */
function directDeclarations(d: DirectStructure): string[] {
  const srcType = d.colAlign < 0 ? "f32" : "vec4f";
  const dstType = d.vectorStore ? "vec4f" : "f32";
  const auxType = d.vectorMask ? "vec4f" : "f32";
  const index = d.colAlign < 0
    ? "base + row.index + col.index"
    : "(base + row.index + col.index) / 4u";
  const weightDecl = d.uniformVec4s > 0
    ? [
      `@group(0) @binding(1) var<uniform> weight: array<vec4f, ${d.uniformVec4s}>;`,
      ...(d.weightVector === "none"
        ? ["fn weight_f32(i: u32) -> f32 { return weight[i / 4u][i % 4u]; }"]
        : []),
    ]
    : [
      `@group(0) @binding(1) var<storage, read> weight: array<${
        d.weightVector === "none" ? "f32" : "vec4f"
      }>;`,
    ];
  return [
    `@group(0) @binding(0) var<storage, read> src: array<${srcType}>;`,
    ...weightDecl,
    `@group(0) @binding(2) var<storage, read> aux: array<${auxType}>;`,
    `@group(0) @binding(3) var<storage, read_write> dst: array<${dstType}>;`,
    "",
    `fn gather(base: u32, row: Offset, col: Offset) -> ${srcType} {`,
    `  let v = select(${srcType}(0.0), src[${index}], row.ok && col.ok);`,
    `  if (RELU_SRC) { return max(v, ${srcType}(0.0)); }`,
    "  return v;",
    "}",
    "",
    `fn store(t: Tile, o: u32, r: u32, q: u32, value: ${dstType}) {`,
    "  let d = destination(t, o, r, q);",
    "  if (!d.ok) { return; }",
    `  let i = d.index${d.vectorStore ? " / 4u" : ""};`,
    "  var v = value;",
    d.pass === "forward"
      ? "  if (HAS_BIAS) { v += aux[d.channel]; }"
      : `  if (MASK_DST) { v = select(${dstType}(0.0), v, aux[${
        d.vectorMask ? "i" : "d.index"
      }] > ${auxType}(0.0)); }`,
    "  if (ACCUMULATE) { v += dst[i]; }",
    "  dst[i] = v;",
    "}",
  ];
}

/** WGSL-safe name part for a (possibly negative) group index. */
function groupName(k: number): string {
  return k < 0 ? `m${-k}` : `${k}`;
}

/** How `channelLoads` reads one channel's pairs: per (row, col) index or per (row, vec4 group). */
interface ChannelGather {
  /** Column alignment of vec4 groups, or −1 for f32 gathers. */
  align: number;
  /** Name prefix of the loaded vec4 groups. */
  vectorPrefix: string;
  scalar: (row: number, col: number) => string;
  vector: (row: number, group: string) => string;
}

/**
 * Lets v{tag}_{row}_{col} for every used (row, column) pair of one channel: one gather each, or
 * one per vec4 group (named {vectorPrefix}{tag}_{row}_{group}) and a component of it.
 */
function channelLoads(
  tag: number,
  pairs: Set<string>,
  rowIndex: Map<number, number>,
  colIndex: Map<number, number>,
  g: ChannelGather,
): string[] {
  const out: string[] = [];
  const loaded = new Set<string>();
  for (const key of pairs) {
    const [ro, co] = key.split(",").map(Number);
    const ri = rowIndex.get(ro)!;
    const ci = colIndex.get(co)!;
    const name = `v${tag}_${ri}_${ci}`;
    if (g.align < 0) {
      out.push(`    let ${name} = ${g.scalar(ri, ci)};`);
      continue;
    }
    const { group, lane } = columnSlot(g.align, co);
    const vector = `${g.vectorPrefix}${tag}_${ri}_${groupName(group)}`;
    if (!loaded.has(vector)) {
      loaded.add(vector);
      out.push(`    let ${vector} = ${g.vector(ri, groupName(group))};`);
    }
    out.push(`    let ${name} = ${vector}.${"xyzw"[lane]};`);
  }
  return out;
}

/**
 * Per-invocation weight offsets, outside the channel loop: of each block channel (wo{o}), or of
 * each vec4 of block channels (wq{k}, in vec4 units); loop-vectorised offsets in vec4 units too.
 */
function weightBases(d: DirectStructure): string[] {
  const out: string[] = [];
  if (d.weightVector === "dst") {
    for (let k = 0; k < d.ocb / 4; k++) out.push(`  let wq${k} = weight_quad(t, ${k}u) / 4u;`);
  } else {
    const scale = d.weightVector === "loop" ? " / 4u" : "";
    for (let o = 0; o < d.ocb; o++) out.push(`  let wo${o} = weight_channel(t, ${o}u)${scale};`);
  }
  return out;
}

/** Lets w{j}_{o}_{tap} for every unrolled channel j, block channel o and used tap. */
function weightLoads(d: DirectStructure, taps: readonly number[]): string[] {
  const out: string[] = [];
  const xyzw = "xyzw";
  if (d.weightVector === "dst") {
    // Every stride is a multiple of 4 floats: index in vec4s.
    out.push("    let wc = c * (W_LOOP / 4u);");
    for (let j = 0; j < d.kb; j++) {
      for (const tap of taps) {
        for (let k = 0; k < d.ocb / 4; k++) {
          const q = `q${j}_${k}_${tap}`;
          out.push(`    let ${q} = weight[wq${k} + wc + (${j}u * W_LOOP + ${tap}u * W_TAP) / 4u];`);
          for (let e = 0; e < 4; e++) {
            out.push(`    let w${j}_${4 * k + e}_${tap} = ${q}.${xyzw[e]};`);
          }
        }
      }
    }
  } else if (d.weightVector === "loop") {
    // W_LOOP = 1 and c a multiple of 4: the vec4 at c holds loop channels c … c + 3.
    out.push("    let wc = c / 4u;");
    for (let o = 0; o < d.ocb; o++) {
      for (const tap of taps) {
        for (let jj = 0; jj < d.kb / 4; jj++) {
          const q = `q${o}_${jj}_${tap}`;
          out.push(`    let ${q} = weight[wo${o} + wc + ${tap}u * (W_TAP / 4u) + ${jj}u];`);
          for (let e = 0; e < 4; e++) {
            out.push(`    let w${4 * jj + e}_${o}_${tap} = ${q}.${xyzw[e]};`);
          }
        }
      }
    }
  } else {
    out.push("    let wc = c * W_LOOP;");
    for (let j = 0; j < d.kb; j++) {
      for (const tap of taps) {
        for (let o = 0; o < d.ocb; o++) {
          const index = `wo${o} + wc + ${j}u * W_LOOP + ${tap}u * W_TAP`;
          const load = d.uniformVec4s > 0 ? `weight_f32(${index})` : `weight[${index}]`;
          out.push(`    let w${j}_${o}_${tap} = ${load};`);
        }
      }
    }
  }
  return out;
}

function forEachBlock(
  a: number,
  b: number,
  c: number,
  f: (i: number, j: number, k: number) => void,
): void {
  for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) for (let k = 0; k < c; k++) f(i, j, k);
}

/** Entry point of the weight-gradient kernel: one loop over reduction units. */
function weightMain(w: WeightStructure): string {
  const { rows, cols } = weightTaps(w);
  const rowOffsets = distinctOffsets(rows);
  const colOffsets = distinctOffsets(cols);
  const rowIndex = indexOf(rowOffsets);
  const colIndex = indexOf(colOffsets);
  const kk = w.kernelH * w.kernelW;
  const out: string[] = [
    ...dyDeclaration(w.vectorDy),
    ...xDeclaration(w.xAlign),
    ...partialDeclaration(w.vectorPartials),
    "",
    ENTRY_SIGNATURE,
  ];
  out.push("  let w = work_of(wid.x + wid.y * nwg.x, lid.x);");
  forEachBlock(w.ocb, w.icb, kk, (o, i, tap) => out.push(`  var a${o}_${i}_${tap} = 0.0;`));
  if (w.withBias) { for (let o = 0; o < w.ocb; o++) out.push(`  var b${o} = 0.0;`); }
  out.push(
    "  for (var u = w.chunk; u < w.unit_end; u += dims.CHUNKS) {",
    "    let p = unit_of(u);",
  );
  for (let r = 0; r < w.rows; r++) out.push(`    let dr${r} = dy_row(p, ${r}u);`);
  for (let q = 0; q < w.cols; q += w.vectorDy ? 4 : 1) {
    out.push(`    let dc${q} = dy_col(p, ${q}u);`);
  }
  rowOffsets.forEach((off, i) => out.push(`    let xr${i} = x_row(p, ${off});`));
  if (w.xAlign < 0) {
    colOffsets.forEach((off, i) => out.push(`    let xc${i} = x_col(p, ${off});`));
  } else {
    const groups = new Set(colOffsets.map((off) => columnSlot(w.xAlign, off).group));
    for (const k of groups) out.push(`    let xg${groupName(k)} = x_group(p, ${w.xAlign}, ${k});`);
  }
  for (let o = 0; o < w.ocb; o++) out.push(`    let db${o} = dy_base(w, p, ${o}u);`);
  for (let i = 0; i < w.icb; i++) out.push(`    let xb${i} = x_base(w, p, ${i}u);`);
  forEachBlock(w.ocb, w.rows, w.cols, (o, r, q) => {
    if (!w.vectorDy) {
      out.push(`    let d${o}_${r}_${q} = gather_dy(db${o}, dr${r}, dc${q});`);
    } else if (q % 4 === 0) {
      out.push(`    let d${o}_${r}_${q}v = gather_dy(db${o}, dr${r}, dc${q});`);
      for (let e = 0; e < 4; e++) {
        out.push(`    let d${o}_${r}_${q + e} = d${o}_${r}_${q}v.${"xyzw"[e]};`);
      }
    }
  });
  const pairs = usedPairs(rows, cols);
  for (let i = 0; i < w.icb; i++) {
    out.push(...channelLoads(i, pairs, rowIndex, colIndex, {
      align: w.xAlign,
      vectorPrefix: "x",
      scalar: (ri, ci) => `gather_x(xb${i}, xr${ri}, xc${ci})`,
      vector: (ri, group) => `gather_x4(xb${i}, xr${ri}, xg${group})`,
    }));
  }
  forEachBlock(w.ocb, w.icb, kk, (o, i, tap) => {
    const ky = Math.floor(tap / w.kernelW);
    const kx = tap % w.kernelW;
    const terms: string[] = [];
    for (let r = 0; r < w.rows; r++) {
      for (let q = 0; q < w.cols; q++) {
        const ri = rowIndex.get(rows[r][ky][0]);
        const ci = colIndex.get(cols[q][kx][0]);
        terms.push(`d${o}_${r}_${q} * v${i}_${ri}_${ci}`);
      }
    }
    out.push(`    a${o}_${i}_${tap} += ${terms.join(" + ")};`);
  });
  if (w.withBias) {
    for (let o = 0; o < w.ocb; o++) {
      const terms: string[] = [];
      for (let r = 0; r < w.rows; r++) {
        for (let q = 0; q < w.cols; q++) terms.push(`d${o}_${r}_${q}`);
      }
      out.push(`    b${o} += ${terms.join(" + ")};`);
    }
  }
  out.push("  }");
  const step = w.vectorPartials ? 4 : 1;
  // Four output channels at once: vec4f(a{o}, …, a{o+3}) of the same input channel and tap.
  const group = (name: (o: number) => string, o: number) =>
    step === 1 ? name(o) : `vec4f(${[0, 1, 2, 3].map((e) => name(o + e)).join(", ")})`;
  forEachBlock(w.ocb / step, w.icb, kk, (g, i, tap) => {
    const value = group((o) => `a${o}_${i}_${tap}`, g * step);
    out.push(`  store_weight_partial(w, ${g * step}u, ${i}u, ${tap}u, ${value});`);
  });
  if (w.withBias) {
    for (let o = 0; o < w.ocb; o += step) {
      out.push(`  store_bias_partial(w, ${o}u, ${group((c) => `b${c}`, o)});`);
    }
  }
  out.push("}");
  return out.join("\n");
}

/**
 * The partial bindings and their stores, f32 or four output channels at a time (vec4; dw with
 * the output channel innermost, so its index k and the bias index are multiples of 4).
 */
function partialDeclaration(vector: boolean): string[] {
  const type = vector ? "vec4f" : "f32";
  const at = vector ? "k / 4u" : "k";
  const store = (array: string) => [
    "  var v = value;",
    `  if (ACCUMULATE) { v += ${array}[${at}]; }`,
    `  ${array}[${at}] = v;`,
    "}",
  ];
  return [
    "",
    `@group(0) @binding(2) var<storage, read_write> partial: array<${type}>;`,
    `@group(0) @binding(3) var<storage, read_write> bias_partial: array<${type}>;`,
    "",
    `fn store_weight_partial(w: Work, o: u32, i: u32, tap: u32, value: ${type}) {`,
    "  let co = w.co0 + o;",
    "  let ci = w.ci0 + i;",
    "  if (!w.live || co >= dims.CPG_OUT || ci >= dims.CPG_IN) { return; }",
    "  let k = w.chunk * dims.DW_SIZE + (w.group * dims.CPG_OUT + co) * dims.DW_CO +",
    "    ci * dims.DW_CI + tap * dims.DW_TAP;",
    ...store("partial"),
    "",
    `fn store_bias_partial(w: Work, o: u32, value: ${type}) {`,
    "  let co = w.co0 + o;",
    "  if (!w.live || w.ci0 != 0u || co >= dims.CPG_OUT) { return; }",
    "  let k = w.chunk * dims.COUT + w.group * dims.CPG_OUT + co;",
    ...store("bias_partial"),
  ];
}

/**
 * The x binding and its masked gather: f32, or aligned vec4 groups of four columns (`xAlign` ≥
 * 0; W is a multiple of 4, so a group is wholly inside or outside the row).
 */
function xDeclaration(xAlign: number): string[] {
  if (xAlign < 0) {
    return [
      "@group(0) @binding(1) var<storage, read> x: array<f32>;",
      "",
      "fn gather_x(base: u32, row: Offset, col: Offset) -> f32 {",
      "  let v = select(0.0, x[base + row.index + col.index], row.ok && col.ok);",
      "  if (RELU_X) { return max(v, 0.0); }",
      "  return v;",
      "}",
    ];
  }
  return [
    "@group(0) @binding(1) var<storage, read> x: array<vec4f>;",
    "",
    "fn x_group(p: Unit, align: i32, k: i32) -> Offset {",
    "  let c = p.x_col0 - align + 4 * k;",
    "  return Offset(u32(clamp(c, 0, i32(W) - 4)), c >= 0 && c + 4 <= i32(W));",
    "}",
    "",
    "fn gather_x4(base: u32, row: Offset, col: Offset) -> vec4f {",
    "  let v = select(vec4f(0.0), x[(base + row.index + col.index) / 4u], row.ok && col.ok);",
    "  if (RELU_X) { return max(v, vec4f(0.0)); }",
    "  return v;",
    "}",
  ];
}

/** The dy binding and its masked gather (four columns at once when vectorised). */
function dyDeclaration(vector: boolean): string[] {
  const type = vector ? "vec4f" : "f32";
  const index = vector ? "(base + row.index + col.index) / 4u" : "base + row.index + col.index";
  return [
    `@group(0) @binding(0) var<storage, read> dy: array<${type}>;`,
    "",
    `fn gather_dy(base: u32, row: Offset, col: Offset) -> ${type} {`,
    `  return select(${type}(0.0), dy[${index}], row.ok && col.ok);`,
    "}",
  ];
}
