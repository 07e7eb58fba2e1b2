/**
 * Fused elementwise part of a recurrent cell (NAS-Bench-NLP recipes): one generated kernel runs a
 * whole segment of activations, products, sums and blends per element, forward; the backward
 * recomputes the segment from its inputs in registers and propagates every output gradient back
 * to the inputs in one pass, so no intermediate is stored. The WGSL is generated from the
 * segment's program (one pipeline per program shape, shared by every layer and time step).
 */
import { type BindingMode, declareBindings } from "../gpu/bindings.ts";
import { grid1d, type Launch } from "../gpu/kernel.ts";
import { preprocess } from "../gpu/wgsl.ts";
import { hashString } from "../util/rng.ts";

export const CELL_FNS = ["tanh", "sigm", "leaky_relu", "prod", "sum", "blend"] as const;
export type CellFn = typeof CELL_FNS[number];

/** Arguments each function takes: blend(a, b, c) = a·b + (1 − a)·c. */
export const CELL_ARITY: Readonly<Record<CellFn, number>> = {
  tanh: 1,
  sigm: 1,
  leaky_relu: 1,
  prod: 2,
  sum: 2,
  blend: 3,
};

/** The slope of NAS-Bench-NLP's leaky ReLU (PyTorch's default). */
export const LEAKY_SLOPE = 0.01;

/**
 * Values are numbered inputs first (0 … inputs − 1), then nodes in order; a node's arguments
 * refer to inputs or earlier nodes. `outputs` lists the node values the segment stores.
 */
export interface CellProgram {
  readonly inputs: number;
  readonly nodes: readonly { readonly fn: CellFn; readonly args: readonly number[] }[];
  readonly outputs: readonly number[];
}

/** Bindings of a program's forward (inputs + outputs) and backward (inputs + both gradients). */
export function cellBindings(p: CellProgram): { forward: number; backward: number } {
  return { forward: p.inputs + p.outputs.length, backward: 2 * p.inputs + p.outputs.length };
}

export function checkProgram(p: CellProgram): void {
  if (!Number.isInteger(p.inputs) || p.inputs < 1) throw new Error("cell program: no inputs");
  p.nodes.forEach((node, i) => {
    if (!CELL_FNS.includes(node.fn)) throw new Error(`cell program: unknown fn ${node.fn}`);
    if (node.args.length !== CELL_ARITY[node.fn]) {
      throw new Error(`cell program: node ${i} (${node.fn}) takes ${CELL_ARITY[node.fn]} args`);
    }
    for (const a of node.args) {
      if (!Number.isInteger(a) || a < 0 || a >= p.inputs + i) {
        throw new Error(`cell program: node ${i} reads value ${a}, not computed before it`);
      }
    }
  });
  const outs = new Set(p.outputs);
  if (outs.size !== p.outputs.length || p.outputs.length === 0) {
    throw new Error("cell program: outputs must be distinct and non-empty");
  }
  for (const o of p.outputs) {
    if (o < p.inputs || o >= p.inputs + p.nodes.length) {
      throw new Error(`cell program: output ${o} is not a node`);
    }
  }
}

/** A stable text of the program: the kernel's cache key and name suffix. */
function programKey(p: CellProgram): string {
  const nodes = p.nodes.map((n) => `${n.fn}(${n.args.join(",")})`).join(";");
  return `${p.inputs}|${nodes}|${p.outputs.join(",")}`;
}

function shortHash(text: string): string {
  return hashString(text).toString(16).padStart(8, "0");
}

const HEADER = preprocess(
  'override WG: u32 = 64u;\noverride N: u32;\n#include "index"\n',
);
const SIGNATURE = "@compute @workgroup_size(WG)\n" +
  "fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32,\n" +
  "        @builtin(num_workgroups) nwg: vec3u) {\n" +
  "  let i = thread_index(wid, lid, nwg);\n" +
  "  if (i >= N) { return; }";
const WG = 64;

function expression(fn: CellFn, a: string[]): string {
  switch (fn) {
    case "tanh":
      return `tanh(${a[0]})`;
    case "sigm":
      return `1.0 / (1.0 + exp(-${a[0]}))`;
    case "leaky_relu":
      return `select(${LEAKY_SLOPE} * ${a[0]}, ${a[0]}, ${a[0]} > 0.0)`;
    case "prod":
      return `${a[0]} * ${a[1]}`;
    case "sum":
      return `${a[0]} + ${a[1]}`;
    case "blend":
      return `${a[0]} * ${a[1]} + (1.0 - ${a[0]}) * ${a[2]}`;
  }
}

/** `let vK = …;` for every value: inputs read at i, nodes computed. */
function recompute(p: CellProgram): string[] {
  const lines = Array.from({ length: p.inputs }, (_, j) => `  let v${j} = in${j}[i];`);
  p.nodes.forEach((node, k) => {
    lines.push(`  let v${p.inputs + k} = ${expression(node.fn, node.args.map((a) => `v${a}`))};`);
  });
  return lines;
}

function storage(binding: number, name: string, mode: "read" | "read_write"): string {
  const access = mode === "read" ? "read" : "read_write";
  return `@group(0) @binding(${binding}) var<storage, ${access}> ${name}: array<f32>;`;
}

const forwardSources = new Map<string, string>();
const backwardSources = new Map<string, string>();

function cached(map: Map<string, string>, key: string, make: () => string): string {
  let source = map.get(key);
  if (source === undefined) {
    source = make();
    map.set(key, source);
  }
  return source;
}

function forwardSource(p: CellProgram): string {
  return cached(forwardSources, programKey(p), () => {
    const lines = [HEADER];
    for (let j = 0; j < p.inputs; j++) lines.push(storage(j, `in${j}`, "read"));
    p.outputs.forEach((_, o) => lines.push(storage(p.inputs + o, `out${o}`, "read_write")));
    lines.push(SIGNATURE, ...recompute(p));
    p.outputs.forEach((v, o) => lines.push(`  out${o}[i] = v${v};`));
    lines.push("}");
    return lines.join("\n") + "\n";
  });
}

/** Which output gradients exist and which input gradients are wanted shape the backward. */
function backwardSource(p: CellProgram, gradOut: boolean[], gradIn: boolean[]): string {
  // Bindings are numbered in the order cellBackward lists them: absent gradients take none.
  const lines = [HEADER];
  let binding = 0;
  for (let j = 0; j < p.inputs; j++) {
    lines.push(`override ACC${j}: bool = false;`);
    lines.push(storage(binding++, `in${j}`, "read"));
  }
  p.outputs.forEach((_, o) => {
    if (gradOut[o]) lines.push(storage(binding++, `gout${o}`, "read"));
  });
  for (let j = 0; j < p.inputs; j++) {
    if (gradIn[j]) lines.push(storage(binding++, `gin${j}`, "read_write"));
  }
  lines.push(SIGNATURE, ...recompute(p));
  const values = p.inputs + p.nodes.length;
  for (let v = 0; v < values; v++) lines.push(`  var g${v} = 0.0;`);
  p.outputs.forEach((v, o) => {
    if (gradOut[o]) lines.push(`  g${v} = gout${o}[i];`);
  });
  for (let k = p.nodes.length - 1; k >= 0; k--) {
    const { fn, args } = p.nodes[k];
    const y = p.inputs + k;
    const [a, b, c] = args;
    const add = (to: number, term: string) => lines.push(`  g${to} += g${y} * ${term};`);
    switch (fn) {
      case "tanh":
        add(a, `(1.0 - v${y} * v${y})`);
        break;
      case "sigm":
        add(a, `v${y} * (1.0 - v${y})`);
        break;
      case "leaky_relu":
        add(a, `select(${LEAKY_SLOPE}, 1.0, v${a} > 0.0)`);
        break;
      case "prod":
        add(a, `v${b}`);
        add(b, `v${a}`);
        break;
      case "sum":
        add(a, "1.0");
        add(b, "1.0");
        break;
      case "blend":
        add(a, `(v${b} - v${c})`);
        add(b, `v${a}`);
        add(c, `(1.0 - v${a})`);
        break;
    }
  }
  for (let j = 0; j < p.inputs; j++) {
    if (gradIn[j]) lines.push(`  gin${j}[i] = select(g${j}, g${j} + gin${j}[i], ACC${j});`);
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}

function layout(entries: [string, BindingMode][]) {
  return declareBindings(Object.fromEntries(entries));
}

/** outputs[o] = value p.outputs[o] of the program over n elements (inputs all n long). */
export function cellForward<B>(
  p: CellProgram,
  n: number,
  io: { inputs: readonly B[]; outputs: readonly B[] },
): Launch<B> {
  checkProgram(p);
  if (io.inputs.length !== p.inputs || io.outputs.length !== p.outputs.length) {
    throw new Error("cellForward: bindings do not match the program");
  }
  const decl = layout([
    ...io.inputs.map((_, j): [string, BindingMode] => [`in${j}`, "read"]),
    ...io.outputs.map((_, o): [string, BindingMode] => [`out${o}`, "read_write"]),
  ]);
  return {
    kernel: {
      name: `cell_fwd_${shortHash(programKey(p))}`,
      source: forwardSource(p),
      entryPoint: "main",
      constants: { WG, N: n },
      layout: decl,
    },
    bindings: [...io.inputs, ...io.outputs],
    workgroups: grid1d(n, WG),
  };
}

/**
 * Input gradients (= or += per input) from the output gradients; an absent output gradient is
 * zero, an absent input gradient is not computed. Undefined when no gradient is wanted.
 */
export function cellBackward<B>(
  p: CellProgram,
  n: number,
  io: {
    inputs: readonly B[];
    gradOut: readonly (B | undefined)[];
    gradIn: readonly ({ slot: B; accumulate: boolean } | undefined)[];
  },
): Launch<B> | undefined {
  checkProgram(p);
  if (
    io.inputs.length !== p.inputs || io.gradOut.length !== p.outputs.length ||
    io.gradIn.length !== p.inputs
  ) throw new Error("cellBackward: bindings do not match the program");
  const hasOut = io.gradOut.map((g) => g !== undefined);
  const hasIn = io.gradIn.map((g) => g !== undefined);
  if (!hasOut.some(Boolean) || !hasIn.some(Boolean)) return undefined;
  const entries: [string, BindingMode][] = [];
  const bindings: B[] = [];
  io.inputs.forEach((b, j) => {
    entries.push([`in${j}`, "read"]);
    bindings.push(b);
  });
  io.gradOut.forEach((b, o) => {
    if (b === undefined) return;
    entries.push([`gout${o}`, "read"]);
    bindings.push(b);
  });
  io.gradIn.forEach((t, j) => {
    if (t === undefined) return;
    entries.push([`gin${j}`, "read_write"]);
    bindings.push(t.slot);
  });
  const constants: Record<string, number> = { WG, N: n };
  io.gradIn.forEach((t, j) => {
    if (t?.accumulate) constants[`ACC${j}`] = 1;
  });
  const mask = (bits: boolean[]) => bits.map((b) => (b ? "1" : "0")).join("");
  const key = `${programKey(p)}|${mask(hasOut)}|${mask(hasIn)}`;
  return {
    kernel: {
      name: `cell_bwd_${shortHash(key)}`,
      source: cached(backwardSources, key, () => backwardSource(p, hasOut, hasIn)),
      entryPoint: "main",
      constants,
      layout: layout(entries),
    },
    bindings,
    workgroups: grid1d(n, WG),
  };
}
