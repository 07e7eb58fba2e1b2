/**
 * Ground truth of the NDS cell spaces: ../shared/data/nds_<Space>_in.jsonl, one record per line
 * with `net` ({genotype, width, depth, …}), `params`, `flops` and `test_acc` (= 100 − final
 * top-1 error, what GenNAS ranks against; spec §4.3). key = the space's canonical key of the
 * record's arch; extra = the record's `net`. A genotype repeated in a table keeps its first row.
 */
import { InputError } from "../util/errors.ts";
import { ndsFromJson, ndsKey } from "../spaces/nds_cell.ts";
import { ndsDef, type NdsSpaceName } from "../spaces/nds.ts";

export const NDS_DEFAULT_METRIC = "test_acc";

/** A TruthTable of src/eval/truth.ts (declared here too so the two modules form no cycle). */
export interface NdsTruthTable {
  source: string;
  metric: string;
  accuracy: Map<string, number>;
  extra?: Map<string, unknown>;
  /** key → the table's `params` and `flops` (the ImageNet network's, at 224²). */
  params: Map<string, number>;
  flops: Map<string, number>;
  /** key → the record's `idx` (its row). */
  index: Map<string, number>;
  /** Rows whose arch repeated an earlier row's (left out). */
  duplicates: number;
}

export async function loadNdsCellTruth(
  space: NdsSpaceName,
  path: string,
  o: { metric?: string } = {},
): Promise<NdsTruthTable> {
  const def = ndsDef(space);
  const metric = o.metric ?? NDS_DEFAULT_METRIC;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new InputError(`truth table: cannot read "${path}": ${(error as Error).message}`);
  }
  const table: NdsTruthTable = {
    source: path,
    metric,
    accuracy: new Map(),
    extra: new Map(),
    params: new Map(),
    flops: new Map(),
    index: new Map(),
    duplicates: 0,
  };
  text.split(/\r?\n/).forEach((content, i) => {
    if (content.trim() === "") return;
    const where = `${path}: line ${i + 1}`;
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(content);
    } catch (error) {
      throw new InputError(`${where}: invalid JSON: ${(error as Error).message}`);
    }
    if (typeof row !== "object" || row === null || typeof row.net !== "object") {
      throw new InputError(`${where}: expected a record with a "net" object`);
    }
    let key: string;
    try {
      key = ndsKey(ndsFromJson(def, row.net));
    } catch (error) {
      throw new InputError(`${where}: ${(error as Error).message}`);
    }
    const value = row[metric];
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 100) {
      throw new InputError(
        `${where}: "${metric}" must be an accuracy in % (0–100), got ${JSON.stringify(value)}`,
      );
    }
    if (table.accuracy.has(key)) {
      table.duplicates++;
      return;
    }
    table.accuracy.set(key, value);
    table.extra!.set(key, row.net);
    if (typeof row.params === "number") table.params.set(key, row.params);
    if (typeof row.flops === "number") table.flops.set(key, row.flops);
    table.index.set(key, typeof row.idx === "number" ? row.idx : i);
  });
  if (table.accuracy.size === 0) throw new InputError(`${path}: no rows`);
  return table;
}
