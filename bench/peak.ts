/**
 * Estimated peak f32 GFLOP/s of this machine's CPU, from /proc/cpuinfo: logical cores × clock ×
 * FLOPs per cycle implied by the SIMD flags. A yardstick for kernels run on a software adapter
 * (lavapipe), not a measurement; NaN (with the reason in `detail`) where it cannot be read.
 */

export interface PeakEstimate {
  gflops: number;
  detail: string;
}

interface SimdLevel {
  name: string;
  /** f32 FLOPs per cycle per core, assuming two vector pipes (FMA counts as two FLOPs). */
  flopsPerCycle: number;
  requires: readonly string[];
}

/** Best first. Without FMA, one add and one multiply pipe. */
const SIMD_LEVELS: readonly SimdLevel[] = [
  { name: "AVX-512 FMA", flopsPerCycle: 64, requires: ["avx512f", "fma"] },
  { name: "AVX2 FMA", flopsPerCycle: 32, requires: ["avx2", "fma"] },
  { name: "AVX", flopsPerCycle: 16, requires: ["avx"] },
  { name: "SSE2", flopsPerCycle: 8, requires: ["sse2"] },
];

export function estimatePeakGflops(): PeakEstimate {
  if (Deno.build.os !== "linux") {
    return { gflops: NaN, detail: `no /proc/cpuinfo on ${Deno.build.os}` };
  }
  let text: string;
  try {
    text = Deno.readTextFileSync("/proc/cpuinfo");
  } catch (e) {
    return { gflops: NaN, detail: `cannot read /proc/cpuinfo: ${(e as Error).message}` };
  }
  return peakFromCpuinfo(text);
}

/** The estimate for a given /proc/cpuinfo text (exported for tests). */
export function peakFromCpuinfo(text: string): PeakEstimate {
  const blocks = text.split(/\n\s*\n/).filter((b) => /^processor\s*:/m.test(b));
  if (blocks.length === 0) return { gflops: NaN, detail: "no processor entries in /proc/cpuinfo" };
  const mhz = blocks.map((b) => Number(field(b, "cpu MHz"))).filter((v) => v > 0);
  if (mhz.length === 0) return { gflops: NaN, detail: "no cpu MHz in /proc/cpuinfo" };
  const flags = new Set((field(blocks[0], "flags") ?? "").split(/\s+/));
  const level = SIMD_LEVELS.find((l) => l.requires.every((f) => flags.has(f)));
  if (!level) return { gflops: NaN, detail: "no known SIMD flags (sse2, avx, avx2, fma, avx512f)" };
  const averageMhz = mhz.reduce((a, b) => a + b, 0) / mhz.length;
  const gflops = (blocks.length * averageMhz * level.flopsPerCycle) / 1000;
  const model = field(blocks[0], "model name") ?? "unknown CPU";
  return {
    gflops,
    detail: `${blocks.length} logical cores × ${averageMhz.toFixed(0)} MHz × ` +
      `${level.flopsPerCycle} FLOP/cycle (${level.name}) on ${model}`,
  };
}

function field(block: string, name: string): string | undefined {
  const match = block.match(new RegExp(`^${name}\\s*:\\s*(.*)$`, "m"));
  return match?.[1].trim();
}
