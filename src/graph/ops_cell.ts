/**
 * Ops of one time step of a recurrent cell (src/spaces/nbnlp_fuse.ts plans them): a segment of
 * elementwise nodes as one fused forward and one fused backward launch (src/kernels/cell.ts),
 * and the linear nodes of one depth as one op with one launch per node and per input gradient.
 */
import type { Launch } from "../gpu/kernel.ts";
import { cellBackward, cellForward, type CellProgram, checkProgram } from "../kernels/cell.ts";
import {
  linearBackwardBias,
  linearBackwardDataSum,
  linearBackwardWeight,
  linearForwardSum,
} from "../kernels/linear.ts";
import { type BackwardContext, type ForwardContext, OpNode, type Slot } from "./ops.ts";
import type { Tensor } from "./tensor.ts";

export class CellSegmentOp extends OpNode {
  constructor(
    name: string,
    readonly program: CellProgram,
    readonly sources: readonly Tensor[],
    readonly results: readonly Tensor[],
  ) {
    super(name);
    checkProgram(program);
    const size = results[0]?.size;
    if (
      sources.length !== program.inputs || results.length !== program.outputs.length ||
      new Set(sources).size !== sources.length ||
      [...sources, ...results].some((t) => t.size !== size)
    ) throw new Error(`${name}: distinct inputs and outputs of one size, as the program says`);
  }
  get inputs(): readonly Tensor[] {
    return this.sources;
  }
  get outputs(): readonly Tensor[] {
    return this.results;
  }
  override get canAccumulate(): boolean {
    return false;
  }
  forward(ctx: ForwardContext): Launch<Slot>[] {
    return [
      cellForward(this.program, this.results[0].size, {
        inputs: this.sources.map((t) => ctx.value(t)),
        outputs: this.results.map((t) => ctx.value(t)),
      }),
    ];
  }
  override backward(ctx: BackwardContext): Launch<Slot>[] {
    const launch = cellBackward(this.program, this.results[0].size, {
      inputs: this.sources.map((t) => ctx.value(t)),
      gradOut: this.results.map((t) => ctx.gradIfWritten(t)),
      gradIn: this.sources.map((_, j) => ctx.gradTarget(j)),
    });
    return launch ? [launch] : [];
  }
}

/** One product of a linear node: its input and weight (a parameter or its WeightDrop copy). */
export interface LevelTerm {
  readonly input: Tensor;
  readonly weight: Tensor;
}

/** y = Σ_t input_t·weight_tᵀ + bias. */
export interface LevelNode {
  readonly terms: readonly LevelTerm[];
  readonly bias: Tensor;
  readonly y: Tensor;
}

/**
 * The linear nodes of one depth of a cell at one time step, as one op: each node's products are
 * one launch (src/kernels/linear.ts linearForwardSum), and each input's data gradient one launch
 * summed over every product that reads it, whichever nodes those belong to.
 */
export class LinearLevelOp extends OpNode {
  readonly #inputs: Tensor[] = [];
  constructor(name: string, readonly nodes: readonly LevelNode[], readonly batch: number) {
    super(name);
    const add = (t: Tensor) => {
      if (!this.#inputs.includes(t)) this.#inputs.push(t);
    };
    for (const n of nodes) {
      if (n.terms.length === 0) throw new Error(`${name}: a linear node without inputs`);
      for (const t of n.terms) add(t.input);
    }
    for (const n of nodes) {
      for (const t of n.terms) {
        if (this.#inputs.includes(t.weight)) throw new Error(`${name}: a weight used twice`);
        this.#inputs.push(t.weight);
      }
      if (this.#inputs.includes(n.bias)) throw new Error(`${name}: a bias used twice`);
      this.#inputs.push(n.bias);
    }
  }
  get inputs(): readonly Tensor[] {
    return this.#inputs;
  }
  get outputs(): readonly Tensor[] {
    return this.nodes.map((n) => n.y);
  }
  override get canAccumulate(): boolean {
    return false;
  }
  forward(ctx: ForwardContext): Launch<Slot>[] {
    return this.nodes.flatMap((n) =>
      linearForwardSum(
        ctx,
        { batch: this.batch, outFeatures: n.y.shape[1] },
        n.terms.map((t) => ({
          x: ctx.value(t.input),
          w: ctx.value(t.weight),
          features: t.input.shape[1],
        })),
        { bias: ctx.value(n.bias), y: ctx.value(n.y) },
      )
    );
  }
  override backward(ctx: BackwardContext): Launch<Slot>[] {
    const launches: Launch<Slot>[] = [];
    const live = this.nodes.flatMap((n) => {
      const dy = ctx.gradIfWritten(n.y);
      return dy ? [{ node: n, dy }] : [];
    });
    const target = (t: Tensor) => ctx.gradTarget(this.#inputs.indexOf(t));
    // Data gradients: one sum per distinct input over the products that read it.
    const readers = new Map<Tensor, { dy: Slot; weight: Tensor; out: number }[]>();
    for (const { node, dy } of live) {
      for (const t of node.terms) {
        const list = readers.get(t.input) ?? [];
        list.push({ dy, weight: t.weight, out: node.y.shape[1] });
        readers.set(t.input, list);
      }
    }
    for (const [input, list] of readers) {
      const dx = target(input);
      if (!dx) continue;
      const terms = list.map((r) => ({ x: r.dy, w: ctx.value(r.weight), features: r.out }));
      const s = { batch: this.batch, inFeatures: input.shape[1] };
      launches.push(
        ...linearBackwardDataSum(ctx, s, terms, { dx: dx.slot }, { accumulate: dx.accumulate }),
      );
    }
    // Weight gradients per product; the bias rides on one whose weight accumulates alike.
    for (const { node, dy } of live) {
      const db = target(node.bias);
      let biasDone = !db;
      for (const t of node.terms) {
        const dw = target(t.weight);
        if (!dw) continue;
        const withBias = !biasDone && db!.accumulate === dw.accumulate;
        if (withBias) biasDone = true;
        const s = { batch: this.batch, inFeatures: t.input.shape[1], outFeatures: node.y.shape[1] };
        const io = {
          dy,
          x: ctx.value(t.input),
          dw: dw.slot,
          dbias: withBias ? db!.slot : undefined,
        };
        launches.push(...linearBackwardWeight(ctx, s, io, { accumulate: dw.accumulate }));
      }
      if (!biasDone) {
        const s = { batch: this.batch, outFeatures: node.y.shape[1] };
        launches.push(
          linearBackwardBias(s, { dy, dbias: db!.slot }, { accumulate: db!.accumulate }),
        );
      }
    }
    return launches;
  }
}
