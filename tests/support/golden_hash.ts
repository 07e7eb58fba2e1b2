/**
 * The integer hash the PyTorch golden scripts (scripts/golden_nbmacro.py, golden_anynet.py) draw
 * initial weights, inputs and targets from: values q / 4096, q uniform in [-m, m] from murmur3's
 * finaliser over (FNV-1a of the key) + index · golden ratio, all in uint32.
 */
import type { ParamInfo } from "../../src/graph/compile.ts";

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return h;
}

function fmix(h: number): number {
  h = (h ^ (h >>> 16)) >>> 0;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h = (h ^ (h >>> 13)) >>> 0;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

export function hashedInts(key: string, n: number, m: number): number[] {
  const base = fmix(fnv1a(key));
  return Array.from({ length: n }, (_, i) => {
    const h = fmix((base + Math.imul(i, 0x9e3779b9 | 0)) >>> 0);
    return (h % (2 * m + 1)) - m;
  });
}

export function hashed(key: string, n: number, m: number, offset = 0): Float32Array {
  return Float32Array.from(hashedInts(key, n, m), (q) => (q + offset) / 4096);
}

/** The initial value of parameter `p` for `seed`, by its state_dict name and shape. */
export function initialValue(seed: number, p: ParamInfo): Float32Array {
  const key = `${seed}/${p.name}`;
  if (p.name.endsWith(".weight") && p.shape.length >= 2) {
    const fanIn = p.shape.slice(1).reduce((a, b) => a * b, 1);
    return hashed(key, p.size, Math.floor(4096 / Math.sqrt(fanIn)));
  }
  if (p.name.endsWith(".weight")) return hashed(key, p.size, 819, 4096);
  return hashed(key, p.size, 409);
}
