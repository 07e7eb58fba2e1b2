/** Seeded parameter initialisation: values depend only on (seed, parameter name). */
import { Rng } from "../util/rng.ts";
import type { InitSpec } from "./tensor.ts";

export function initialValues(
  spec: InitSpec,
  size: number,
  seed: number,
  name: string,
): Float32Array {
  const out = new Float32Array(size);
  if (spec.kind === "constant") return out.fill(spec.value);
  const rng = new Rng(seed).fork(name);
  if (spec.kind === "uniform") {
    for (let i = 0; i < size; i++) out[i] = (rng.uniform() * 2 - 1) * spec.bound;
  } else {
    for (let i = 0; i < size; i++) out[i] = rng.normal() * spec.std;
  }
  return out;
}
