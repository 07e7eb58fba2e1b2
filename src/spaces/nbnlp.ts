/**
 * The NAS-Bench-NLP space (spec §4.5): an architecture is a recipe cell plus the training
 * arguments its network is built from. Text forms accepted by `parse`:
 *   - inline recipe JSON: `{"f": {"op": "linear", "input": ["x", "h_prev_0"]}, "h_new_0": …}`
 *   - inline `{"recipe": {...}, "args": {...}}` (a table row or part of one; recipe may be the
 *     benchmark's JSON string)
 *   - `TABLE#ID`: the row of a NAS-Bench-NLP table with that recepie_id or log_file name
 *   - the path of a JSON file holding a recipe or a row.
 * Args default to the PTB logs' (emsize 400, nhid 600, 3 layers, …). `format` writes the needed
 * nodes as recipe JSON (with the args only when they differ from PTB's); `key` is the canonical
 * key, so isomorphic cells (renamed nodes, commutative inputs swapped, unused nodes) share it.
 *
 * Sampling and mutation draw from a table's OK rows (the pool): `nbNlpOverPool` gives the space
 * over a run's truth table; without one the PTB table at ../shared/data is used when it exists. Mutation
 * (spec §8, "nearest cells by a structural embedding") picks uniformly among the k = 10 pool cells
 * nearest to the parent in the standardised feature vector of nbnlp_recipe.ts cellFeatures that
 * this process has not handed out yet.
 */
import { allowed, InputError } from "../util/errors.ts";
import type { Rng } from "../util/rng.ts";
import { type NlpArgs, PTB_ARGS } from "./nbnlp_build.ts";
import {
  canonicalKey,
  type Cell,
  cellFeatures,
  recipeJson,
  validateRecipe,
} from "./nbnlp_recipe.ts";
import { findNlpRow, loadNlpTable, nlpArgs, parsePythonJson, recipeValue } from "./nbnlp_table.ts";
import type { SearchSpace } from "./space.ts";

export interface NbNlpArch {
  cell: Cell;
  args: NlpArgs;
}

/** Default pool when no table is installed (resolved from the working directory). */
export const DEFAULT_NLP_TABLE = "../shared/data/nbnlp_ptb.jsonl";
/** Candidates per mutation. */
export const MUTATION_NEIGHBOURS = 10;

function sameArgs(a: NlpArgs, b: NlpArgs): boolean {
  return (Object.keys(b) as (keyof NlpArgs)[]).every((k) => a[k] === b[k]);
}

function fromValue(value: unknown, where: string): NbNlpArch {
  if (value && typeof value === "object" && !Array.isArray(value) && "recipe" in value) {
    const row = value as { recipe: unknown; args?: unknown };
    return {
      cell: validateRecipe(recipeValue(row.recipe, where)),
      args: nlpArgs(row.args, where),
    };
  }
  return { cell: validateRecipe(value), args: { ...PTB_ARGS } };
}

export function parseNbNlp(text: string): NbNlpArch {
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) {
    let value: unknown;
    try {
      value = parsePythonJson(trimmed);
    } catch {
      throw new InputError(`NAS-Bench-NLP arch: inline text starts with "{" but is not valid JSON`);
    }
    return fromValue(value, "inline arch");
  }
  const hash = trimmed.lastIndexOf("#");
  if (hash > 0) {
    const row = findNlpRow(trimmed.slice(0, hash), trimmed.slice(hash + 1));
    if (!row.cell) throw new InputError(`${trimmed}: ${row.invalid}`);
    return { cell: row.cell, args: row.args };
  }
  let fileText: string;
  try {
    fileText = Deno.readTextFileSync(trimmed);
  } catch {
    throw new InputError(
      `NAS-Bench-NLP arch "${trimmed.slice(0, 60)}": expected recipe JSON, TABLE#recepie_id ` +
        "(or #log_file) or the path of a recipe/row JSON file",
    );
  }
  let value: unknown;
  try {
    value = parsePythonJson(fileText);
  } catch {
    throw new InputError(`${trimmed}: not valid JSON`);
  }
  return fromValue(value, trimmed);
}

export function formatNbNlp(a: NbNlpArch): string {
  const recipe = recipeJson(a.cell);
  if (sameArgs(a.args, PTB_ARGS)) return recipe;
  return `{"recipe":${recipe},"args":${JSON.stringify(a.args)}}`;
}

export function nbNlpKey(a: NbNlpArch): string {
  return canonicalKey(a.cell);
}

// ---------------------------------------------------------------------------------------------
// The pool of table cells for sampling and mutation

interface PoolEntry {
  arch: NbNlpArch;
  key: string;
  features: number[];
}

class NlpPool {
  readonly entries: PoolEntry[] = [];
  readonly seen = new Set<string>();
  constructor(readonly source: string, archs: Iterable<NbNlpArch>) {
    const keys = new Set<string>();
    for (const arch of archs) {
      const key = nbNlpKey(arch);
      if (keys.has(key)) continue;
      keys.add(key);
      this.entries.push({ arch, key, features: cellFeatures(arch.cell) });
    }
    if (this.entries.length < 2) {
      throw new InputError(`${source}: fewer than 2 valid OK cells to sample from`);
    }
    // Standardise each feature over the pool (constant features drop out).
    const dims = this.entries[0].features.length;
    for (let j = 0; j < dims; j++) {
      const values = this.entries.map((e) => e.features[j]);
      const mean = values.reduce((s, v) => s + v, 0) / values.length;
      this.#mean.push(mean);
      this.#sd.push(Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length));
    }
    for (const e of this.entries) e.features = this.#standardise(e.features);
  }
  readonly #mean: number[] = [];
  readonly #sd: number[] = [];
  #standardise(raw: number[]): number[] {
    return raw.map((v, j) => this.#sd[j] > 0 ? (v - this.#mean[j]) / this.#sd[j] : 0);
  }
  #handOut(e: PoolEntry): NbNlpArch {
    this.seen.add(e.key);
    return e.arch;
  }
  sample(rng: Rng): NbNlpArch {
    const fresh = this.entries.filter((e) => !this.seen.has(e.key));
    return this.#handOut(rng.choice(fresh.length > 0 ? fresh : this.entries));
  }
  mutate(parent: NbNlpArch, rng: Rng): NbNlpArch {
    const key = nbNlpKey(parent);
    this.seen.add(key);
    const f = this.entries.find((e) => e.key === key)?.features ??
      this.#standardise(cellFeatures(parent.cell));
    const candidates = this.entries.filter((e) => e.key !== key && !this.seen.has(e.key));
    const pool = candidates.length > 0 ? candidates : this.entries.filter((e) => e.key !== key);
    const nearest = pool
      .map((e) => ({ e, d: e.features.reduce((s, v, j) => s + (v - f[j]) ** 2, 0) }))
      .sort((a, b) => a.d - b.d || (a.e.key < b.e.key ? -1 : 1))
      .slice(0, MUTATION_NEIGHBOURS);
    return this.#handOut(rng.choice(nearest).e);
  }
}

/**
 * The space whose sampling and mutation draw from `archs` (a truth table's OK, valid cells), with
 * a pool of its own: each search over a table starts with nothing handed out.
 */
export function nbNlpOverPool(
  space: SearchSpace<NbNlpArch>,
  source: string,
  archs: Iterable<NbNlpArch>,
): SearchSpace<NbNlpArch> {
  const pool = new NlpPool(source, archs);
  return { ...space, sample: (rng) => pool.sample(rng), mutate: (a, rng) => pool.mutate(a, rng) };
}

/** Without a table: the PTB table at DEFAULT_NLP_TABLE, loaded on first use. */
let defaultPool: NlpPool | undefined;

function currentPool(): NlpPool {
  if (defaultPool) return defaultPool;
  let rows;
  try {
    rows = loadNlpTable(DEFAULT_NLP_TABLE);
  } catch {
    throw new InputError(
      `nbnlp samples from a NAS-Bench-NLP table: pass --truth <nbnlp_ptb.jsonl> (default ` +
        `${DEFAULT_NLP_TABLE} is not readable)`,
    );
  }
  defaultPool = new NlpPool(
    DEFAULT_NLP_TABLE,
    rows.filter((r) => r.status === "OK" && r.cell).map((r) => ({ cell: r.cell!, args: r.args })),
  );
  return defaultPool;
}

export const nbNlpSpace: SearchSpace<NbNlpArch> = {
  name: "nbnlp",
  parse: parseNbNlp,
  format: formatNbNlp,
  key: nbNlpKey,
  sample: (rng) => currentPool().sample(rng),
  mutate: (a, rng) => currentPool().mutate(a, rng),
};

export const NBNLP_FORMS = allowed(["recipe JSON", "TABLE#recepie_id", "recipe/row JSON file"]);
