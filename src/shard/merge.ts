/**
 * `gennas merge`: the shard journals of one `gennas rank` run become the journal and HTML report
 * an unsharded run with the same settings writes — the same header settings, the same records in
 * the same (position) order, the same metrics. No GPU is needed: the candidates are rebuilt from
 * the recorded settings (truth table, archs file, seed) and the scores come from the journals.
 */
import { dirname } from "node:path";
import { accuraciesFor, loadTruth } from "../eval/truth.ts";
import { median } from "../eval/metrics.ts";
import { rankCandidates, type RankReport } from "../proxy/run.ts";
import { rankOutcome, type RankRecord, type RankSettings } from "../proxy/ranking.ts";
import { getSpace } from "../spaces/index.ts";
import { InputError } from "../util/errors.ts";
import {
  besideJournal,
  journalPath,
  openJournal,
  readJournal,
  settingDifferences,
} from "../util/journal.ts";
import { readShardJournals, realPathOf, type ShardJournal } from "./inputs.ts";
import {
  formatShard,
  inShard,
  type Shard,
  SHARD_PLACEHOLDER,
  shardPositions,
  type ShardRunRecord,
} from "./shard.ts";

export interface MergeOptions {
  /** The shard journals (any order; the same file twice counts once). */
  journals: string[];
  /** The merged journal; "auto" (default): the automatic journal of the unsharded run. */
  out?: string;
  /** The HTML report (default: the merged journal with .html). */
  report?: string;
  /** Merge even when shards are missing or unfinished (their architectures are left out). */
  partial?: boolean;
  /** Bootstrap resamples for the τ/ρ intervals, as `gennas rank --bootstrap` (default 1000). */
  bootstrap?: number;
}

export interface ShardCoverage {
  shard: Shard;
  /** The journal, or undefined for a shard no journal was given for. */
  path?: string;
  scored: number;
  expected: number;
}

export interface MergeReport {
  /** What `gennas rank` would report for the merged journal. */
  rank: RankReport;
  shards: ShardCoverage[];
  /** Records of a position already merged (from the same journal), dropped. */
  duplicates: number;
  /** The adapters the shards ran on, one per distinct adapter. */
  adapters: string[];
  /** True when some shard was missing or unfinished (only with `partial`). */
  partial: boolean;
  /** An existing journal with the same settings was replaced. */
  replaced: boolean;
}

type MergeRecord = RankRecord | ShardRunRecord;

export async function mergeJournals(o: MergeOptions): Promise<MergeReport> {
  if (o.out?.includes(SHARD_PLACEHOLDER)) {
    throw new InputError(`merge --out ${o.out}: the merged journal is one file; drop {shard}`);
  }
  const journals = await readShardJournals<MergeRecord>(o.journals);
  const kind = journals[0].kind;
  if (kind !== "rank") {
    throw new InputError(
      `merge: ${journals[0].path} records a "${kind}" run; gennas merge combines shards of ` +
        `gennas rank`,
    );
  }
  const settings = journals[0].settings as RankSettings;
  const candidates = await candidatesOf(settings);
  const { scored, duplicates } = collectScores(journals, candidates.archs);
  const shards = coverage(journals, candidates.archs.length, scored);
  const gaps = shards.filter((s) => s.scored < s.expected);
  if (gaps.length > 0 && !o.partial) {
    throw new InputError(
      `merge: the shards do not cover the run: ${gaps.map(describeGap).join("; ")}. ` +
        `Run or resume them (rerun the same command), or merge what there is with --partial`,
    );
  }
  if (scored.size === 0) throw new InputError("merge: the journals hold no scores to merge");

  const out = (await journalPath(o.out ?? "auto", "rank", settings.space, settings))!;
  const replaced = await checkOut(out, journals, settings);
  await writeJournal(out, settings, scored);
  const adapters = [
    ...new Set(
      journals.flatMap((j) => j.records.filter(isRunRecord).map((r) => r.adapter)),
    ),
  ];
  const report = o.report ?? besideJournal(out, ".html");
  const { archs, metrics, baselines, proxies } = await rankOutcome({
    settings,
    adapter: adapters.length > 0 ? adapters.join(" | ") : "(not recorded)",
    accuracies: candidates.accuracies,
    scored,
    bootstrap: o.bootstrap ?? 1000,
    report,
  });
  return {
    rank: {
      metrics,
      proxies,
      baselines,
      archs,
      secondsPerArch: median(archs.map((a) => a.seconds)),
      truthMetric: String(settings.truthMetric),
      journal: out,
      report,
      resumed: false,
    },
    shards,
    duplicates,
    adapters,
    partial: gaps.length > 0,
    replaced,
  };
}

/** The candidate list of the run, rebuilt as `gennas rank` builds it from the same settings. */
async function candidatesOf(
  settings: RankSettings,
): Promise<{ archs: string[]; accuracies: number[] }> {
  const space = getSpace(settings.space);
  const metric = String(settings.truthMetric);
  const truth = String(settings.truth);
  const table = await loadTruth(
    space.name,
    truth,
    space.name === "nb201" ? { dataset: metric.replace(/_test$/, "") } : { metric },
  ).catch((error) => {
    if (!(error instanceof InputError)) throw error;
    throw new InputError(`merge: cannot read the shards' ground truth: ${error.message}`);
  });
  const candidates = await rankCandidates(space, table, {
    archs: (settings.archs as string | null) ?? undefined,
    limit: (settings.limit as number | null) ?? undefined,
    sample: (settings.sample as number | null) ?? undefined,
  }, settings.proxy.seed);
  const archs = candidates.map((c) => c.text);
  const keys = candidates.map((c) => space.key(c.arch));
  return { archs, accuracies: accuraciesFor(table, keys) };
}

function collectScores(
  journals: readonly ShardJournal<MergeRecord>[],
  archs: readonly string[],
): { scored: Map<number, RankRecord>; duplicates: number } {
  const scored = new Map<number, RankRecord>();
  let duplicates = 0;
  for (const j of journals) {
    for (const r of j.records) {
      if (r.type !== "score") continue;
      const where = `merge: ${j.path} (shard ${formatShard(j.shard)})`;
      if (!Number.isInteger(r.index) || r.index < 0 || r.index >= archs.length) {
        throw new InputError(
          `${where} holds position ${r.index}, outside the ${archs.length} candidates of its settings`,
        );
      }
      if (!inShard(r.index, j.shard)) {
        throw new InputError(
          `${where} holds position ${r.index}, which belongs to shard ` +
            `${r.index % j.shard.count}/${j.shard.count}`,
        );
      }
      if (r.arch !== archs[r.index]) {
        throw new InputError(
          `${where}: position ${r.index} records ${r.arch}, but its settings now give ` +
            `${archs[r.index]} there; did the truth table or archs file change since it ran?`,
        );
      }
      if (scored.has(r.index)) duplicates++;
      else scored.set(r.index, r);
    }
  }
  return { scored, duplicates };
}

function coverage(
  journals: readonly ShardJournal<MergeRecord>[],
  total: number,
  scored: ReadonlyMap<number, RankRecord>,
): ShardCoverage[] {
  const count = journals[0].shard.count;
  return Array.from({ length: count }, (_, index) => {
    const shard = { index, count };
    const positions = shardPositions(total, shard);
    return {
      shard,
      path: journals.find((j) => j.shard.index === index)?.path,
      scored: positions.filter((p) => scored.has(p)).length,
      expected: positions.length,
    };
  });
}

export function describeGap(s: ShardCoverage): string {
  const which = `shard ${formatShard(s.shard)}`;
  if (s.path === undefined) return `${which} is missing (no journal given)`;
  return `${which} (${s.path}) has ${s.scored} of ${s.expected} architectures`;
}

/**
 * The merged journal may replace an earlier merge (a journal with the same settings), never a
 * shard being merged nor a journal of other settings. Returns whether a file is replaced.
 */
async function checkOut(
  out: string,
  journals: readonly ShardJournal<unknown>[],
  settings: RankSettings,
): Promise<boolean> {
  const dir = dirname(out);
  const isDir = await Deno.stat(dir).then((s) => s.isDirectory, () => false);
  if (!isDir) throw new InputError(`merge --out ${out}: directory ${dir} does not exist`);
  if (!(await Deno.stat(out).then(() => true, () => false))) return false;
  const real = await realPathOf(out);
  for (const j of journals) {
    if ((await realPathOf(j.path)) === real) {
      throw new InputError(`merge --out ${out} is one of the journals being merged`);
    }
  }
  const existing = await readJournal(out).catch(() => undefined);
  if (!existing) {
    throw new InputError(
      `merge --out ${out} exists and is not a gennas journal; choose another --out`,
    );
  }
  const differences = existing.header.kind === "rank"
    ? settingDifferences(existing.header.settings, settings)
    : [`kind: journal "${existing.header.kind}", requested "rank"`];
  if (differences.length > 0) {
    throw new InputError(
      `merge --out ${out} holds a journal of other settings (${differences[0]}); ` +
        `it is never overwritten: choose another --out`,
    );
  }
  return true;
}

/** Written beside `out` and renamed over it, so a reader never sees half a merge. */
async function writeJournal(
  out: string,
  settings: RankSettings,
  scored: ReadonlyMap<number, RankRecord>,
): Promise<void> {
  const temp = `${out}.merge-${Deno.pid}.tmp`;
  await Deno.remove(temp).catch(() => {});
  const { journal } = await openJournal<RankRecord>(temp, "rank", settings);
  try {
    for (const index of [...scored.keys()].sort((a, b) => a - b)) {
      await journal.append(scored.get(index)!);
    }
  } finally {
    journal.close();
  }
  await Deno.rename(temp, out);
}

function isRunRecord(r: MergeRecord): r is ShardRunRecord {
  return r.type === "run";
}
