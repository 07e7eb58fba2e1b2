/** Helpers shared by the kernel factories: argument checks and NCHW override constants. */

/** Throws a RangeError naming `what` and the field unless every value is a positive integer. */
export function checkPositiveIntegers(
  what: string,
  values: Readonly<Record<string, number>>,
): void {
  for (const [name, value] of Object.entries(values)) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`${what}: ${name} must be a positive integer, got ${value}`);
    }
  }
}

/** The overrides N, C, IH, IW, OH, OW of kernels that map [N][C][IH][IW] to [N][C][OH][OW]. */
export function planeConstants(
  batch: number,
  channels: number,
  [inH, inW]: readonly [number, number],
  [outH, outW]: readonly [number, number],
): Record<string, number> {
  return { N: batch, C: channels, IH: inH, IW: inW, OH: outH, OW: outW };
}
