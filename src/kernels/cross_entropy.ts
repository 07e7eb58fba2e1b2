/**
 * Softmax cross-entropy with class labels and its gradient (shaders/cross_entropy.wgsl), for the
 * classification copy the zero-cost proxies score (spec §9). Labels are class indices stored as
 * f32 (so they upload like any input tensor). The value stays on the GPU, optionally in the slot
 * of a loss-history buffer named by a u32 counter, like mseLoss.
 */
import template from "../../shaders/cross_entropy.wgsl" with { type: "text" };
import { declareBindings } from "../gpu/bindings.ts";
import { grid1d, type Launch, type LaunchContext } from "../gpu/kernel.ts";
import { preprocess } from "../gpu/wgsl.ts";

const source = preprocess(template);
const WG = 64;

const ROWS = declareBindings({
  logits: "read",
  labels: "read",
  partials: "read_write",
  grad: "read_write?",
});
const FINAL = declareBindings({ partials: "read", loss: "read_write", index: "read?" });

export interface CrossEntropyShape {
  /** Samples N (rows of logits). */
  batch: number;
  /** Classes K. */
  classes: number;
  /** The loss is weight · mean over samples; the gradient carries the same factor. */
  weight: number;
}

/**
 * loss[i] = weight · mean_n(−log softmax(logits_n)[label_n]), i = index[0] or 0; writes
 * grad = weight/N · (softmax − onehot) (overwritten) when given.
 */
export function softmaxCrossEntropy<B>(
  ctx: LaunchContext<B>,
  shape: CrossEntropyShape,
  io: { logits: B; labels: B; grad?: B; loss: B; index?: B },
): Launch<B>[] {
  const { batch, classes, weight } = shape;
  if (!Number.isInteger(batch) || batch < 1 || !Number.isInteger(classes) || classes < 1) {
    throw new RangeError(`softmaxCrossEntropy: bad shape ${batch}×${classes}`);
  }
  if (!Number.isFinite(weight)) throw new RangeError(`softmaxCrossEntropy: weight ${weight}`);
  const partials = ctx.scratch(batch, "cross-entropy rows");
  const withGrad = io.grad !== undefined;
  const indexed = io.index !== undefined;
  return [
    {
      kernel: {
        name: withGrad ? "ce_rows_grad" : "ce_rows",
        source,
        entryPoint: "ce_rows",
        constants: { WG, N: batch, K: classes, WEIGHT: weight, GRAD: withGrad ? 1 : 0 },
        layout: ROWS,
      },
      bindings: ROWS.bind({ logits: io.logits, labels: io.labels, partials, grad: io.grad }),
      workgroups: grid1d(batch, WG),
    },
    {
      kernel: {
        name: indexed ? "ce_final_indexed" : "ce_final",
        source,
        entryPoint: "ce_final",
        constants: { N: batch, WEIGHT: weight, INDEXED: indexed ? 1 : 0 },
        layout: FINAL,
      },
      bindings: FINAL.bind({ partials, loss: io.loss, index: io.index }),
      workgroups: [1, 1, 1],
    },
  ];
}
