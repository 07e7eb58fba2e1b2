/**
 * naswot (spec §9, NASWOT v2; Mellor et al. ICML 2021): for a batch of N images at
 * initialisation (BN in train mode), binarise the input z of every ReLU per sample, c = [z > 0],
 * and accumulate K += c·cᵀ + (1−c)(1−c)ᵀ (features − Hamming distance) over all ReLUs;
 * score = log|det K|. ReLUs are found in the graph, one per application: a conv with a fused
 * input ReLU (its input), a batch norm with a fused ReLU (its output, whose sign pattern is z's),
 * a relu op (its input). A tensor feeding several ReLU'd convs counts once per conv, as the
 * per-edge ReLU modules of the reference networks do. The kernel is formed on the GPU
 * (src/kernels/hamming.ts); accumulateHammingKernel is its CPU form (inputs, zero tensors, tests).
 */
import type { ConvBlocks } from "../gpu/kernel.ts";
import type { Gpu } from "../gpu/device.ts";
import type { GraphBuilder } from "../graph/builder.ts";
import type { GraphStats } from "../graph/compile.ts";
import { compileOnePass } from "./zc_gradients.ts";
import { BatchNormOp, Conv2dOp, UnaryOpNode } from "../graph/ops.ts";
import type { Tensor } from "../graph/tensor.ts";
import { BufferAllocator } from "../gpu/buffers.ts";
import { bindChecked } from "../gpu/recorder.ts";
import { hammingAccumulate, hammingWords } from "../kernels/hamming.ts";

/** The tensors whose sign pattern is a ReLU's input, one entry per ReLU application. */
export function reluInputs(g: GraphBuilder): Tensor[] {
  const taps: Tensor[] = [];
  for (const op of g.ops) {
    if (op instanceof Conv2dOp && op.reluInput) taps.push(op.x);
    else if (op instanceof BatchNormOp && op.config.relu && !op.accumulate) taps.push(op.y);
    else if (op instanceof UnaryOpNode && op.op === "relu") taps.push(op.x);
  }
  return taps;
}

function popcount(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Adds features − Hamming distance of the sign patterns of one [n][f] activation to K. */
export function accumulateHammingKernel(k: Float64Array, values: Float32Array, n: number): void {
  const f = values.length / n;
  const words = Math.ceil(f / 32);
  const bits = new Uint32Array(n * words);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < f; j++) {
      if (values[i * f + j] > 0) bits[i * words + (j >>> 5)] |= 1 << (j & 31);
    }
  }
  for (let i = 0; i < n; i++) {
    for (let l = i; l < n; l++) {
      let distance = 0;
      for (let w = 0; w < words; w++) {
        distance += popcount(bits[i * words + w] ^ bits[l * words + w]);
      }
      k[i * n + l] += f - distance;
      if (l !== i) k[l * n + i] += f - distance;
    }
  }
}

/** log|det| of an n × n matrix (LU with partial pivoting, float64); −Infinity when singular. */
export function logAbsDet(matrix: Float64Array, n: number): number {
  const a = Float64Array.from(matrix);
  let log = 0;
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++) {
      if (Math.abs(a[r * n + c]) > Math.abs(a[pivot * n + c])) pivot = r;
    }
    const p = a[pivot * n + c];
    if (p === 0) return -Infinity;
    if (pivot !== c) {
      for (let j = 0; j < n; j++) {
        [a[c * n + j], a[pivot * n + j]] = [a[pivot * n + j], a[c * n + j]];
      }
    }
    log += Math.log(Math.abs(p));
    for (let r = c + 1; r < n; r++) {
      const factor = a[r * n + c] / p;
      if (factor === 0) continue;
      for (let j = c; j < n; j++) a[r * n + j] -= factor * a[c * n + j];
    }
  }
  return log;
}

/** naswot of a classifier graph on the batch x (N = x's batch), weights drawn with `seed`. */
export async function naswotScore(
  gpu: Gpu,
  c: { builder: GraphBuilder; input: Tensor; logits: Tensor },
  x: Float32Array,
  o: { seed: number; convBlocks?: ConvBlocks; params?: ReadonlyMap<string, Float32Array> },
): Promise<{ value: number; kernel: Float64Array; graph: GraphStats }> {
  const taps = reluInputs(c.builder);
  for (const t of new Set(taps)) if (t.kind === "activation") c.builder.observe(t);
  // The graph needs a loss to compile; only its train-mode forward (BN batch statistics, as the
  // reference) runs.
  c.builder.seedLoss(c.logits, c.builder.input("naswot.seed", c.logits.shape));
  c.builder.freezeParams(); // no backward at all: nothing is compiled or allocated for it
  const graph = await compileOnePass(gpu, c.builder, o.seed, o.convBlocks);
  const scratch = new BufferAllocator(gpu.device);
  try {
    if (o.params) graph.importParams(o.params);
    graph.write(c.input, x);
    graph.forward();
    const n = c.input.shape[0];
    const kernel = new Float64Array(n * n);
    // ReLU inputs that cannot reach the output are not computed here (PyTorch computes them);
    // they are left out of the kernel.
    const computed = taps.filter((t) => t.kind !== "activation" || graph.computes(t));
    const uses = new Map<Tensor, number>();
    for (const t of computed) uses.set(t, (uses.get(t) ?? 0) + 1);
    // Activations: packed and accumulated on the GPU, one submit, one N × N readback.
    const onGpu = [...uses.keys()].filter((t) => t.kind === "activation");
    if (onGpu.length > 0) {
      const words = Math.max(...onGpu.map((t) => hammingWords(t.size / n)));
      const bits = scratch.upload(new Float32Array(n * words), "naswot.bits");
      const k = scratch.upload(new Float32Array(n * n), "naswot.k");
      const [dispatches] = await bindChecked(
        gpu,
        "naswot kernels",
        onGpu.flatMap((t) =>
          hammingAccumulate(
            { samples: n, features: t.size / n, uses: uses.get(t)! },
            { x: graph.valueSlice(t), bits, k },
          )
        ),
      );
      graph.recorder.submit(dispatches);
      const [read] = await graph.recorder.readback([k]);
      const counts = new Uint32Array(read.buffer, read.byteOffset, n * n);
      for (let i = 0; i < n; i++) {
        for (let l = i; l < n; l++) {
          kernel[i * n + l] += counts[i * n + l];
          if (l !== i) kernel[l * n + i] += counts[i * n + l];
        }
      }
    }
    for (const t of uses.keys()) {
      if (t.kind === "activation") continue;
      // An always-zero tensor (an NB-201 node fed only by "none" edges) is all zeros.
      const value = t.kind === "zeros" ? new Float32Array(t.size) : t === c.input ? x : undefined;
      if (!value) throw new Error(`naswot: cannot read the ReLU input ${t.name} (${t.kind})`);
      for (let u = 0; u < uses.get(t)!; u++) accumulateHammingKernel(kernel, value, n);
    }
    return { value: logAbsDet(kernel, n), kernel, graph: graph.stats };
  } finally {
    scratch.destroy();
    graph.destroy();
  }
}
