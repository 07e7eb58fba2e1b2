/**
 * The search-space contract shared by NAS-Bench-201 and NAS-Bench-101: text round trip for CLI
 * flags and journals, a ground-truth join key, and the random init / mutation of end-to-end NAS
 * (spec §8).
 */
import type { Rng } from "../util/rng.ts";
import { NDS_SPACE_NAMES } from "./nds.ts";

export const SPACE_NAMES = [
  "nb201",
  "nb101",
  "nbmacro",
  "nbnlp",
  "resnet",
  "resnet_in",
  "resnext-a",
  "resnext-a_in",
  "resnext-b",
  "resnext-b_in",
  ...NDS_SPACE_NAMES,
] as const;
export type SpaceName = typeof SPACE_NAMES[number];

export interface SearchSpace<A> {
  readonly name: SpaceName;
  /** Parses user text (CLI --arch, journal lines); InputError naming what is wrong and what is allowed. */
  parse(text: string): A;
  /** Stable text form: parse(format(a)) equals a; used in journals and reports. */
  format(a: A): string;
  /** Identity for de-duplication and for joining ground-truth tables (NB-201: the benchmark arch
   *  string; NB-101: the module hash of the pruned cell, so isomorphic cells share it). */
  key(a: A): string;
  sample(rng: Rng): A;
  mutate(a: A, rng: Rng): A;
}
