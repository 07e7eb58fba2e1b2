/**
 * `deno task bench`: conv2d GFLOP/s at GenNAS shapes (median and best, beside the machine's
 * estimated peak and the project's targets) and whole training iterations.
 */
import { acquireGpu, describeGpu } from "../src/gpu/device.ts";
import { benchConv2d, printTable } from "./conv2d_bench.ts";
import { benchIterations, printIterations } from "./iteration_bench.ts";

const gpu = await acquireGpu();
const info = describeGpu(gpu);
console.log(`adapter ${info.adapter} · backend ${info.backend} · device class ${info.deviceClass}`);
printTable(await benchConv2d(), gpu.deviceClass);
printIterations(await benchIterations());
