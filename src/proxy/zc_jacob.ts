/**
 * jacob_cov (spec §9; Mellor et al. 2020, NASWOT v1, as foresight computes it): the input
 * gradient J_n = ∂(Σ y)/∂x_n of the classification copy (BN in train mode) on a batch, one row
 * per sample; Σ = corrcoef(J) (N × N); score = −Σ_i [log(v_i + k) + 1/(v_i + k)] over its
 * eigenvalues v, k = 1e-5. NaN when the correlation is undefined (a constant row).
 */
import type { ConvBlocks } from "../gpu/kernel.ts";
import type { Gpu } from "../gpu/device.ts";
import type { GraphBuilder } from "../graph/builder.ts";
import type { GraphStats } from "../graph/compile.ts";
import { compileOnePass } from "./zc_gradients.ts";
import type { Tensor } from "../graph/tensor.ts";

const K = 1e-5;

/** Per-sample input Jacobians [N][features] of Σ logits, from the weights drawn with `seed`. */
export async function inputJacobian(
  gpu: Gpu,
  c: { builder: GraphBuilder; input: Tensor; logits: Tensor },
  x: Float32Array,
  o: { seed: number; convBlocks?: ConvBlocks; params?: ReadonlyMap<string, Float32Array> },
): Promise<{ jacobian: Float32Array; graph: GraphStats }> {
  c.builder.requireGrad(c.input);
  c.builder.freezeParams(); // only ∂y/∂x: no weight gradients
  const seedTensor = c.builder.input("jacob.seed", c.logits.shape);
  c.builder.seedLoss(c.logits, seedTensor);
  const graph = await compileOnePass(gpu, c.builder, o.seed, o.convBlocks);
  try {
    if (o.params) graph.importParams(o.params);
    graph.write(c.input, x);
    graph.write(seedTensor, new Float32Array(seedTensor.size).fill(1));
    graph.train(1);
    return { jacobian: await graph.exportInputGradient(c.input), graph: graph.stats };
  } finally {
    graph.destroy();
  }
}

/** numpy.corrcoef of the rows of a [n][d] matrix, in float64. */
export function correlationMatrix(rows: Float32Array, n: number): Float64Array {
  const d = rows.length / n;
  const centred = new Float64Array(rows.length);
  const norms = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let mean = 0;
    for (let j = 0; j < d; j++) mean += rows[i * d + j];
    mean /= d;
    let sq = 0;
    for (let j = 0; j < d; j++) {
      const v = rows[i * d + j] - mean;
      centred[i * d + j] = v;
      sq += v * v;
    }
    norms[i] = Math.sqrt(sq);
  }
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = i; k < n; k++) {
      let dot = 0;
      for (let j = 0; j < d; j++) dot += centred[i * d + j] * centred[k * d + j];
      c[i * n + k] = c[k * n + i] = dot / (norms[i] * norms[k]);
    }
  }
  return c;
}

/** Eigenvalues of a symmetric n × n matrix (cyclic Jacobi rotations, float64). */
export function symmetricEigenvalues(matrix: Float64Array, n: number): number[] {
  const a = Float64Array.from(matrix);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const cos = 1 / Math.sqrt(t * t + 1);
        const sin = t * cos;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = cos * akp - sin * akq;
          a[k * n + q] = sin * akp + cos * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = cos * apk - sin * aqk;
          a[q * n + k] = sin * apk + cos * aqk;
        }
      }
    }
  }
  return Array.from({ length: n }, (_, i) => a[i * n + i]);
}

/** The jacob_cov score of per-sample Jacobians [n][d]. */
export function jacobCovScore(jacobian: Float32Array, n: number): number {
  const corr = correlationMatrix(jacobian, n);
  if (corr.some(Number.isNaN)) return NaN;
  let score = 0;
  for (const v of symmetricEigenvalues(corr, n)) score -= Math.log(v + K) + 1 / (v + K);
  return score;
}
