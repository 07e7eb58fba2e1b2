/** Tap geometry: which src offsets and kernel taps reach each position of a register block. */

/**
 * For each output position of a tile along one axis, the (src offset, kernel index) pairs that
 * reach it; offsets are relative to the tile's first src row (or column).
 */
export type AxisTaps = readonly (readonly (readonly [number, number])[])[];

export function forwardTaps(block: number, k: number, stride: number, dilation: number): AxisTaps {
  return Array.from(
    { length: block },
    (_, j) => Array.from({ length: k }, (_, t) => [j * stride + t * dilation, t] as const),
  );
}

/**
 * Data-gradient taps: tile position r = j·stride + phase of dx is reached by dy position
 * j + (phase + padMod − t·dilation)/stride whenever that division is exact.
 */
export function dataGradTaps(
  block: number,
  k: number,
  stride: number,
  dilation: number,
  padMod: number,
): AxisTaps {
  const taps: (readonly [number, number])[][] = [];
  for (let r = 0; r < block * stride; r++) {
    const j = Math.floor(r / stride);
    const phase = r % stride;
    const list: (readonly [number, number])[] = [];
    for (let t = 0; t < k; t++) {
      const num = phase + padMod - t * dilation;
      if (((num % stride) + stride) % stride === 0) list.push([j + num / stride, t]);
    }
    taps.push(list);
  }
  return taps;
}

export function distinctOffsets(taps: AxisTaps): number[] {
  return [...new Set(taps.flat().map(([offset]) => offset))].sort((a, b) => a - b);
}

/** Gathers per channel of one iteration: the (row, column) src pairs some tap reads. */
export function usedPairs(rows: AxisTaps, cols: AxisTaps): Set<string> {
  const pairs = new Set<string>();
  for (const rowTaps of rows) {
    for (const colTaps of cols) {
      for (const [ro] of rowTaps) for (const [co] of colTaps) pairs.add(`${ro},${co}`);
    }
  }
  return pairs;
}

export function usedTaps(rows: AxisTaps, cols: AxisTaps, kernelW: number): number[] {
  const taps = new Set<number>();
  for (const rowTaps of rows) {
    for (const colTaps of cols) {
      for (const [, ky] of rowTaps) for (const [, kx] of colTaps) taps.add(ky * kernelW + kx);
    }
  }
  return [...taps].sort((a, b) => a - b);
}

export function sumOfProducts(rows: AxisTaps, cols: AxisTaps): number {
  const colTotal = cols.reduce((sum, c) => sum + c.length, 0);
  return rows.reduce((sum, r) => sum + r.length, 0) * colTotal;
}

/** The vec4 column group and component of src column offset `off` (vector mode). */
export function columnSlot(colAlign: number, off: number): { group: number; lane: number } {
  const c = colAlign + off;
  return { group: Math.floor(c / 4), lane: ((c % 4) + 4) % 4 };
}
