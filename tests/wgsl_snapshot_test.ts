/**
 * The preprocessed WGSL of a few kernel specialisations, as the factories hand it to the pipeline
 * cache, compared exactly with fixtures/wgsl/*.wgsl. After an intended shader change, regenerate
 * them with `UPDATE_WGSL_SNAPSHOTS=1 deno test -A tests/wgsl_snapshot_test.ts` and review the diff.
 */
import { batchNormBackward, batchNormForward } from "../src/kernels/batchnorm.ts";
import { channelCopy, nearestSubsampleBackward } from "../src/kernels/layout.ts";
import { avgPool2dForward, maxPool2dBackward } from "../src/kernels/pool.ts";
import { unary } from "../src/kernels/elementwise.ts";
import type { Launch, LaunchContext } from "../src/gpu/kernel.ts";

const ctx: LaunchContext<string> = { scratch: () => "scratch", deviceClass: "cpu" };
const bn = { mode: "train", affine: true, relu: true } as const;
const window = { batch: 1, channels: 2, kernel: 3, stride: 1, pad: 1 };

const CASES: Record<string, () => Launch<string>[]> = {
  batchnorm_vec4_affine: () =>
    batchNormForward(ctx, { batch: 2, channels: 3, spatial: 16 }, {
      x: "x",
      y: "y",
      mean: "m",
      invstd: "i",
      gamma: "g",
      beta: "b",
    }, bn),
  batchnorm_f32_plain: () =>
    batchNormBackward(ctx, { batch: 2, channels: 3, spatial: 9 }, {
      x: "x",
      dy: "dy",
      dx: "dx",
      mean: "m",
      invstd: "i",
    }, { affine: false, relu: false }),
  pool_vec4: () =>
    maxPool2dBackward(ctx, { ...window, inH: 8, inW: 8 }, { dy: "dy", argmax: "a", dx: "dx" }),
  pool_f32: () =>
    avgPool2dForward(ctx, { ...window, inH: 7, inW: 7 }, { x: "x", y: "y" }, {
      countIncludePad: false,
    }),
  subsample_vec4: () =>
    nearestSubsampleBackward(ctx, {
      batch: 1,
      channels: 2,
      inH: 16,
      inW: 16,
      outH: 8,
      outW: 8,
    }, { dy: "dy", dx: "dx" }),
  channel_copy_f32: () =>
    channelCopy(ctx, {
      batch: 2,
      spatial: 9,
      srcChannels: 4,
      srcOffset: 1,
      dstChannels: 2,
      dstOffset: 0,
      count: 2,
    }, { src: "s", dst: "d" }),
  elementwise: () => [unary("relu", 10, "x", "y")],
  elementwise_vec4: () => [unary("relu", 12, "x", "y")],
};

const update = Deno.env.get("UPDATE_WGSL_SNAPSHOTS") === "1";

for (const [name, launches] of Object.entries(CASES)) {
  Deno.test(`generated WGSL of ${name} equals fixtures/wgsl/${name}.wgsl`, async () => {
    const source = launches()[0].kernel.source;
    const url = new URL(`../fixtures/wgsl/${name}.wgsl`, import.meta.url);
    if (update) await Deno.writeTextFile(url, source);
    const expected = await Deno.readTextFile(url);
    if (source !== expected) {
      const a = source.split("\n");
      const b = expected.split("\n");
      const line = a.findIndex((l, i) => l !== b[i]);
      throw new Error(
        `${name}: differs from the snapshot at line ${line + 1}: ${JSON.stringify(a[line])} ` +
          `vs ${JSON.stringify(b[line])} (UPDATE_WGSL_SNAPSHOTS=1 regenerates)`,
      );
    }
  });
}
