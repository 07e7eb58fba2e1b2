/**
 * How one time step of a NAS-Bench-NLP cell is launched (src/graph/ops_cell.ts): per linear depth,
 * the linear nodes as one op (one launch per node, one per input's data gradient) and the
 * elementwise nodes fused into one segment, so a step costs a few dispatches per depth instead
 * of one or more per node and product.
 *
 * The linear depth of a node is the largest number of linear nodes on a path from the inputs to
 * it (inclusive). Stages run by depth: the linears of depth d, then the elementwise nodes of
 * depth d as one segment; a linear of depth d + 1 reads only values of depth ≤ d. A segment that
 * would bind more storage buffers in its backward than the device allows (default 8, WebGPU's
 * guaranteed maxStorageBuffersPerShaderStage; lavapipe allows 32) is split, greedily in
 * topological order.
 */
import { cellBindings, type CellFn, type CellProgram } from "../kernels/cell.ts";
import type { Cell, NlpOp } from "./nbnlp_recipe.ts";

export const MAX_SEGMENT_BINDINGS = 8;

export type Stage =
  | { kind: "node"; node: string }
  | { kind: "linears"; nodes: string[]; depth: number }
  | { kind: "segment"; nodes: string[]; inputs: string[]; outputs: string[]; program: CellProgram };

const FN: Partial<Record<NlpOp, CellFn>> = {
  activation_tanh: "tanh",
  activation_sigm: "sigm",
  activation_leaky_relu: "leaky_relu",
  elementwise_prod: "prod",
  elementwise_sum: "sum",
  blend: "blend",
};

/** Linear depth of every computed node. */
export function linearDepths(cell: Cell): Map<string, number> {
  const depth = new Map<string, number>();
  for (const name of cell.order) {
    const spec = cell.recipe[name];
    const deepest = Math.max(0, ...spec.input.map((i) => depth.get(i) ?? 0));
    depth.set(name, deepest + (spec.op === "linear" ? 1 : 0));
  }
  return depth;
}

/**
 * The stages of one step. Unfused (or where an elementwise node reads x, whose width differs
 * from the hidden size): every node its own stage, in topological order.
 */
export function cellStages(
  cell: Cell,
  fuse: boolean,
  maxBindings = MAX_SEGMENT_BINDINGS,
): Stage[] {
  const elementwise = cell.order.filter((n) => cell.recipe[n].op !== "linear");
  if (!fuse || elementwise.some((n) => cell.recipe[n].input.includes("x"))) {
    return cell.order.map((node) => ({ kind: "node", node }));
  }
  const depth = linearDepths(cell);
  const maxDepth = Math.max(0, ...depth.values());
  const stages: Stage[] = [];
  for (let d = 0; d <= maxDepth; d++) {
    const linears = cell.order.filter((n) => depth.get(n) === d && cell.recipe[n].op === "linear");
    if (linears.length > 0) stages.push({ kind: "linears", nodes: linears, depth: d });
    let current: string[] = [];
    for (const node of elementwise.filter((n) => depth.get(n) === d)) {
      const grown = [...current, node];
      if (
        current.length > 0 &&
        cellBindings(segment(cell, grown).program).backward > maxBindings
      ) {
        stages.push(segment(cell, current));
        current = [node];
      } else {
        current = grown;
      }
    }
    if (current.length > 0) stages.push(segment(cell, current));
  }
  return stages;
}

function segment(cell: Cell, nodes: string[]): Extract<Stage, { kind: "segment" }> {
  const inside = new Set(nodes);
  const inputs: string[] = [];
  for (const n of nodes) {
    for (const i of cell.recipe[n].input) {
      if (!inside.has(i) && !inputs.includes(i)) inputs.push(i);
    }
  }
  const readOutside = (n: string) =>
    /^h_new_\d+$/.test(n) ||
    cell.order.some((m) => !inside.has(m) && cell.recipe[m].input.includes(n));
  const outputs = nodes.filter(readOutside);
  const index = (name: string) => {
    const j = inputs.indexOf(name);
    return j >= 0 ? j : inputs.length + nodes.indexOf(name);
  };
  const program: CellProgram = {
    inputs: inputs.length,
    nodes: nodes.map((n) => ({
      fn: FN[cell.recipe[n].op]!,
      args: cell.recipe[n].input.map(index),
    })),
    outputs: outputs.map(index),
  };
  return { kind: "segment", nodes, inputs, outputs, program };
}
