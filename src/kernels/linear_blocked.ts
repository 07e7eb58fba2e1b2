/**
 * The lavapipe ("cpu" tilings) form of the linear kernels: A in a uniform buffer, B read as vec4s,
 * large register blocks (shaders/linear_blocked.wgsl). 3–4× the GFLOP/s of the portable kernel
 * at the recurrent cells' shapes (16 × 600 × 600: ≈ 12 against 3–4). Shapes it cannot take (A
 * over 64 KiB, B rows not whole vec4s) keep the portable kernel.
 */
import template from "../../shaders/linear_blocked.wgsl" with { type: "text" };
import { type BindingMode, declareBindings, type DeclaredBindings } from "../gpu/bindings.ts";
import { grid, type Launch } from "../gpu/kernel.ts";
import { preprocess } from "../gpu/wgsl.ts";

/** C[M][N] = Σ_k A(m, k)·B(k, n) with A(m, k) = a[m·aSm + k·aSk], B(k, n) = b[k·bSk + n·bSn]. */
export interface GemmShape {
  m: number;
  n: number;
  k: number;
  aSm: number;
  aSk: number;
  bSk: number;
  bSn: number;
}

export type GemmEntry = "gemm" | "gemm_bias" | "gemm_row_sum";
type Mode = "n4" | "k4";

/** WebGPU's guaranteed maxUniformBufferBindingSize. */
const MAX_UNIFORM_BYTES = 65536;
const WG = 8;
const TM = 16;
/** n4: vec4 column groups per lane; k4: columns per lane. */
const TV = 2;
const TC = 8;

/** The override constants both forms of the kernel share (shaders/linear*.wgsl). */
export function gemmConstants(
  g: GemmShape,
  wg: number,
  accumulate: boolean | undefined,
): Record<string, number> {
  return {
    WG: wg,
    M: g.m,
    N: g.n,
    K: g.k,
    A_SM: g.aSm,
    A_SK: g.aSk,
    B_SK: g.bSk,
    B_SN: g.bSn,
    ACCUMULATE: accumulate ? 1 : 0,
  };
}

/** The blocked form that takes this product, if any. */
export function blockedMode(g: GemmShape, entry: GemmEntry): Mode | undefined {
  // A is bound whole: M·K floats (x or dy), whole vec4s, within one uniform binding.
  const aFloats = g.m * g.k;
  if (aFloats % 4 !== 0 || aFloats * 4 > MAX_UNIFORM_BYTES) return undefined;
  if (g.aSm * (g.m - 1) + g.aSk * (g.k - 1) !== aFloats - 1) return undefined;
  if (entry !== "gemm_bias" && g.bSn === 1 && g.n % 4 === 0 && g.bSk % 4 === 0) return "n4";
  if (
    entry !== "gemm_row_sum" && g.bSk === 1 && g.aSk === 1 && g.k % 4 === 0 &&
    g.aSm % 4 === 0 && g.bSn % 4 === 0
  ) return "k4";
  return undefined;
}

/** Most products one launch sums (each binds a uniform A and a storage B; WebGPU guarantees
 *  12 uniform buffers per stage). */
export const MAX_TERMS = 4;

const layouts = new Map<string, DeclaredBindings>();

/**
 * One layout per entry and A sizes (minBindingSize), as the conv kernels' uniform weights. Term 0
 * binds a, b, c, extra at 0–3; term t ≥ 1 binds its A and B at 2t + 2 and 2t + 3.
 */
function layoutFor(entry: GemmEntry, aBytes: readonly number[]) {
  const key = `${entry}/${aBytes.join(",")}`;
  let layout = layouts.get(key);
  if (!layout) {
    const extra = entry === "gemm_row_sum" ? "read_write?" : "read?";
    const entries: Record<string, BindingMode> = {
      a: "uniform",
      b: "read",
      c: "read_write",
      extra,
    };
    const minBytes: Record<string, number> = { a: aBytes[0] };
    for (let t = 1; t < aBytes.length; t++) {
      entries[`a${t}`] = "uniform";
      entries[`b${t}`] = "read";
      minBytes[`a${t}`] = aBytes[t];
    }
    layout = declareBindings(entries, { minBytes });
    layouts.set(key, layout);
  }
  return layout;
}

/** The launch of a blocked product (blockedMode must have accepted it). */
export function blockedGemm<B>(
  name: string,
  entry: GemmEntry,
  g: GemmShape,
  io: { a: B; b: B; c: B; extra?: B },
  accumulate: boolean | undefined,
): Launch<B> {
  return blockedGemmSum(
    name,
    entry,
    [g],
    { a: [io.a], b: [io.b], c: io.c, extra: io.extra },
    accumulate,
  );
}

/** The blocked form that sums these products in one launch, if every term takes the same. */
export function blockedSumMode(terms: readonly GemmShape[], entry: GemmEntry): Mode | undefined {
  if (terms.length < 1 || terms.length > MAX_TERMS) return undefined;
  if (terms.length > 1 && entry === "gemm_row_sum") return undefined;
  const [first] = terms;
  const mode = blockedMode(first, entry);
  const same = terms.every((g) =>
    g.m === first.m && g.n === first.n && blockedMode(g, entry) === mode
  );
  return same ? mode : undefined;
}

/**
 * C (= or +=) Σ_t A_t·B_t (+ bias) in one launch: the products share M and N, each has its own K
 * and strides (term t's overrides carry the suffix t; term 0 has none).
 */
export function blockedGemmSum<B>(
  name: string,
  entry: GemmEntry,
  terms: readonly GemmShape[],
  io: { a: readonly B[]; b: readonly B[]; c: B; extra?: B },
  accumulate: boolean | undefined,
): Launch<B> {
  const mode = blockedSumMode(terms, entry);
  if (!mode || io.a.length !== terms.length || io.b.length !== terms.length) {
    throw new Error(`${name}: no blocked form for ${JSON.stringify(terms)}`);
  }
  const aVec4s = terms.map((g) => (g.m * g.k) / 4);
  const layout = layoutFor(entry, aVec4s.map((v) => v * 16));
  const [g] = terms;
  const columns = mode === "n4" ? Math.ceil(g.n / 4 / TV) : Math.ceil(g.n / TC);
  const sums = terms.length > 1 ? `_sum${terms.length}` : "";
  const kernelName = `${name}_${mode}_m${TM}${mode === "n4" ? `v${TV}` : `c${TC}`}${sums}_ubo${
    aVec4s.join("_")
  }`;
  const constants = gemmConstants(g, WG, accumulate);
  terms.slice(1).forEach((t, i) => {
    const sfx = i + 1;
    Object.assign(constants, {
      [`K${sfx}`]: t.k,
      [`A_SM${sfx}`]: t.aSm,
      [`A_SK${sfx}`]: t.aSk,
      [`B_SK${sfx}`]: t.bSk,
      [`B_SN${sfx}`]: t.bSn,
    });
  });
  const bindings: (B | undefined)[] = [io.a[0], io.b[0], io.c, io.extra];
  for (let t = 1; t < terms.length; t++) bindings.push(io.a[t], io.b[t]);
  return {
    kernel: {
      name: kernelName,
      source: sourceOf(mode, entry, aVec4s),
      entryPoint: "main",
      constants,
      layout,
    },
    bindings,
    workgroups: grid(Math.ceil(g.m / TM) * Math.ceil(columns / WG)),
  };
}

const sources = new Map<string, string>();

function sourceOf(mode: Mode, entry: GemmEntry, aVec4s: readonly number[]): string {
  const key = `${mode}/${entry}/${aVec4s.join(",")}`;
  let source = sources.get(key);
  if (!source) {
    const terms = aVec4s.length;
    const main = mode === "n4" ? n4Main(entry, terms) : k4Main(entry, terms);
    source = `${preprocess(template)}\n${declarations(mode, entry, aVec4s)}\n${main}\n`;
    sources.set(key, source);
  }
  return source;
}

/** Term t's suffix on its bindings and overrides (term 0: none, as the one-product kernel). */
const sfx = (t: number) => (t === 0 ? "" : `${t}`);

function declarations(mode: Mode, entry: GemmEntry, aVec4s: readonly number[]): string {
  const lines = [
    `@group(0) @binding(0) var<uniform> a4: array<vec4f, ${aVec4s[0]}>;`,
    "@group(0) @binding(1) var<storage, read> b4: array<vec4f>;",
    `@group(0) @binding(2) var<storage, read_write> c: array<${mode === "n4" ? "vec4f" : "f32"}>;`,
  ];
  if (entry === "gemm_bias") {
    lines.push("@group(0) @binding(3) var<storage, read> bias: array<f32>;");
  }
  if (entry === "gemm_row_sum") {
    lines.push("@group(0) @binding(3) var<storage, read_write> row_sum: array<f32>;");
  }
  for (let t = 1; t < aVec4s.length; t++) {
    lines.push(
      `override K${t}: u32;`,
      `override A_SM${t}: u32;`,
      `override A_SK${t}: u32;`,
      `override B_SK${t}: u32;`,
      `override B_SN${t}: u32;`,
      `@group(0) @binding(${2 * t + 2}) var<uniform> a4${t}: array<vec4f, ${aVec4s[t]}>;`,
      `@group(0) @binding(${2 * t + 3}) var<storage, read> b4${t}: array<vec4f>;`,
    );
  }
  return lines.join("\n");
}

const SIGNATURE = "@compute @workgroup_size(WG)\n" +
  "fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,\n" +
  "        @builtin(num_workgroups) nwg: vec3u) {";

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** m0 (first row) and blk (column block) of this lane, given the column blocks per row block. */
function tilePrologue(blocks: string): string[] {
  return [
    `  let t = tile_of(group_index(wid, nwg), lid.x, ${blocks}, ${TM}u);`,
    "  if (!t.live) { return; }",
    "  let m0 = t.m0;",
    "  let blk = t.blk;",
  ];
}

/** Lanes own TV vec4 column groups of TM rows; A(m, k) one uniform scalar per row and k. */
function n4Main(entry: GemmEntry, terms: number): string {
  const out = [SIGNATURE];
  out.push("  let groups = N / 4u;");
  out.push(...tilePrologue(`(groups + ${TV - 1}u) / ${TV}u`));
  out.push(`  let q0 = blk * ${TV}u;`);
  for (const v of range(TV)) out.push(`  let bq${v} = min(q0 + ${v}u, groups - 1u);`);
  for (const r of range(TM)) {
    for (const v of range(TV)) out.push(`  var acc${r}_${v} = vec4f(0.0);`);
  }
  const sums = entry === "gemm_row_sum";
  if (sums) { for (const r of range(TM)) out.push(`  var s${r} = 0.0;`); }
  for (const term of range(terms)) {
    const x = sfx(term);
    out.push("  {");
    for (const r of range(TM)) out.push(`  let ar${r} = min(m0 + ${r}u, M - 1u) * A_SM${x};`);
    out.push("  var bk = 0u;");
    out.push(`  for (var k = 0u; k < K${x}; k++) {`);
    for (const v of range(TV)) out.push(`    let bv${v} = b4${x}[bk + bq${v}];`);
    out.push(`    bk += B_SK${x} / 4u;`);
    out.push(`    let ka = k * A_SK${x};`);
    for (const r of range(TM)) {
      out.push(`    let i${r} = ar${r} + ka;`);
      out.push(`    let av${r} = a4${x}[i${r} / 4u][i${r} % 4u];`);
      for (const v of range(TV)) {
        out.push(`    acc${r}_${v} = fma(vec4f(av${r}), bv${v}, acc${r}_${v});`);
      }
      if (sums) out.push(`    s${r} += av${r};`);
    }
    out.push("  }");
    out.push("  }");
  }
  for (const r of range(TM)) {
    for (const v of range(TV)) {
      out.push(`  if (m0 + ${r}u < M && q0 + ${v}u < groups) {`);
      out.push(`    let at = (m0 + ${r}u) * groups + q0 + ${v}u;`);
      out.push(`    c[at] = select(acc${r}_${v}, acc${r}_${v} + c[at], ACCUMULATE);`);
      out.push("  }");
    }
  }
  if (sums) {
    out.push("  if (blk == 0u) {");
    for (const r of range(TM)) {
      out.push(`    if (m0 + ${r}u < M) {`);
      out.push(
        `      row_sum[m0 + ${r}u] = select(s${r}, s${r} + row_sum[m0 + ${r}u], ACCUMULATE);`,
      );
      out.push("    }");
    }
    out.push("  }");
  }
  out.push("}");
  return out.join("\n");
}

/** Lanes own TC columns of TM rows; four k per step, A rows and B columns as vec4s. */
function k4Main(entry: GemmEntry, terms: number): string {
  const out = [SIGNATURE];
  out.push(...tilePrologue(`(N + ${TC - 1}u) / ${TC}u`));
  out.push(`  let n0 = blk * ${TC}u;`);
  for (const r of range(TM)) for (const q of range(TC)) out.push(`  var acc${r}_${q} = 0.0;`);
  for (const term of range(terms)) {
    const x = sfx(term);
    out.push("  {");
    for (const q of range(TC)) {
      out.push(`  let bn${q} = min(n0 + ${q}u, N - 1u) * (B_SN${x} / 4u);`);
    }
    for (const r of range(TM)) {
      out.push(`  let ar${r} = min(m0 + ${r}u, M - 1u) * (A_SM${x} / 4u);`);
    }
    out.push(`  for (var k = 0u; k < K${x} / 4u; k++) {`);
    for (const q of range(TC)) out.push(`    let bv${q} = b4${x}[bn${q} + k];`);
    for (const r of range(TM)) {
      out.push(`    let av${r} = a4${x}[ar${r} + k];`);
      for (const q of range(TC)) {
        const [a, b] = [`av${r}`, `bv${q}`];
        out.push(
          `    acc${r}_${q} = fma(${a}.w, ${b}.w, fma(${a}.z, ${b}.z, fma(${a}.y, ${b}.y, ` +
            `fma(${a}.x, ${b}.x, acc${r}_${q}))));`,
        );
      }
    }
    out.push("  }");
    out.push("  }");
  }
  for (const r of range(TM)) {
    for (const q of range(TC)) {
      out.push(`  if (m0 + ${r}u < M && n0 + ${q}u < N) {`);
      out.push(`    let at = (m0 + ${r}u) * N + n0 + ${q}u;`);
      const value = entry === "gemm_bias" ? `acc${r}_${q} + bias[n0 + ${q}u]` : `acc${r}_${q}`;
      out.push(`    let v = ${value};`);
      out.push("    c[at] = select(v, v + c[at], ACCUMULATE);");
      out.push("  }");
    }
  }
  out.push("}");
  return out.join("\n");
}
