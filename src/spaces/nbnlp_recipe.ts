/**
 * NAS-Bench-NLP recipes (spec §4.5): the cell graph `{node: {op, input: [names]}}` with inputs
 * `x`, `h_prev_k` and outputs `h_new_k`. Validation, a canonical key (isomorphic cells share it)
 * and the structural feature vector that search mutation measures distances with.
 */
import { allowed, InputError } from "../util/errors.ts";

export const NLP_OPS = [
  "linear",
  "blend",
  "elementwise_prod",
  "elementwise_sum",
  "activation_tanh",
  "activation_sigm",
  "activation_leaky_relu",
] as const;
export type NlpOp = typeof NLP_OPS[number];

/** Inputs each op takes: linear ≥ 1 (Σ W_i·in_i + b), blend 3, the elementwise ops 2
 *  (the benchmark's own code fails on more), activations 1. */
const ARITY: Record<NlpOp, { min: number; max: number }> = {
  linear: { min: 1, max: Infinity },
  blend: { min: 3, max: 3 },
  elementwise_prod: { min: 2, max: 2 },
  elementwise_sum: { min: 2, max: 2 },
  activation_tanh: { min: 1, max: 1 },
  activation_sigm: { min: 1, max: 1 },
  activation_leaky_relu: { min: 1, max: 1 },
};

/** Ops whose result does not depend on the order of their inputs (linear: i.i.d. weights). */
const COMMUTATIVE: ReadonlySet<NlpOp> = new Set(["linear", "elementwise_prod", "elementwise_sum"]);

export interface RecipeNode {
  op: NlpOp;
  input: string[];
}
export type Recipe = Record<string, RecipeNode>;

/** A validated recipe and what the network builder needs from it. */
export interface Cell {
  recipe: Recipe;
  /** Hidden-tuple size: max k of `h_new_k` + 1. */
  hiddenSize: number;
  /** Computed nodes in a topological order (only those that some h_new_k depends on). */
  order: string[];
}

const H_PREV = /^h_prev_(\d+)$/;
const H_NEW = /^h_new_(\d+)$/;

function fail(problem: string): never {
  throw new InputError(`NAS-Bench-NLP recipe: ${problem}`);
}

function isLeaf(name: string): boolean {
  return name === "x" || H_PREV.test(name);
}

/** Checks the shape of a parsed JSON value and every rule of the space; returns the cell. */
export function validateRecipe(value: unknown): Cell {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    fail(`expected an object {node: {op, input: [...]}}, got ${JSON.stringify(value)}`);
  }
  const recipe: Recipe = {};
  for (const [name, raw] of Object.entries(value as Record<string, unknown>)) {
    if (isLeaf(name)) fail(`node "${name}" redefines an input (x and h_prev_k are given)`);
    const node = raw as { op?: unknown; input?: unknown };
    if (node === null || typeof node !== "object") {
      fail(`node "${name}" must be an object {op, input}, got ${JSON.stringify(raw)}`);
    }
    const extra = Object.keys(node).filter((k) => k !== "op" && k !== "input");
    if (extra.length) {
      fail(`node "${name}": unknown key ${allowed(extra)} (allowed: "op", "input")`);
    }
    if (!(NLP_OPS as readonly unknown[]).includes(node.op)) {
      fail(`node "${name}": unknown op ${JSON.stringify(node.op)}; allowed: ${allowed(NLP_OPS)}`);
    }
    const op = node.op as NlpOp;
    if (!Array.isArray(node.input) || node.input.some((i) => typeof i !== "string")) {
      fail(`node "${name}": "input" must be a list of node names`);
    }
    const input = [...node.input as string[]];
    const { min, max } = ARITY[op];
    if (input.length < min || input.length > max) {
      const want = min === max ? `${min}` : `at least ${min}`;
      fail(`node "${name}": op ${op} takes ${want} input(s), got ${input.length}`);
    }
    recipe[name] = { op, input };
  }
  const outputs = Object.keys(recipe).map((n) => H_NEW.exec(n)).filter((m) => m !== null);
  const hiddenSize = Math.max(0, ...outputs.map((m) => Number(m![1]) + 1));
  if (!recipe.h_new_0) fail(`no node "h_new_0" (the cell output)`);
  for (const [name, node] of Object.entries(recipe)) {
    for (const input of node.input) {
      const prev = H_PREV.exec(input);
      if (prev && Number(prev[1]) >= hiddenSize) {
        fail(
          `node "${name}": input "${input}" has no matching output (hidden tuple size ` +
            `${hiddenSize}: h_prev_0…h_prev_${hiddenSize - 1})`,
        );
      }
      if (!isLeaf(input) && !recipe[input]) {
        fail(
          `node "${name}": unknown input "${input}"; allowed: "x", h_prev_k or a node name ` +
            `(${allowed(Object.keys(recipe))})`,
        );
      }
    }
  }
  for (let k = 0; k < hiddenSize; k++) {
    if (!recipe[`h_new_${k}`]) {
      fail(`"h_new_${k}" is missing (outputs up to h_new_${hiddenSize - 1} exist)`);
    }
  }
  const order = topologicalOrder(recipe, hiddenSize);
  if (!dependsOn(recipe, "h_new_0", "x")) {
    fail(`node "h_new_0" does not depend on "x" (within a step or through h_prev_k)`);
  }
  return { recipe, hiddenSize, order };
}

/** Nodes needed by h_new_0…h_new_{K−1}, inputs first; a cycle is an error naming a node on it. */
function topologicalOrder(recipe: Recipe, hiddenSize: number): string[] {
  const state = new Map<string, "visiting" | "done">();
  const order: string[] = [];
  const visit = (name: string, path: string[]) => {
    if (isLeaf(name)) return;
    const s = state.get(name);
    if (s === "done") return;
    if (s === "visiting") {
      const cycle = [...path.slice(path.indexOf(name)), name].join(" → ");
      fail(`node "${name}" is on a cycle: ${cycle}`);
    }
    state.set(name, "visiting");
    for (const input of recipe[name].input) visit(input, [...path, name]);
    state.set(name, "done");
    order.push(name);
  };
  for (let k = 0; k < hiddenSize; k++) visit(`h_new_${k}`, []);
  // Cycles among nodes no output needs are errors too.
  for (const name of Object.keys(recipe)) visit(name, []);
  const needed = new Set<string>();
  const mark = (name: string) => {
    if (isLeaf(name) || needed.has(name)) return;
    needed.add(name);
    recipe[name].input.forEach(mark);
  };
  for (let k = 0; k < hiddenSize; k++) mark(`h_new_${k}`);
  return order.filter((n) => needed.has(n));
}

/**
 * Whether `from` depends on `leaf` within one step or through the recurrence (h_prev_k carries
 * h_new_k of the previous step): the least fixpoint over the hidden tuple.
 */
function dependsOn(recipe: Recipe, from: string, leaf: string): boolean {
  const carries = new Set<string>();
  for (let changed = true; changed;) {
    changed = false;
    const memo = new Map<string, boolean>();
    const walk = (name: string): boolean => {
      if (name === leaf || carries.has(name)) return true;
      if (isLeaf(name)) return false;
      const hit = memo.get(name);
      if (hit !== undefined) return hit;
      memo.set(name, false);
      const result = recipe[name].input.some(walk);
      memo.set(name, result);
      return result;
    };
    for (const name of Object.keys(recipe)) {
      const m = H_NEW.exec(name);
      const prev = m ? `h_prev_${m[1]}` : undefined;
      if (prev && !carries.has(prev) && walk(name)) {
        carries.add(prev);
        changed = true;
      }
    }
    if (!changed) return walk(from);
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Canonical key

/** Permutation search budget for inputs of commutative ops that look alike (bounded, exact
 *  below it: recipes have at most ~14 nodes and few such ties). */
const MAX_TIE_ORDERINGS = 4096;

/**
 * The canonical key: a serialisation of the needed DAG from h_new_0…h_new_{K−1}, nodes numbered
 * in visiting order. Inputs of commutative ops are visited in the order of their subtree
 * signature; where signatures tie, every ordering is tried and the smallest serialisation wins.
 * Node names, unused nodes and the input order of commutative ops do not change the key.
 */
export function canonicalKey(cell: Cell): string {
  const { recipe, hiddenSize } = cell;
  const sigMemo = new Map<string, string>();
  const sig = (name: string): string => {
    if (isLeaf(name)) return name;
    const hit = sigMemo.get(name);
    if (hit !== undefined) return hit;
    const node = recipe[name];
    const inputs = node.input.map(sig);
    if (COMMUTATIVE.has(node.op)) inputs.sort();
    const s = `${node.op}(${inputs.join(",")})`;
    sigMemo.set(name, s);
    return s;
  };
  // Per node, the candidate input orders: sorted by signature, with ties permuted.
  const choices = new Map<string, string[][]>();
  let combinations = 1;
  for (const name of cell.order) {
    const node = recipe[name];
    if (!COMMUTATIVE.has(node.op)) {
      choices.set(name, [node.input]);
      continue;
    }
    const sorted = [...node.input].sort((a, b) => (sig(a) < sig(b) ? -1 : sig(a) > sig(b) ? 1 : 0));
    const orders = tiePermutations(sorted, sig);
    combinations *= orders.length;
    choices.set(name, orders);
  }
  const names = cell.order.filter((n) => choices.get(n)!.length > 1);
  const pick = new Map<string, number>(cell.order.map((n) => [n, 0]));
  const serialise = (): string => {
    const ids = new Map<string, number>();
    const lines: string[] = [];
    const visit = (name: string): string => {
      if (isLeaf(name)) return name;
      const known = ids.get(name);
      if (known !== undefined) return `#${known}`;
      const inputs = choices.get(name)![pick.get(name)!].map(visit);
      const id = ids.size;
      ids.set(name, id);
      lines.push(`#${id}=${recipe[name].op}(${inputs.join(",")})`);
      return `#${id}`;
    };
    const outs = Array.from({ length: hiddenSize }, (_, k) => `h_new_${k}=${visit(`h_new_${k}`)}`);
    return `${lines.join(";")}|${outs.join(";")}`;
  };
  if (combinations > MAX_TIE_ORDERINGS || names.length === 0) return serialise();
  let best: string | undefined;
  const search = (i: number) => {
    if (i === names.length) {
      const s = serialise();
      if (best === undefined || s < best) best = s;
      return;
    }
    const n = choices.get(names[i])!.length;
    for (let c = 0; c < n; c++) {
      pick.set(names[i], c);
      search(i + 1);
    }
  };
  search(0);
  return best!;
}

/** Orderings of a signature-sorted list that permute only runs of equal signature. */
function tiePermutations(sorted: string[], sig: (n: string) => string): string[][] {
  let results: string[][] = [[]];
  let i = 0;
  while (i < sorted.length) {
    let j = i + 1;
    while (j < sorted.length && sig(sorted[j]) === sig(sorted[i])) j++;
    const run = sorted.slice(i, j);
    const perms = new Set(permutations(run).map((p) => JSON.stringify(p)));
    results = results.flatMap((prefix) => [...perms].map((p) => [...prefix, ...JSON.parse(p)]));
    i = j;
  }
  return results;
}

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest])
  );
}

/** The recipe as JSON with the needed nodes only, in topological order. */
export function recipeJson(cell: Cell): string {
  const out: Recipe = {};
  for (const name of cell.order) out[name] = cell.recipe[name];
  return JSON.stringify(out);
}

// ---------------------------------------------------------------------------------------------
// Structural features (search mutation, spec §8: nearest cells by a structural embedding)

/** Names of the feature vector's entries, in order. */
export const FEATURE_NAMES: readonly string[] = [
  ...NLP_OPS.map((op) => `count_${op}`),
  "nodes",
  "depth_h_new_0",
  "hidden_size",
  "uses_x",
  "uses_h_prev",
  "linear_inputs",
  "fan_in_1",
  "fan_in_2",
  "fan_in_3",
  "max_fan_out",
];

/**
 * Needed-node counts per op, node count, longest path from an input to h_new_0, hidden-tuple
 * size, how often x and the h_prev_k are read, total linear input blocks, the fan-in histogram
 * (1, 2, 3+ inputs) and the largest fan-out of any node or input.
 */
export function cellFeatures(cell: Cell): number[] {
  const { recipe, order } = cell;
  const counts = NLP_OPS.map((op) => order.filter((n) => recipe[n].op === op).length);
  const depth = new Map<string, number>();
  const depthOf = (n: string): number => isLeaf(n) ? 0 : depth.get(n)!;
  for (const n of order) depth.set(n, 1 + Math.max(...recipe[n].input.map(depthOf)));
  let usesX = 0;
  let usesH = 0;
  let linearInputs = 0;
  const fanIn = [0, 0, 0];
  const fanOut = new Map<string, number>();
  for (const n of order) {
    const { op, input } = recipe[n];
    fanIn[Math.min(input.length, 3) - 1]++;
    if (op === "linear") linearInputs += input.length;
    for (const i of input) {
      if (i === "x") usesX++;
      if (H_PREV.test(i)) usesH++;
      fanOut.set(i, (fanOut.get(i) ?? 0) + 1);
    }
  }
  return [
    ...counts,
    order.length,
    depthOf("h_new_0"),
    cell.hiddenSize,
    usesX,
    usesH,
    linearInputs,
    ...fanIn,
    Math.max(0, ...fanOut.values()),
  ];
}
