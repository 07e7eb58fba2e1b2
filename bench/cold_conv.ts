/**
 * conv2d at the NB-201 shapes with warm caches (one set of operands, relaunched) and cold ones
 * (SETS distinct sets in turn, 32 MiB and more of operands), as a whole network reads them:
 *   deno run -A bench/cold_conv.ts [--sets 12]
 */
import { benchArgs } from "./args.ts";
import { acquireGpu } from "../src/gpu/device.ts";
import { conv2dShape } from "../src/kernels/conv2d/mod.ts";
import { type Case, measure } from "./conv2d_bench.ts";

const { values } = benchArgs({
  options: { sets: { type: "string", default: "12" } },
}, `deno run -A bench/cold_conv.ts [--sets 12]`);
const gpu = await acquireGpu();
const shapes = [[16, 32, 3], [32, 16, 3], [64, 8, 3], [16, 32, 1], [32, 16, 1], [64, 8, 1]];
console.log("case                              warm GFLOP/s  cold GFLOP/s  cold/warm");
for (const [c, size, k] of shapes) {
  const shape = conv2dShape({
    batch: 16,
    inChannels: c,
    outChannels: c,
    inH: size,
    inW: size,
    kernel: k,
    pad: (k - 1) / 2,
  });
  for (const pass of ["forward", "data", "weight"] as const) {
    const base: Case = { name: "", shape, pass, layout: "ihwo", bias: pass === "weight" };
    const warm = await measure(gpu, base);
    const cold = await measure(gpu, { ...base, sets: Number(values.sets) });
    console.log(
      `${pass.padEnd(7)} ${k}×${k} ${c}→${c} ${size}²`.padEnd(34) +
        `${warm.gflopsMedian.toFixed(1).padStart(12)}  ${
          cold.gflopsMedian.toFixed(1).padStart(12)
        }` +
        `  ${(cold.gflopsMedian / warm.gflopsMedian).toFixed(2).padStart(9)}`,
    );
  }
}
