/**
 * The journals given to `gennas merge`: read (never written), de-duplicated by real path, and
 * checked to be shards of one run — the same kind, the same settings but for the shard index, and
 * no shard twice. Which shards are missing is left to the caller (`--partial` decides).
 */
import { InputError } from "../util/errors.ts";
import {
  describeSetting,
  differingSettings,
  type JournalHeader,
  readJournal,
} from "../util/journal.ts";
import { formatShard, type Shard } from "./shard.ts";

export interface ShardJournal<R = unknown> {
  path: string;
  shard: Shard;
  kind: string;
  /** The header's settings without `shard`: what an unsharded run records. */
  settings: Record<string, unknown>;
  records: R[];
}

export async function readShardJournals<R>(paths: readonly string[]): Promise<ShardJournal<R>[]> {
  if (paths.length === 0) {
    throw new InputError(
      "merge: give the shard journals of one run, e.g. gennas merge runs/rank-*-of-4.jsonl",
    );
  }
  const seen = new Set<string>();
  const journals: ShardJournal<R>[] = [];
  for (const path of paths) {
    const real = await realPathOf(path);
    if (seen.has(real)) continue;
    seen.add(real);
    journals.push(await readShardJournal<R>(path));
  }
  checkOneRun(journals);
  journals.sort((a, b) => a.shard.index - b.shard.index);
  return journals;
}

/** A file's real path; InputError naming it when it is missing. */
export async function realPathOf(path: string): Promise<string> {
  try {
    return await Deno.realPath(path);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound ? "no such file" : String(error);
    throw new InputError(`merge: cannot read journal ${path}: ${why}`);
  }
}

async function readShardJournal<R>(path: string): Promise<ShardJournal<R>> {
  let header: JournalHeader;
  let records: R[];
  try {
    ({ header, records } = await readJournal<R>(path));
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    const headless = /not a gennas journal/.test(error.message)
      ? " (a shard killed before its header landed has nothing to merge: rerun it)"
      : "";
    throw new InputError(`merge: ${error.message.replace(/; use another --out$/, "")}${headless}`);
  }
  const { shard, ...settings } = header.settings;
  return { path, shard: shardOf(path, shard), kind: header.kind, settings, records };
}

/** A journal without `shard` is a whole run: shard 0 of 1. */
function shardOf(path: string, value: unknown): Shard {
  if (value === undefined) return { index: 0, count: 1 };
  const s = value as Partial<Shard>;
  const valid = typeof s === "object" && s !== null && Number.isInteger(s.count) &&
    Number.isInteger(s.index) && s.count! >= 1 && s.index! >= 0 && s.index! < s.count!;
  if (!valid) {
    throw new InputError(
      `merge: ${path}: the header's shard ${JSON.stringify(value)} is not {index, count} with ` +
        `0 ≤ index < count`,
    );
  }
  return { index: s.index!, count: s.count! };
}

function checkOneRun(journals: readonly ShardJournal<unknown>[]): void {
  const first = journals[0];
  for (const other of journals.slice(1)) {
    const pair = `${first.path} and ${other.path}`;
    if (other.kind !== first.kind) {
      throw new InputError(
        `merge: ${pair} are not shards of one run: kind is "${first.kind}" in ${first.path}, ` +
          `"${other.kind}" in ${other.path}`,
      );
    }
    if (other.shard.count !== first.shard.count) {
      throw new InputError(
        `merge: ${pair} are not shards of one run: the shard count (n of --shard i/n) is ` +
          `${first.shard.count} in ${first.path}, ${other.shard.count} in ${other.path}`,
      );
    }
    const differing = differingSettings(first.settings, other.settings);
    if (differing.length > 0) {
      const shown = differing.slice(0, 3).map((d) =>
        `${d.field} is ${describeSetting(d.a)} in ${first.path}, ${
          describeSetting(d.b)
        } in ${other.path}`
      );
      const more = differing.length > 3 ? `; and ${differing.length - 3} more` : "";
      throw new InputError(
        `merge: ${pair} were run with different settings: ${shown.join("; ")}${more}. ` +
          `Only shards of one run (the same command but for --shard) can be merged`,
      );
    }
  }
  const byIndex = new Map<number, string>();
  for (const j of journals) {
    const earlier = byIndex.get(j.shard.index);
    if (earlier !== undefined) {
      throw new InputError(
        `merge: shard ${formatShard(j.shard)} is given twice, in ${earlier} and ${j.path} ` +
          `(overlapping shards); pass one journal per shard`,
      );
    }
    byIndex.set(j.shard.index, j.path);
  }
}
