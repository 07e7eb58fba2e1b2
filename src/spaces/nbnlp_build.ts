/**
 * The NAS-Bench-NLP regression network of GenNAS (spec §4.5): encoder Linear(d → emsize),
 * `nlayers` recurrent layers running the recipe cell per time step from a zero hidden tuple,
 * LockedDropout between layers (dropouth) and on the output (dropout), WeightDrop (wdrop) on the
 * hidden-to-hidden weights, decoder Linear(last hidden → d). The cell is unrolled over time as
 * graph ops; every time step shares the layer's parameters.
 *
 * Parameter names follow scripts/golden_nbnlp.py: `encoder.*`, `decoder.*`,
 * `rnns.<layer>.cell.components.<node>.weights.<input>` and `….bias`.
 *
 * WeightDrop quirk (spec §4.5): the reference wraps each dropped weight in a fresh Parameter, so
 * the raw hidden-to-hidden weights never receive a gradient and stay at their initial values.
 * With wdrop > 0 they are frozen here too unless `trainRecurrent` is set.
 */
import type { GraphBuilder } from "../graph/builder.ts";
import { LinearOp } from "../graph/ops.ts";
import { CellSegmentOp, type LevelNode, LinearLevelOp } from "../graph/ops_cell.ts";
import { DropoutOp, SliceRowsOp, StackRowsOp } from "../graph/ops_seq.ts";
import type { Param, Tensor } from "../graph/tensor.ts";
import { hashString } from "../util/rng.ts";
import { cellStages } from "./nbnlp_fuse.ts";
import type { Cell } from "./nbnlp_recipe.ts";

/** The training arguments of a NAS-Bench-NLP log that the GenNAS network uses. */
export interface NlpArgs {
  emsize: number;
  nhid: number;
  nlayers: number;
  dropout: number;
  dropouth: number;
  wdrop: number;
  tied: boolean;
  wdecay: number;
}

/** The `args` of every PTB (and WikiText-2) log in ../shared/data. */
export const PTB_ARGS: Readonly<NlpArgs> = Object.freeze({
  emsize: 400,
  nhid: 600,
  nlayers: 3,
  dropout: 0.1,
  dropouth: 0.25,
  wdrop: 0.1,
  tied: true,
  wdecay: 1.2e-6,
});

export interface NlpNetworkOptions {
  /** Sequence length L (8). */
  length: number;
  /** Batch B (16). */
  batch: number;
  /** Train the raw hidden-to-hidden weights (a "fixed" WeightDrop) instead of freezing them. */
  trainRecurrent: boolean;
  /** Seeds the dropout masks; masks depend on (seed, layer, position), not on the cell. */
  seed: number;
  /** Fuse the cell's elementwise nodes into segments (src/spaces/nbnlp_fuse.ts); default true. */
  fuse?: boolean;
  /** Storage buffers a fused segment may bind (default MAX_SEGMENT_BINDINGS, WebGPU's least). */
  maxBindings?: number;
  /** false: no LockedDropout and no WeightDrop (the zero-cost proxies' deterministic build). */
  dropout?: boolean;
}

/** Input and hidden size of each layer (the last one's hidden size is emsize when tied). */
export function layerSizes(args: NlpArgs): { input: number; hidden: number }[] {
  return Array.from({ length: args.nlayers }, (_, i) => ({
    input: i === 0 ? args.emsize : args.nhid,
    hidden: i === args.nlayers - 1 && args.tied ? args.emsize : args.nhid,
  }));
}

/** x: [L·B, d] (time-major rows) → output [L·B, d]. */
export function buildNbNlpNetwork(
  g: GraphBuilder,
  x: Tensor,
  cell: Cell,
  recipeArgs: NlpArgs,
  o: NlpNetworkOptions,
): Tensor {
  const args = o.dropout === false
    ? { ...recipeArgs, dropout: 0, dropouth: 0, wdrop: 0 }
    : recipeArgs;
  const d = x.shape[1];
  const encoder = linearLayer(g, "encoder", x, args.emsize, {
    weight: { kind: "uniform", bound: 0.1 },
    bias: { kind: "uniform", bound: 1 / Math.sqrt(d) },
  });
  let h = encoder;
  layerSizes(args).forEach(({ hidden }, layer) => {
    const raw = recurrentLayer(g, `rnns.${layer}`, h, cell, hidden, args, o, layer);
    const last = layer === args.nlayers - 1;
    const p = last ? args.dropout : args.dropouth;
    h = p > 0
      ? dropoutOp(g, `lockdrop.${layer}`, raw, {
        p,
        period: o.batch * hidden,
        seed: hashString(`${o.seed}/lockdrop/${layer}`),
      })
      : raw;
  });
  return linearLayer(g, "decoder", h, d, {
    weight: { kind: "uniform", bound: 0.1 },
    bias: { kind: "constant", value: 0 },
  });
}

function linearLayer(
  g: GraphBuilder,
  name: string,
  x: Tensor,
  out: number,
  init: { weight: Param["options"]["init"]; bias: Param["options"]["init"] },
): Tensor {
  const [batch, inFeatures] = x.shape;
  const weight = g.param(`${name}.weight`, [out, inFeatures], { init: init.weight, decay: true });
  const bias = g.param(`${name}.bias`, [out], { init: init.bias, decay: true });
  const y = g.activation(name, [batch, out]);
  const shape = { batch, inFeatures, outFeatures: out };
  return g.addOp(new LinearOp(name, x, weight, bias, y, shape), y);
}

function dropoutOp(
  g: GraphBuilder,
  name: string,
  x: Tensor,
  config: { p: number; period: number; seed: number },
): Tensor {
  const y = g.activation(name, x.shape);
  return g.addOp(new DropoutOp(name, x, y, config), y);
}

interface Block {
  /** The weight as the cell reads it: the raw parameter, or its WeightDrop copy. */
  weight: Tensor;
  input: string;
}

/** One recurrent layer over all time steps: [L·B, in] → [L·B, hidden]. */
function recurrentLayer(
  g: GraphBuilder,
  name: string,
  x: Tensor,
  cell: Cell,
  hidden: number,
  args: NlpArgs,
  o: NlpNetworkOptions,
  layer: number,
): Tensor {
  const inSize = x.shape[1];
  const init = { kind: "uniform" as const, bound: 1 / Math.sqrt(hidden) };
  const weightDrop = args.wdrop > 0;
  // Parameters, in recipe order (the golden's parameter order).
  const blocks = new Map<string, Block[]>();
  const biases = new Map<string, Param>();
  let recurrentIndex = 0;
  for (const node of cell.order) {
    const spec = cell.recipe[node];
    if (spec.op !== "linear") continue;
    const prefix = `${name}.cell.components.${node}`;
    blocks.set(
      node,
      spec.input.map((input, j) => {
        const recurrent = input !== "x";
        const raw = g.param(`${prefix}.weights.${j}`, [hidden, recurrent ? hidden : inSize], {
          init,
          decay: true,
          trainable: !(recurrent && weightDrop && !o.trainRecurrent),
        });
        if (!recurrent || !weightDrop) return { weight: raw, input };
        const weight = dropoutOp(g, `${prefix}.weights.${j}.dropped`, raw, {
          p: args.wdrop,
          period: raw.size,
          seed: hashString(`${o.seed}/weightdrop/${layer}/${recurrentIndex++}`),
        });
        return { weight, input };
      }),
    );
    biases.set(node, g.param(`${prefix}.bias`, [hidden], { init, decay: true }));
  }

  const stepShape = [o.batch, inSize];
  const steps = Array.from({ length: o.length }, (_, t) => {
    const step = g.activation(`${name}.x.t${t}`, stepShape);
    return g.addOp(new SliceRowsOp(`${name}.x.t${t}`, x, step, t * o.batch), step);
  });
  let state: Tensor[] = Array.from(
    { length: cell.hiddenSize },
    (_, k) => g.zeros(`${name}.h0.${k}`, [o.batch, hidden]),
  );
  const outputs: Tensor[] = [];
  const stages = cellStages(cell, o.fuse ?? true, o.maxBindings);
  for (let t = 0; t < o.length; t++) {
    const at = `${name}.t${t}`;
    const values = new Map<string, Tensor>([["x", steps[t]]]);
    state.forEach((h, k) => values.set(`h_prev_${k}`, h));
    const isZero = (input: string) => t === 0 && input !== "x" && !cell.recipe[input];
    for (const stage of stages) {
      if (stage.kind === "segment") {
        const results = stage.outputs.map((n) => g.activation(`${at}.${n}`, [o.batch, hidden]));
        const sources = stage.inputs.map((i) => values.get(i)!);
        const id = `${at}.segment.${stage.nodes[0]}`;
        g.addOp(new CellSegmentOp(id, stage.program, sources, results), results[0]);
        stage.outputs.forEach((n, k) => values.set(n, results[k]));
        continue;
      }
      if (stage.kind === "linears") {
        const nodes = stage.nodes.map((node): LevelNode => {
          const all = blocks.get(node)!;
          const live = all.filter((b) => !isZero(b.input));
          const terms = (live.length > 0 ? live : all.slice(0, 1))
            .map((b) => ({ input: values.get(b.input)!, weight: b.weight }));
          const y = g.activation(`${at}.${node}`, [o.batch, hidden]);
          values.set(node, y);
          return { terms, bias: biases.get(node)!, y };
        });
        g.addOp(new LinearLevelOp(`${at}.linear.d${stage.depth}`, nodes, o.batch), nodes[0].y);
        continue;
      }
      const node = stage.node;
      const spec = cell.recipe[node];
      const v = (i: number) => values.get(spec.input[i])!;
      const id = `${at}.${node}`;
      let y: Tensor;
      switch (spec.op) {
        case "linear": {
          // At t = 0 the h_prev terms are zero; they are left out where another term remains.
          const all = blocks.get(node)!;
          const live = all.filter((b) => !isZero(b.input));
          const terms = live.length > 0 ? live : all.slice(0, 1);
          let sum: Tensor | undefined;
          terms.forEach((b, j) => {
            const input = values.get(b.input)!;
            const out = g.activation(j === 0 ? id : `${id}.${j}`, [o.batch, hidden], sum);
            const bias = j === 0 ? biases.get(node) : undefined;
            const shape = { batch: o.batch, inFeatures: input.shape[1], outFeatures: hidden };
            // LinearOp reads any tensor as its weight; a WeightDrop copy is an activation.
            const weight = b.weight as Param;
            sum = g.addOp(new LinearOp(`${id}.w${j}`, input, weight, bias, out, shape), out, sum);
          });
          y = sum!;
          break;
        }
        case "blend": {
          // in0·in1 + (1 − in0)·in2 = in2 + in0·in1 − in0·in2
          y = g.addInto(id, v(2), undefined);
          g.mul(`${id}.a`, v(0), v(1), y);
          const negated = g.unary(`${id}.neg`, "scale", v(2), -1);
          g.mul(`${id}.b`, v(0), negated, y);
          break;
        }
        case "elementwise_prod":
          y = g.mul(id, v(0), v(1));
          break;
        case "elementwise_sum":
          y = g.addInto(id, v(0), undefined);
          g.addInto(`${id}.b`, v(1), y);
          break;
        case "activation_tanh":
          y = g.unary(id, "tanh", v(0));
          break;
        case "activation_sigm":
          y = g.unary(id, "sigmoid", v(0));
          break;
        case "activation_leaky_relu":
          y = g.unary(id, "leaky_relu", v(0), 0.01);
          break;
      }
      values.set(node, y);
    }
    state = state.map((_, k) => values.get(`h_new_${k}`)!);
    outputs.push(state[0]);
  }
  const y = g.activation(`${name}.output`, [o.length * o.batch, hidden]);
  return g.addOp(new StackRowsOp(`${name}.stack`, outputs, y), y);
}
