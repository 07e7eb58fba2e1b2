/**
 * The journal of a search: resolves `--out` (a path, "auto" or nothing), reopens an existing
 * journal with the same settings as the evaluations to replay, and appends each fresh evaluation.
 */
import { type JournalOpen, journalPath, openJournal } from "../util/journal.ts";
import type { Evaluation, ReplayRecord, SearchEvent } from "./types.ts";

export interface SearchJournal<G> {
  /** The journal file; undefined when the run keeps none. */
  path?: string;
  resumed: boolean;
  /** The journaled evaluations, in order, for the search to replay. */
  replay: ReplayRecord[];
  /** Journals `e` unless it was itself replayed. */
  record(e: SearchEvent<G>): Promise<void>;
  close(): void;
}

export async function openSearchJournal<G, R>(o: {
  out: string | undefined;
  kind: string;
  label: string;
  settings: Record<string, unknown>;
  toReplay: (record: R) => ReplayRecord;
  toRecord: (evaluation: Evaluation<G>) => R;
}): Promise<SearchJournal<G>> {
  const path = await journalPath(o.out, o.kind, o.label, o.settings);
  const opened: JournalOpen<R> | undefined = path
    ? await openJournal<R>(path, o.kind, o.settings)
    : undefined;
  return {
    path,
    resumed: opened?.resumed ?? false,
    replay: (opened?.records ?? []).map(o.toReplay),
    record: async (e) => {
      if (!e.replayed) await opened?.journal.append(o.toRecord(e.evaluation));
    },
    close: () => opened?.journal.close(),
  };
}
