/**
 * NAS-Bench-101 cell encoding (spec §4.1, §4.1.1, §8): an upper-triangular adjacency matrix over
 * at most 7 vertices plus one op per vertex. A spec keeps its ORIGINAL (unpruned) form, as given or
 * sampled, because mutation works on it; the network and the module hash use the pruned cell.
 */
import { createHash } from "node:crypto";
import { allowed, InputError } from "../util/errors.ts";
import type { Rng } from "../util/rng.ts";
import type { GraphBuilder } from "../graph/builder.ts";
import type { Tensor } from "../graph/tensor.ts";
import type { SearchSpace } from "./space.ts";

export const NB101_OPS = ["conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"] as const;
export type Nb101Op = typeof NB101_OPS[number];
export const NB101_INPUT = "input";
export const NB101_OUTPUT = "output";
export const NB101_MAX_VERTICES = 7;
export const NB101_MAX_EDGES = 9;

export interface Nb101Spec {
  matrix: number[][];
  ops: string[];
}

const EXAMPLE = '{"matrix":[[0,1,1],[0,0,1],[0,0,0]],"ops":["input","conv3x3-bn-relu","output"]}';

function isNb101Op(name: string): name is Nb101Op {
  return (NB101_OPS as readonly string[]).includes(name);
}

// ---------------------------------------------------------------------------------------------
// Graph structure

export function countEdges(matrix: readonly (readonly number[])[]): number {
  let edges = 0;
  for (const row of matrix) for (const entry of row) edges += entry === 1 ? 1 : 0;
  return edges;
}

/** Vertices reachable from `start` following edges forward (or backward). */
function reachable(matrix: readonly (readonly number[])[], start: number, forward: boolean) {
  const seen = new Set([start]);
  const frontier = [start];
  while (frontier.length > 0) {
    const vertex = frontier.pop()!;
    for (let other = 0; other < matrix.length; other++) {
      const linked = forward ? matrix[vertex][other] === 1 : matrix[other][vertex] === 1;
      if (linked && !seen.has(other)) {
        seen.add(other);
        frontier.push(other);
      }
    }
  }
  return seen;
}

/**
 * ModelSpec._prune: keeps only the vertices on some input→output path (reachable from the input
 * and reaching the output). Null when the input and output are disconnected.
 */
export function pruneNb101(spec: Nb101Spec): Nb101Spec | null {
  const vertices = spec.matrix.length;
  if (vertices < 2) return null;
  const fromInput = reachable(spec.matrix, 0, true);
  const toOutput = reachable(spec.matrix, vertices - 1, false);
  const kept: number[] = [];
  for (let v = 0; v < vertices; v++) if (fromInput.has(v) && toOutput.has(v)) kept.push(v);
  if (!kept.includes(0) || !kept.includes(vertices - 1)) return null;
  return {
    matrix: kept.map((row) => kept.map((column) => spec.matrix[row][column])),
    ops: kept.map((v) => spec.ops[v]),
  };
}

// ---------------------------------------------------------------------------------------------
// Validation

/** The first thing that makes `spec` an invalid NB-101 cell, or null when it is valid. */
export function nb101Problem(spec: Nb101Spec): string | null {
  return shapeProblem(spec) ?? entryProblem(spec.matrix) ?? opsProblem(spec.ops) ??
    connectivityProblem(spec);
}

export function isValidNb101(spec: Nb101Spec): boolean {
  return nb101Problem(spec) === null;
}

/** Throws InputError describing the first problem of an invalid spec. */
export function validateNb101(spec: Nb101Spec): void {
  const problem = nb101Problem(spec);
  if (problem !== null) throw new InputError(`NB-101 cell: ${problem}`);
}

function shapeProblem(spec: Nb101Spec): string | null {
  const { matrix, ops } = spec;
  if (!Array.isArray(matrix) || !matrix.every(Array.isArray)) {
    return `"matrix" must be a list of rows (lists of 0/1), e.g. ${EXAMPLE}`;
  }
  if (!Array.isArray(ops) || !ops.every((op) => typeof op === "string")) {
    return `"ops" must be a list of op names, e.g. ${EXAMPLE}`;
  }
  const vertices = matrix.length;
  const badRow = matrix.findIndex((row) => row.length !== vertices);
  if (badRow >= 0) {
    return `matrix is not square: it has ${vertices} rows but row ${badRow} has ` +
      `${matrix[badRow].length} entries`;
  }
  if (ops.length !== vertices) {
    return `ops has ${ops.length} entries but the matrix is ${vertices}×${vertices}; ` +
      `give one op per vertex`;
  }
  if (vertices > NB101_MAX_VERTICES) {
    return `has ${vertices} vertices; NB-101 cells have at most ${NB101_MAX_VERTICES}`;
  }
  if (vertices < 2) return `has ${vertices} vertices; a cell needs at least input and output`;
  return null;
}

function entryProblem(matrix: readonly (readonly unknown[])[]): string | null {
  for (let r = 0; r < matrix.length; r++) {
    for (let c = 0; c < matrix.length; c++) {
      const entry = matrix[r][c];
      if (entry !== 0 && entry !== 1) {
        return `matrix[${r}][${c}] is ${JSON.stringify(entry)}; entries must be 0 or 1`;
      }
    }
  }
  for (let r = 0; r < matrix.length; r++) {
    for (let c = 0; c <= r; c++) {
      if (matrix[r][c] === 1) {
        return `matrix[${r}][${c}] is 1: NB-101 cells are upper-triangular DAGs: ` +
          `matrix[r][c] with r ≥ c would create a cycle`;
      }
    }
  }
  return null;
}

function opsProblem(ops: readonly string[]): string | null {
  const last = ops.length - 1;
  if (ops[0] !== NB101_INPUT) {
    return `ops[0] is ${JSON.stringify(ops[0])}; the first op must be "${NB101_INPUT}"`;
  }
  if (ops[last] !== NB101_OUTPUT) {
    return `ops[${last}] is ${JSON.stringify(ops[last])}; the last op must be "${NB101_OUTPUT}"`;
  }
  for (let v = 1; v < last; v++) {
    if (!isNb101Op(ops[v])) {
      return `ops[${v}] is ${JSON.stringify(ops[v])}; interior ops must be ${allowed(NB101_OPS)}`;
    }
  }
  return null;
}

function connectivityProblem(spec: Nb101Spec): string | null {
  const pruned = pruneNb101(spec);
  const output = spec.matrix.length - 1;
  if (pruned === null) {
    return `input is not connected to output: no path from vertex 0 to vertex ${output}`;
  }
  const edges = countEdges(pruned.matrix);
  if (edges > NB101_MAX_EDGES) {
    return `has ${edges} edges after pruning; NB-101 cells have at most ${NB101_MAX_EDGES}`;
  }
  return null;
}

/** The pruned cell of a spec, throwing InputError if the spec is invalid. */
export function prunedNb101Cell(spec: Nb101Spec): Nb101Spec {
  validateNb101(spec);
  return pruneNb101(spec)!;
}

// ---------------------------------------------------------------------------------------------
// Module hash (spec §4.1.1, NASBench graph_util.hash_module)

function md5(text: string): string {
  return createHash("md5").update(text, "utf8").digest("hex");
}

function hashLabel(op: string): number {
  if (op === NB101_INPUT) return -1;
  if (op === NB101_OUTPUT) return -2;
  return NB101_OPS.indexOf(op as Nb101Op);
}

/** Iterated neighbourhood MD5 of a (pruned) matrix and its labels, equal for isomorphic cells. */
export function hashModule(matrix: readonly (readonly number[])[], labels: number[]): string {
  const vertices = matrix.length;
  const inDegree = matrix.map((_, v) => matrix.reduce((sum, row) => sum + row[v], 0));
  const outDegree = matrix.map((row) => row.reduce((sum, entry) => sum + entry, 0));
  let hashes = labels.map((label, v) => md5(`(${outDegree[v]}, ${inDegree[v]}, ${label})`));
  for (let round = 0; round < vertices; round++) {
    hashes = hashes.map((own, v) => {
      const inNeighbours = hashes.filter((_, w) => matrix[w][v] === 1).sort();
      const outNeighbours = hashes.filter((_, w) => matrix[v][w] === 1).sort();
      return md5(`${inNeighbours.join("")}|${outNeighbours.join("")}|${own}`);
    });
  }
  const sorted = [...hashes].sort();
  return md5(`[${sorted.map((h) => `'${h}'`).join(", ")}]`);
}

/** NAS-Bench-101's module hash of the pruned cell (the `hash` column of the benchmark tables). */
export function nb101Hash(spec: Nb101Spec): string {
  const pruned = prunedNb101Cell(spec);
  return hashModule(pruned.matrix, pruned.ops.map(hashLabel));
}

// ---------------------------------------------------------------------------------------------
// Channel split (spec §4.1, NASBench ComputeVertexChannels)

/**
 * Channels of each vertex of a PRUNED cell: vertices feeding the output share `outChannels` (the
 * first `outChannels mod k` get one extra), the input→output edge not counting; every other
 * interior vertex takes the max over its interior successors, in reverse vertex order.
 */
export function computeVertexChannels(
  inChannels: number,
  outChannels: number,
  matrix: readonly (readonly number[])[],
): number[] {
  const vertices = matrix.length;
  const output = vertices - 1;
  const channels = new Array<number>(vertices).fill(0);
  channels[0] = inChannels;
  channels[output] = outChannels;
  if (vertices === 2) return channels;

  let feeders = 0;
  for (let v = 1; v < output; v++) feeders += matrix[v][output];
  if (feeders === 0) throw new Error("computeVertexChannels: no interior vertex feeds the output");
  const share = Math.floor(outChannels / feeders);
  let correction = outChannels % feeders;
  for (let v = 1; v < output; v++) {
    if (matrix[v][output] !== 1) continue;
    channels[v] = share + (correction > 0 ? 1 : 0);
    if (correction > 0) correction--;
  }
  // Vertex output-1 can only feed the output, so the backward pass starts at output-2.
  for (let v = output - 2; v > 0; v--) {
    if (matrix[v][output] === 1) continue;
    for (let successor = v + 1; successor < output; successor++) {
      if (matrix[v][successor] === 1) channels[v] = Math.max(channels[v], channels[successor]);
    }
    if (channels[v] <= 0) {
      throw new Error(`computeVertexChannels: vertex ${v} gets no channels; prune the cell first`);
    }
  }
  return channels;
}

// ---------------------------------------------------------------------------------------------
// Text forms

/**
 * Parses `{"matrix":[[...]],"ops":[...]}` or the GenNAS data-file pair `[matrix, ops]`, and
 * validates it. The original (unpruned) form is kept.
 */
export function parseNb101(text: string): Nb101Spec {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InputError(`NB-101 cell is not valid JSON; expected e.g. ${EXAMPLE}`);
  }
  return nb101FromJson(value);
}

/** Validates an already-decoded JSON value (object or `[matrix, ops]` pair) as a spec. */
export function nb101FromJson(value: unknown): Nb101Spec {
  let matrix: unknown;
  let ops: unknown;
  if (Array.isArray(value) && value.length === 2) {
    [matrix, ops] = value;
  } else if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    ({ matrix, ops } = value as { matrix?: unknown; ops?: unknown });
  } else {
    throw new InputError(
      `NB-101 cell must be an object {"matrix": ..., "ops": ...} or a [matrix, ops] pair, ` +
        `e.g. ${EXAMPLE}`,
    );
  }
  if (matrix === undefined || ops === undefined) {
    throw new InputError(`NB-101 cell needs both "matrix" and "ops", e.g. ${EXAMPLE}`);
  }
  const spec = { matrix, ops } as Nb101Spec;
  validateNb101(spec);
  return { matrix: spec.matrix.map((row) => [...row]), ops: [...spec.ops] };
}

/** Compact JSON of the original spec: `{"matrix":[[0,1],[0,0]],"ops":["input","output"]}`. */
export function formatNb101(spec: Nb101Spec): string {
  return JSON.stringify({ matrix: spec.matrix, ops: spec.ops });
}

// ---------------------------------------------------------------------------------------------
// Random init and mutation (spec §8, nb101_generator.random_spec / mutate_spec)

const MAX_ATTEMPTS = 1_000_000;

function untilValid(make: () => Nb101Spec, what: string): Nb101Spec {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const spec = make();
    if (isValidNb101(spec)) return spec;
  }
  throw new Error(`${what}: no valid NB-101 cell after ${MAX_ATTEMPTS} attempts`);
}

/** 7×7 i.i.d. fair bits above the diagonal, interior ops uniform over 3, retried until valid. */
export function sampleNb101(rng: Rng): Nb101Spec {
  const vertices = NB101_MAX_VERTICES;
  return untilValid(() => {
    const matrix = squareZeros(vertices);
    for (let r = 0; r < vertices; r++) {
      for (let c = r + 1; c < vertices; c++) matrix[r][c] = rng.int(2);
    }
    const ops: string[] = [NB101_INPUT];
    for (let v = 1; v < vertices - 1; v++) ops.push(rng.choice(NB101_OPS));
    ops.push(NB101_OUTPUT);
    return { matrix, ops };
  }, "sampleNb101");
}

/**
 * From the original matrix: each upper-triangular bit flips with probability rate/V, each interior
 * op is replaced with probability rate/(V−2) by one of the other two ops; repeated until valid.
 * For V = 7 and rate 1 these are the reference's 1/7 and 1/5.
 */
export function mutateNb101(spec: Nb101Spec, rng: Rng, rate = 1): Nb101Spec {
  const vertices = spec.matrix.length;
  const edgeProbability = rate / vertices;
  const opProbability = vertices > 2 ? rate / (vertices - 2) : 0;
  return untilValid(() => {
    const matrix = spec.matrix.map((row) => [...row]);
    for (let r = 0; r < vertices; r++) {
      for (let c = r + 1; c < vertices; c++) {
        if (rng.bernoulli(edgeProbability)) matrix[r][c] = 1 - matrix[r][c];
      }
    }
    const ops = [...spec.ops];
    for (let v = 1; v < vertices - 1; v++) {
      if (rng.bernoulli(opProbability)) {
        ops[v] = rng.choice(NB101_OPS.filter((op) => op !== ops[v]));
      }
    }
    return { matrix, ops };
  }, "mutateNb101");
}

function squareZeros(size: number): number[][] {
  return Array.from({ length: size }, () => new Array<number>(size).fill(0));
}

export const nb101Space: SearchSpace<Nb101Spec> = {
  name: "nb101",
  parse: parseNb101,
  format: formatNb101,
  key: nb101Hash,
  sample: sampleNb101,
  mutate: (spec, rng) => mutateNb101(spec, rng),
};

// ---------------------------------------------------------------------------------------------
// Network (spec §4.1): stem ConvBnRelu → 3 stacks of 3 cells with 2×2 max pools between them;
// taps at the inputs of the two pools and at the end. Parameter names follow the reference
// wrapper's state_dict ("model.layers.…").

export interface Nb101NetworkOptions {
  /** Stem and first-stack channels; 16 in GenNAS (NAS-Bench-101 itself uses 128). */
  initChannels: number;
  /** "pytorch" (default init, the initial commit) or the HEAD's Kaiming fan-out normal. */
  init?: "pytorch" | "kaiming-fan-out";
}

/** Builds the backbone on `x` and returns the three stage taps (C, 2C, 4C channels). */
export function buildNb101Network(
  g: GraphBuilder,
  x: Tensor,
  spec: Nb101Spec,
  o: Nb101NetworkOptions,
): Tensor[] {
  const cell = prunedNb101Cell(spec);
  const init = o.init ?? "pytorch";
  let channels = o.initChannels;
  let h = convBnRelu(g, "model.layers.0.conv_bn_relu", x, channels, 3, init);
  const taps: Tensor[] = [];
  let layer = 1;
  for (let stack = 0; stack < 3; stack++) {
    if (stack > 0) {
      taps.push(h);
      h = g.maxPool(`model.layers.${layer++}`, h, { kernel: 2, stride: 2, pad: 0 });
      channels *= 2;
    }
    for (let module = 0; module < 3; module++) {
      h = nb101Cell(g, `model.layers.${layer++}`, h, channels, cell, init);
    }
  }
  taps.push(h);
  return taps;
}

function convBnRelu(
  g: GraphBuilder,
  name: string,
  x: Tensor,
  outChannels: number,
  kernel: number,
  init: "pytorch" | "kaiming-fan-out",
): Tensor {
  const weightInit = init === "kaiming-fan-out"
    ? { kind: "normal" as const, std: Math.sqrt(2 / (kernel * kernel * outChannels)) }
    : undefined;
  const conv = g.conv2d(`${name}.0`, x, {
    outChannels,
    kernel,
    pad: (kernel - 1) / 2,
    bias: false,
    weightInit,
  });
  return g.batchNorm(`${name}.1`, conv, { affine: true, track: true, relu: true });
}

function nb101Cell(
  g: GraphBuilder,
  name: string,
  x: Tensor,
  outChannels: number,
  cell: Nb101Spec,
  init: "pytorch" | "kaiming-fan-out",
): Tensor {
  const { matrix, ops } = cell;
  const output = matrix.length - 1;
  const channels = computeVertexChannels(x.c, outChannels, matrix);
  const projection = (t: number) =>
    convBnRelu(g, `${name}.input_op.${t}.conv_bn_relu`, x, channels[t], 1, init);
  const tensors: Tensor[] = [x];
  for (let t = 1; t < output; t++) {
    const sources: Tensor[] = [];
    for (let src = 1; src < t; src++) if (matrix[src][t] === 1) sources.push(tensors[src]);
    let sum = matrix[0][t] === 1 ? projection(t) : undefined;
    sources.forEach((source, i) => {
      const term = `${name}.vertex${t}.in${i}`;
      // A lone interior source is used as is (or truncated); a sum must start from a fresh copy.
      const fresh = sum === undefined && sources.length > 1 && source.c === channels[t];
      sum = fresh
        ? g.addInto(term, source, undefined)
        : g.sliceChannels(term, source, channels[t], sum);
    });
    tensors.push(vertexOp(g, `${name}.vertex_op.${t}`, ops[t], sum!, channels[t], init));
  }
  const feeders = tensors.filter((_, t) => t > 0 && t < output && matrix[t][output] === 1);
  if (feeders.length === 0) return projection(output);
  const residual = matrix[0][output] === 1 ? projection(output) : undefined;
  return g.concat(`${name}.concat`, feeders, residual);
}

function vertexOp(
  g: GraphBuilder,
  name: string,
  op: string,
  x: Tensor,
  channels: number,
  init: "pytorch" | "kaiming-fan-out",
): Tensor {
  switch (op) {
    case "conv3x3-bn-relu":
      return convBnRelu(g, `${name}.conv3x3.conv_bn_relu`, x, channels, 3, init);
    case "conv1x1-bn-relu":
      return convBnRelu(g, `${name}.conv1x1.conv_bn_relu`, x, channels, 1, init);
    default:
      return g.maxPool(`${name}.maxpool`, x, { kernel: 3, stride: 1, pad: 1 });
  }
}
