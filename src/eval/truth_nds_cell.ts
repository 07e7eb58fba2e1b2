/**
 * Ground truth of the NDS cell spaces: ../shared/data/nds_<Space>_in.jsonl read by the generic
 * NDS loader (truth_nds.ts) with the cell space's canonical key of each record's `net`
 * ({genotype, width, depth, …}). A genotype repeated in a table keeps its first row.
 */
import { ndsFromJson, ndsKey } from "../spaces/nds_cell.ts";
import { ndsDef, type NdsSpaceName } from "../spaces/nds.ts";
import { loadNdsTruth, type NdsTable } from "./truth_nds.ts";

export function loadNdsCellTruth(
  space: NdsSpaceName,
  path: string,
  o: { metric?: string } = {},
): Promise<NdsTable> {
  const def = ndsDef(space);
  return loadNdsTruth(path, {
    metric: o.metric,
    key: (net) => ndsKey(ndsFromJson(def, net)),
    onDuplicate: "keep-first",
  });
}
