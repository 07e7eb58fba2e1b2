/** The journal of a search (architecture or task search): replayed on resume, appended as it goes. */
import { openRunJournal } from "../util/journal.ts";
import type { Evaluation, ReplayRecord, SearchEvent } from "./types.ts";

/** A search's journal: the journaled evaluations to replay, and each fresh one recorded. */
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
  const journal = await openRunJournal<R>(o);
  return {
    path: journal.path,
    resumed: journal.resumed,
    replay: journal.records.map(o.toReplay),
    record: async (e) => {
      if (!e.replayed) await journal.append(o.toRecord(e.evaluation));
    },
    close: () => journal.close(),
  };
}
