/**
 * Shards of a run (`--shard i/n`): shard i of n takes the positions p of the candidate list (after
 * the seeded draw) with p mod n = i, and journals to its own file. Striding rather than cutting
 * the list into blocks spreads cheap and costly architectures (neighbours in an archs file are
 * often alike) evenly over the shards. `gennas merge` puts the shard journals back together.
 */
import { InputError } from "../util/errors.ts";
import { besideJournal, journalPath } from "../util/journal.ts";

export interface Shard {
  /** 0-based, below `count`. */
  index: number;
  count: number;
}

/** Where `--shard auto/n` reads the index: Slurm job arrays, then Kubernetes Indexed Jobs. */
export const SHARD_INDEX_VARIABLES = ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"] as const;

/** Replaced in `--out` by "<i>-of-<n>", so every shard gets its own journal. */
export const SHARD_PLACEHOLDER = "{shard}";

const USAGE = "expected i/n with integers 0 ≤ i < n (e.g. 0/4), or auto/n to read i from " +
  `${SHARD_INDEX_VARIABLES.join(" or ")}`;

/**
 * Parses `--shard i/n` or `auto/n` (the index from the environment). Every problem is an
 * InputError naming the flag and what is allowed.
 */
export function parseShard(
  text: string,
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): Shard {
  const m = /^([^/]*)\/([^/]*)$/.exec(text.trim());
  if (!m) throw new InputError(`--shard "${text}": ${USAGE}`);
  const count = nonNegativeInteger(m[2]);
  if (count === undefined || count < 1) {
    throw new InputError(
      `--shard "${text}": the shard count n must be an integer ≥ 1, got "${m[2]}"; ${USAGE}`,
    );
  }
  const range = count === 1 ? "0" : `0..${count - 1}`;
  if (m[1] !== "auto") {
    const index = nonNegativeInteger(m[1]);
    if (index === undefined || index >= count) {
      throw new InputError(
        `--shard "${text}": the shard index i must be an integer in ${range} ` +
          `(shards are numbered from 0), got "${m[1]}"`,
      );
    }
    return { index, count };
  }
  const found = SHARD_INDEX_VARIABLES.map((name) => ({ name, value: env(name) }))
    .find((v) => v.value !== undefined && v.value !== "");
  if (!found) {
    throw new InputError(
      `--shard "${text}": auto needs ${SHARD_INDEX_VARIABLES.join(" or ")} ` +
        `(set by a Slurm job array or a Kubernetes Indexed Job), and neither is set; ` +
        `give the index instead, e.g. --shard 0/${count}`,
    );
  }
  const index = nonNegativeInteger(found.value!);
  if (index === undefined || index >= count) {
    throw new InputError(
      `--shard "${text}": ${found.name} is "${found.value}", but the shard index must be an ` +
        `integer in ${range} (submit ${count} tasks numbered from 0, e.g. --array=0-${count - 1})`,
    );
  }
  return { index, count };
}

/** Checks a Shard given as an object (the library API); returns it. */
export function validateShard(shard: Shard): Shard {
  const { index, count } = shard;
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(index) || index < 0) {
    throw new InputError(`--shard ${index}/${count}: ${USAGE}`);
  }
  if (index >= count) {
    throw new InputError(
      `--shard ${index}/${count}: the shard index i must be below n = ${count} ` +
        `(shards are numbered from 0)`,
    );
  }
  return shard;
}

/** `--shard` as given to the library: text (parsed, `auto` read from the environment) or parts. */
export function resolveShard(shard: string | Shard | undefined): Shard | undefined {
  if (shard === undefined) return undefined;
  return typeof shard === "string" ? parseShard(shard) : validateShard(shard);
}

export function formatShard(shard: Shard): string {
  return `${shard.index}/${shard.count}`;
}

export function inShard(position: number, shard: Shard | undefined): boolean {
  return shard === undefined || position % shard.count === shard.index;
}

/** The positions among `total` that `shard` takes, ascending. */
export function shardPositions(total: number, shard: Shard | undefined): number[] {
  return Array.from({ length: total }, (_, p) => p).filter((p) => inShard(p, shard));
}

/**
 * Checks a shard's `--out` and `--report` before anything is loaded: a shard needs a journal of
 * its own (a named one must contain {shard}), and writes no report (`gennas merge` does).
 */
export function checkShardOutputs(
  shard: Shard | undefined,
  o: { out?: string; report?: string },
): void {
  if (!shard) return;
  const { out } = o;
  if (out === undefined) {
    throw new InputError(
      `--shard ${formatShard(shard)} needs a journal for gennas merge: give --out auto or a ` +
        `path with ${SHARD_PLACEHOLDER}`,
    );
  }
  if (out !== "auto" && !out.includes(SHARD_PLACEHOLDER)) {
    const example = besideJournal(out, `-${SHARD_PLACEHOLDER}.jsonl`);
    throw new InputError(
      `--out ${out}: with --shard every shard needs its own journal; put ${SHARD_PLACEHOLDER} in ` +
        `the name (e.g. --out ${example}, which shard ${formatShard(shard)} writes as ` +
        `${shardName(example, shard)}) or use --out auto`,
    );
  }
  if (o.report !== undefined) {
    throw new InputError(
      `--report ${o.report}: a shard writes no report (it holds part of the ranking); ` +
        `gennas merge --report writes the report of the whole run`,
    );
  }
}

function shardName(template: string, shard: Shard): string {
  return template.replaceAll(SHARD_PLACEHOLDER, `${shard.index}-of-${shard.count}`);
}

/**
 * The journal of a shard. `auto`: the automatic journal of the whole run with
 * `.shard-<i>-of-<n>` before `.jsonl` (the settings hash leaves the shard out, so `gennas merge`
 * writes to the name an unsharded run would have had); otherwise {shard} becomes `<i>-of-<n>`.
 */
export async function shardJournalPath(
  out: string,
  kind: string,
  label: string,
  settings: Record<string, unknown>,
  shard: Shard,
): Promise<string> {
  if (out !== "auto") return shardName(out, shard);
  const whole = (await journalPath(out, kind, label, settings))!;
  return besideJournal(whole, `.shard-${shard.index}-of-${shard.count}.jsonl`);
}

/** The header settings of a shard: the run's settings plus `shard` (stripped again by merge). */
export function shardSettings<S extends Record<string, unknown>>(
  settings: S,
  shard: Shard | undefined,
): S & { shard?: Shard } {
  return shard ? { ...settings, shard: { index: shard.index, count: shard.count } } : settings;
}

/**
 * A shard journal's provenance line, appended before a (re)started shard scores anything: merge
 * puts the adapter in the report, as an unsharded run does. Other commands skip it (not a score).
 */
export interface ShardRunRecord {
  type: "run";
  shard: Shard;
  adapter: string;
  started: string;
}

export function shardRunRecord(shard: Shard, adapter: string): ShardRunRecord {
  return { type: "run", shard, adapter, started: new Date().toISOString() };
}

function nonNegativeInteger(text: string): number | undefined {
  return /^\d+$/.test(text) ? Number(text) : undefined;
}
