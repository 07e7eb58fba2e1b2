/** The `merge` command: shard journals → one journal, report and metrics, as `rank` prints them. */
import type { Command } from "../deps.ts";
import { describeGap, mergeJournals } from "../shard/merge.ts";
import { parseNonNegativeInteger } from "./options.ts";
import { printRank } from "./print.ts";

interface MergeFlags {
  out: string;
  report?: string;
  partial?: boolean;
  bootstrap: number;
}

export function addMergeCommand(root: Command): void {
  root.command("merge")
    .description(
      "merge the shard journals of one run (rank --shard i/n) into its journal and report",
    )
    .argument("<journals...>", "the shard journals, e.g. runs/rank-*-of-4.jsonl")
    .option(
      "--out <journal>",
      "merged journal (default auto: the journal the unsharded run would write)",
      "auto",
    )
    .option("--report <html>", "HTML report (default: the merged journal with .html)")
    .option("--partial", "merge even when shards are missing or unfinished")
    .option(
      "--bootstrap <n>",
      "bootstrap resamples for confidence intervals",
      parseNonNegativeInteger,
      1000,
    )
    .action(async (journals: string[], flags: MergeFlags) => {
      const r = await mergeJournals({ journals, ...flags });
      const gaps = r.shards.filter((s) => s.scored < s.expected);
      for (const gap of gaps) console.error(`gennas merge: partial: ${describeGap(gap)}`);
      if (r.duplicates > 0) {
        console.error(`gennas merge: dropped ${r.duplicates} duplicate records (first kept)`);
      }
      if (r.adapters.length > 1) {
        console.error(
          `gennas merge: the shards ran on ${r.adapters.length} adapters (${
            r.adapters.join(" | ")
          }); scores are bit-identical only on the same backend`,
        );
      }
      if (r.replaced) console.error(`gennas merge: replaced ${r.rank.journal}`);
      const present = r.shards.filter((s) => s.path !== undefined).length;
      const expected = r.shards.reduce((sum, s) => sum + s.expected, 0);
      console.log(
        `merged ${present} of ${r.shards.length} shards: ${r.rank.archs.length} of ${expected} ` +
          `architectures${r.partial ? " (partial)" : ""}`,
      );
      printRank(r.rank);
    });
}
