/**
 * The proxies `gennas rank --proxy/--proxies` and `gennas score --proxy` can compute. `gennas` is
 * the GenNAS regression loss (lower is better); every other proxy is a score where higher
 * predicts higher accuracy. `params` and `flops` are counted on the graph (cost.ts, no GPU); the
 * zero-cost proxies run one pass of the classification copy on the GPU (zero_cost.ts).
 */
import { allowed, InputError } from "../util/errors.ts";

export const PROXY_NAMES = [
  "gennas",
  "params",
  "flops",
  "grad_norm",
  "snip",
  "synflow",
  "jacob_cov",
  "naswot",
  "fisher",
  "grasp",
  "ensemble",
] as const;
export type ProxyName = typeof PROXY_NAMES[number];

/** Counted on the built graph, no GPU and no journal entry needed. */
export const COUNTED_PROXIES: readonly ProxyName[] = ["params", "flops"];
/** Computed per architecture on the GPU from the classification copy and journaled. */
export const ZERO_COST_PROXIES: readonly ProxyName[] = [
  "grad_norm",
  "snip",
  "synflow",
  "jacob_cov",
  "naswot",
  "fisher",
  "grasp",
];

export const DEFAULT_PROXIES: readonly ProxyName[] = ["gennas"];

/**
 * The label-free ensemble (AZ-NAS-style rank aggregation): Σ over members of log(rank/n), rank 1
 * the worst of the n ranked archs, n the best. Members chosen once, on the first 100 archs of
 * nb201_gennas_sample_0.txt only, as the best of eight member sets listed beforehand in
 * bench/ensemble_evidence.ts (README, "Zero-cost proxies"): the GenNAS loss and synflow.
 */
export const ENSEMBLE_MEMBERS: readonly ProxyName[] = ["gennas", "synflow"];

export function isZeroCost(name: ProxyName): boolean {
  return ZERO_COST_PROXIES.includes(name);
}

/**
 * `--proxy NAME` or `--proxies a,b,c` (both may be given; order kept, repeats dropped). Names
 * outside PROXY_NAMES are an InputError listing the allowed ones.
 */
export function parseProxies(o: { proxy?: string; proxies?: string | string[] }): ProxyName[] {
  const given = [
    ...(o.proxy === undefined ? [] : [o.proxy]),
    ...(o.proxies === undefined ? [] : Array.isArray(o.proxies) ? o.proxies : o.proxies.split(",")),
  ].map((s) => s.trim());
  if (given.length === 0) return [...DEFAULT_PROXIES];
  const out: ProxyName[] = [];
  for (const name of given) {
    if (!(PROXY_NAMES as readonly string[]).includes(name)) {
      const flag = o.proxy === name ? "--proxy" : "--proxies";
      throw new InputError(
        `${flag}: "${name}" is not a known proxy; allowed: ${allowed(PROXY_NAMES)}`,
      );
    }
    if (!out.includes(name as ProxyName)) out.push(name as ProxyName);
  }
  // The ensemble ranks its members' values: they are computed (and shown) with it.
  if (out.includes("ensemble")) {
    for (const m of ENSEMBLE_MEMBERS) if (!out.includes(m)) out.push(m);
  }
  return out;
}
