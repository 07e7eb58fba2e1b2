/**
 * NAS-Bench-201 cell encoding (spec §4.2, §8): six edges of a 4-node DAG, each carrying one of
 * five ops. Text forms: the benchmark arch string and the GenNAS op-index lists.
 */
import { allowed, InputError } from "../util/errors.ts";
import type { Rng } from "../util/rng.ts";
import type { GraphBuilder } from "../graph/builder.ts";
import type { Tensor } from "../graph/tensor.ts";
import type { SearchSpace } from "./space.ts";

export const NB201_OPS = [
  "none",
  "skip_connect",
  "nor_conv_1x1",
  "nor_conv_3x3",
  "avg_pool_3x3",
] as const;
export type Nb201Op = typeof NB201_OPS[number];

/** Six edges, in arch-string order: 1←0, 2←0, 2←1, 3←0, 3←1, 3←2. */
export interface Nb201Arch {
  ops: Nb201Op[];
}

export interface Nb201Edge {
  readonly target: number;
  readonly source: number;
}

/** Edge i of `Nb201Arch.ops` connects `source` to `target`; node 3 is the cell output. */
export const NB201_EDGES: readonly Nb201Edge[] = [
  { target: 1, source: 0 },
  { target: 2, source: 0 },
  { target: 2, source: 1 },
  { target: 3, source: 0 },
  { target: 3, source: 1 },
  { target: 3, source: 2 },
];
export const NB201_NUM_EDGES = NB201_EDGES.length;
const NB201_NODE_GROUPS = 3;

/** Per-edge resampling probability of the reference end-to-end NAS (mutate_ratio 1.0 / 5). */
export const NB201_MUTATION_PROBABILITY = 0.2;

const EXAMPLE_STRING =
  "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|";
const EXAMPLE_INDICES = "[[3],[1,0],[2,4,3]]";

function fail(text: string, problem: string): never {
  const shown = text.length > 120 ? `${text.slice(0, 117)}...` : text;
  throw new InputError(`NB-201 arch "${shown}": ${problem}`);
}

function isNb201Op(name: string): name is Nb201Op {
  return (NB201_OPS as readonly string[]).includes(name);
}

/** Parses the benchmark string or the GenNAS index form `[[a],[b,c],[d,e,f]]`. */
export function parseNb201(text: string): Nb201Arch {
  const trimmed = text.trim();
  if (trimmed.startsWith("[")) return parseIndexForm(trimmed);
  return parseArchString(trimmed);
}

function parseArchString(text: string): Nb201Arch {
  if (text === "") fail(text, `empty; expected an arch string like ${EXAMPLE_STRING}`);
  const groups = text.split("+");
  if (groups.length !== NB201_NODE_GROUPS) {
    fail(
      text,
      `has ${groups.length} node group(s) separated by "+", expected ${NB201_NODE_GROUPS} ` +
        `(nodes 1, 2 and 3), e.g. ${EXAMPLE_STRING}`,
    );
  }
  const ops: Nb201Op[] = [];
  groups.forEach((group, index) => ops.push(...parseNodeGroup(text, group, index + 1)));
  return { ops };
}

/** One `|op~0|op~1|...|` group: node `node` has one incoming edge from each earlier node. */
function parseNodeGroup(text: string, group: string, node: number): Nb201Op[] {
  if (group.length < 2 || !group.startsWith("|") || !group.endsWith("|")) {
    fail(text, `node ${node} group "${group}" must start and end with "|", e.g. "|none~0|"`);
  }
  const edges = group.slice(1, -1).split("|");
  if (edges.includes("")) {
    fail(text, `node ${node} group "${group}" has an empty edge ("||"); write "|op~k|op~k|"`);
  }
  if (edges.length !== node) {
    fail(
      text,
      `node ${node} group "${group}" has ${edges.length} edge(s), expected ${node} ` +
        `(one from each of nodes 0..${node - 1}, separated by "|")`,
    );
  }
  return edges.map((edge, source) => parseEdge(text, edge, node, source));
}

function parseEdge(text: string, edge: string, node: number, source: number): Nb201Op {
  const match = /^([^~|+]*)~([^~|+]*)$/.exec(edge);
  if (!match) {
    fail(
      text,
      `edge "${edge}" into node ${node} is not of the form op~k ` +
        `(edges are separated by "|", e.g. "|none~0|skip_connect~1|")`,
    );
  }
  const [, name, sourceText] = match;
  if (sourceText !== String(source)) {
    fail(
      text,
      `edge "${edge}" into node ${node} has source "~${sourceText}", expected "~${source}" ` +
        `(edges of node ${node} come from nodes 0..${node - 1} in order)`,
    );
  }
  if (!isNb201Op(name)) {
    fail(text, `edge "${edge}" has unknown op "${name}"; allowed: ${allowed(NB201_OPS)}`);
  }
  return name;
}

function parseIndexForm(text: string): Nb201Arch {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    fail(text, `is not valid JSON; expected the op-index form like ${EXAMPLE_INDICES}`);
  }
  const shapeProblem = `expected ${NB201_NODE_GROUPS} lists with 1, 2 and 3 op indices, ` +
    `like ${EXAMPLE_INDICES}`;
  if (!Array.isArray(value) || value.length !== NB201_NODE_GROUPS) fail(text, shapeProblem);
  const ops: Nb201Op[] = [];
  value.forEach((group: unknown, index: number) => {
    if (!Array.isArray(group) || group.length !== index + 1) fail(text, shapeProblem);
    for (const entry of group) ops.push(opFromIndex(text, entry));
  });
  return { ops };
}

function opFromIndex(text: string, entry: unknown): Nb201Op {
  if (
    typeof entry !== "number" || !Number.isInteger(entry) || entry < 0 || entry >= NB201_OPS.length
  ) {
    const listing = NB201_OPS.map((op, i) => `${i}=${op}`).join(", ");
    fail(
      text,
      `op index ${JSON.stringify(entry)} is not one of 0..${NB201_OPS.length - 1} (${listing})`,
    );
  }
  return NB201_OPS[entry];
}

/** The benchmark arch string, e.g. `|nor_conv_3x3~0|+|skip_connect~0|none~1|+|...|`. */
export function formatNb201(arch: Nb201Arch): string {
  checkArch(arch);
  const groups: string[] = [];
  let edge = 0;
  for (let node = 1; node <= NB201_NODE_GROUPS; node++) {
    const parts: string[] = [];
    for (let source = 0; source < node; source++) parts.push(`${arch.ops[edge++]}~${source}`);
    groups.push(`|${parts.join("|")}|`);
  }
  return groups.join("+");
}

/** The GenNAS op-index form `[[a],[b,c],[d,e,f]]`. */
export function nb201ToIndices(arch: Nb201Arch): number[][] {
  checkArch(arch);
  const index = arch.ops.map((op) => NB201_OPS.indexOf(op));
  return [index.slice(0, 1), index.slice(1, 3), index.slice(3, 6)];
}

function checkArch(arch: Nb201Arch): void {
  if (arch.ops.length !== NB201_NUM_EDGES || !arch.ops.every(isNb201Op)) {
    throw new InputError(
      `NB-201 arch must have ${NB201_NUM_EDGES} ops from ${allowed(NB201_OPS)}, ` +
        `got ${JSON.stringify(arch.ops)}`,
    );
  }
}

export function sampleNb201(rng: Rng): Nb201Arch {
  return { ops: NB201_EDGES.map(() => rng.choice(NB201_OPS)) };
}

/**
 * Each edge is independently resampled, uniformly over all five ops, with probability `p`; it may
 * draw its current op, so the child can equal the parent (as in the reference).
 */
export function mutateNb201(arch: Nb201Arch, rng: Rng, p = NB201_MUTATION_PROBABILITY): Nb201Arch {
  return { ops: arch.ops.map((op) => rng.bernoulli(p) ? rng.choice(NB201_OPS) : op) };
}

export const nb201Space: SearchSpace<Nb201Arch> = {
  name: "nb201",
  parse: parseNb201,
  format: formatNb201,
  key: formatNb201,
  sample: sampleNb201,
  mutate: (arch, rng) => mutateNb201(arch, rng),
};

// ---------------------------------------------------------------------------------------------
// Network (spec §4.2): stem → 5 cells → reduction → 5 cells → reduction → 5 cells, taps after
// each stack. Parameter names follow the reference wrapper's state_dict ("model.…").

/** Index of each op in the reference's OPS dict, which names the cell's `options` modules. */
const REFERENCE_OP_ORDER: readonly Nb201Op[] = [
  "none",
  "avg_pool_3x3",
  "nor_conv_3x3",
  "nor_conv_1x1",
  "skip_connect",
];

export interface Nb201NetworkOptions {
  /** Channels of the first stack (C); the reference GenNAS setting is 16. */
  initChannels: number;
  /** Cells per stack (N); 5 in NAS-Bench-201. */
  cellsPerStack?: number;
}

/** Builds the backbone on `x` and returns the three stage taps (C, 2C, 4C channels). */
export function buildNb201Network(
  g: GraphBuilder,
  x: Tensor,
  arch: Nb201Arch,
  o: Nb201NetworkOptions,
): Tensor[] {
  const c = o.initChannels;
  const cells = o.cellsPerStack ?? 5;
  const stem = g.conv2d("model.stem.net.0", x, { outChannels: c, kernel: 3, pad: 1, bias: false });
  let h = g.batchNorm("model.stem.net.1", stem, { affine: true, track: true });
  const taps: Tensor[] = [];
  for (let stack = 1; stack <= 3; stack++) {
    if (stack > 1) h = nb201Reduction(g, `model.reduction${stack - 1}`, h);
    for (let i = 0; i < cells; i++) h = nb201Cell(g, `model.stack_cell${stack}.${i}`, h, arch);
    taps.push(h);
  }
  return taps;
}

/** ResNet basic block: relu→conv3×3 s2→BN→relu→conv3×3→BN, plus avgpool 2×2→conv1×1 (ReLUs fused). */
function nb201Reduction(g: GraphBuilder, name: string, x: Tensor): Tensor {
  const out = x.c * 2;
  const a = g.conv2d(`${name}.conv_a.op.1`, x, {
    outChannels: out,
    kernel: 3,
    stride: 2,
    pad: 1,
    bias: false,
    reluInput: true,
  });
  const aAct = g.batchNorm(`${name}.conv_a.op.2`, a, { affine: true, track: true, relu: true });
  const b = g.conv2d(`${name}.conv_b.op.1`, aAct, {
    outChannels: out,
    kernel: 3,
    pad: 1,
    bias: false,
  });
  const sum = g.batchNorm(`${name}.conv_b.op.2`, b, { affine: true, track: true });
  const pooled = g.avgPool(`${name}.residual.0`, x, {
    kernel: 2,
    stride: 2,
    pad: 0,
    countIncludePad: true,
  });
  return g.conv2d(`${name}.residual.1`, pooled, { outChannels: out, kernel: 1, bias: false }, sum);
}

function nb201Cell(g: GraphBuilder, name: string, x: Tensor, arch: Nb201Arch): Tensor {
  const nodes: Tensor[] = [x];
  for (let target = 1; target <= 3; target++) {
    const terms = NB201_EDGES.flatMap((edge, index) =>
      edge.target === target && arch.ops[index] !== "none"
        ? [{ op: arch.ops[index], source: nodes[edge.source], index }]
        : []
    );
    nodes.push(nb201Node(g, `${name}.node${target}`, x.shape, terms, name));
  }
  return nodes[3];
}

interface EdgeTerm {
  op: Nb201Op;
  source: Tensor;
  index: number;
}

/** Sum of the node's incoming edges; ops that write fresh go first, skips add into them. */
function nb201Node(
  g: GraphBuilder,
  name: string,
  shape: readonly number[],
  terms: EdgeTerm[],
  cell: string,
): Tensor {
  if (terms.length === 0) return g.zeros(name, shape);
  if (terms.length === 1 && terms[0].op === "skip_connect") return terms[0].source;
  const ordered = [...terms].sort((a, b) =>
    Number(a.op === "skip_connect") - Number(b.op === "skip_connect")
  );
  // One skip is summed in by the last conv edge's batch norm (no copy launch either way).
  const lastConv = ordered.findLastIndex((t) => t.op.startsWith("nor_conv"));
  const fused = lastConv >= 0 ? ordered.findIndex((t) => t.op === "skip_connect") : -1;
  let sum: Tensor | undefined;
  ordered.forEach((term, i) => {
    if (i === fused) return;
    const module = `${cell}.options.${term.index * 5 + REFERENCE_OP_ORDER.indexOf(term.op)}`;
    const residual = i === lastConv && fused >= 0 ? ordered[fused].source : undefined;
    sum = nb201Edge(g, module, term, sum, residual);
  });
  return sum!;
}

function nb201Edge(
  g: GraphBuilder,
  module: string,
  term: EdgeTerm,
  into?: Tensor,
  residual?: Tensor,
): Tensor {
  const x = term.source;
  switch (term.op) {
    case "skip_connect":
      return g.addInto(`${module}.identity`, x, into);
    case "avg_pool_3x3":
      return g.avgPool(`${module}.avgpool`, x, {
        kernel: 3,
        stride: 1,
        pad: 1,
        countIncludePad: false,
      }, into);
    default: {
      const k = term.op === "nor_conv_3x3" ? 3 : 1;
      const conv = g.conv2d(`${module}.op.1`, x, {
        outChannels: x.c,
        kernel: k,
        pad: (k - 1) / 2,
        bias: true,
        reluInput: true, // ReLUConvBN's ReLU, fused into the conv
      });
      return g.batchNorm(`${module}.op.2`, conv, { affine: false, track: false }, into, residual);
    }
  }
}
