/**
 * `--max-flops`: a compute budget on the architectures a command scores, in millions of
 * multiply-accumulates per 3×32×32 image as `flops` counts them (src/proxy/cost.ts). Off unless
 * given. `score` refuses an arch over it, `rank` drops such archs before scoring (and says how
 * many), `search` draws again until a candidate fits.
 */
import type { BackboneOptions, NetworkSpace } from "../spaces/index.ts";
import { InputError } from "../util/errors.ts";
import type { Rng } from "../util/rng.ts";
import { archCost } from "./cost.ts";

/** Draws tried by `search` for a candidate within the budget before it gives up. */
export const BUDGET_DRAWS = 1000;

export function validateMaxFlops(maxFlops: number | undefined): void {
  if (maxFlops !== undefined && !(Number.isFinite(maxFlops) && maxFlops > 0)) {
    throw new InputError(
      `--max-flops must be a positive number (million MACs per sample, as flops counts them), got ${maxFlops}`,
    );
  }
}

/** Per-image MACs of an arch in millions, as `flops` counts them. */
export function megaMacs<A>(space: NetworkSpace<A>, arch: A, o: BackboneOptions): number {
  return archCost(space, arch, o).macs / 1e6;
}

/** InputError when the arch's counted MACs exceed the budget. */
export function checkBudget<A>(
  space: NetworkSpace<A>,
  arch: A,
  o: BackboneOptions,
  maxFlops: number | undefined,
): void {
  if (maxFlops === undefined) return;
  const m = megaMacs(space, arch, o);
  if (m > maxFlops) {
    throw new InputError(
      `--max-flops ${maxFlops}: ${space.format(arch)} costs ${
        m.toFixed(1)
      } M MACs per sample (flops), ` +
        `over the budget`,
    );
  }
}

/** Keeps the items whose arch fits the budget; `dropped` counts the others. */
export function withinBudget<T, A>(
  space: NetworkSpace<A>,
  items: readonly T[],
  archOf: (item: T) => A,
  o: BackboneOptions,
  maxFlops: number | undefined,
): { kept: T[]; dropped: number } {
  if (maxFlops === undefined) return { kept: [...items], dropped: 0 };
  const kept = items.filter((item) => megaMacs(space, archOf(item), o) <= maxFlops);
  return { kept, dropped: items.length - kept.length };
}

/** Repeats a draw (sample or mutation, from the same stream) until it fits the budget. */
export function drawWithinBudget<A>(
  space: NetworkSpace<A>,
  draw: (rng: Rng) => A,
  rng: Rng,
  o: BackboneOptions,
  maxFlops: number | undefined,
): A {
  if (maxFlops === undefined) return draw(rng);
  for (let i = 0; i < BUDGET_DRAWS; i++) {
    const arch = draw(rng);
    if (megaMacs(space, arch, o) <= maxFlops) return arch;
  }
  throw new InputError(
    `--max-flops ${maxFlops}: no architecture of ${space.name} within the budget in ` +
      `${BUDGET_DRAWS} draws; raise it or lower --width/--depth/--init-channels`,
  );
}
