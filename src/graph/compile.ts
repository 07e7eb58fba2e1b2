/**
 * Compiles a GraphBuilder into replayable dispatch lists: one training iteration (noise, forward,
 * loss, backward, optimizer, step counter) and one eval pass. Everything — pipelines, bind groups,
 * buffers — is created here once; training then only re-encodes the same dispatches.
 */
import type { Gpu } from "../gpu/device.ts";
import { alignUp, BufferAllocator } from "../gpu/buffers.ts";
import type { BufferSlice, ConvBlocks, DeviceClass, Launch } from "../gpu/kernel.ts";
import { bindChecked, type Dispatch, Recorder } from "../gpu/recorder.ts";
import { stepIncrement } from "../kernels/optim.ts";
import type { GraphBuilder } from "./builder.ts";
import { analyse, type Analysis, layoutParams, PARAM_ALIGN, type ParamInfo } from "./analysis.ts";
import { initialValues } from "./init.ts";
import { lossLaunches } from "./losses.ts";
import { planMemory, type TransientRequest } from "./memory.ts";
import type {
  BackwardContext,
  ForwardContext,
  GradTarget,
  Mode,
  Slot,
  SlotPlacement,
} from "./ops.ts";
import { type Param, shapeText, type Tensor } from "./tensor.ts";
import { type OptimizerConfig, optimizerLaunches } from "./optimizer.ts";

export type { OptimizerConfig, ParamInfo };

export interface CompileOptions {
  optimizer: OptimizerConfig;
  /** Weight-initialisation seed; each parameter draws from (seed, its name). */
  seed: number;
  /** Iterations the loss history on the GPU can hold. */
  maxIterations: number;
  /** Kernel tilings to use (default: the device's class). */
  deviceClass?: DeviceClass;
  /** Conv register blocks (default "large"). */
  convBlocks?: ConvBlocks;
}

export interface GraphStats {
  dispatchesPerIteration: number;
  dispatchesPerEval: number;
  transientBytes: number;
  unsharedTransientBytes: number;
  persistentBytes: number;
  parameters: number;
  trainedParameters: number;
}

/**
 * Where each phase of a training iteration ends in its dispatch list (exclusive indices):
 * forward [0, forward), loss [forward, loss), backward [loss, backward), optimizer and step
 * counter [backward, optimizer).
 */
export interface TrainPhases {
  forward: number;
  loss: number;
  backward: number;
  optimizer: number;
}

class SlotTable {
  readonly slots: Slot[] = [];
  create(floats: number, label: string, placement: SlotPlacement): Slot {
    const slot = { id: this.slots.length, floats: Math.max(1, floats), label, placement };
    this.slots.push(slot);
    return slot;
  }
}

export async function compileGraph(
  gpu: Gpu,
  builder: GraphBuilder,
  options: CompileOptions,
): Promise<CompiledGraph> {
  if (builder.losses.length === 0) throw new Error("graph has no loss stage");
  const analysis = analyse(builder);
  const layout = layoutParams(builder.params, analysis, options.optimizer);
  const paramInfo = new Map(layout.infos.map((info) => [info.name, info]));
  const table = new SlotTable();
  const persistent = new Map<number, { buffer: string; offsetFloats: number }>();
  const values = new Map<Tensor, Slot>();
  const grads = new Map<Tensor, Slot>();

  const stateOffsets = new Map<Tensor, number>();
  let stateFloats = 0;
  for (const s of builder.states) {
    stateOffsets.set(s, stateFloats);
    stateFloats = alignUp(stateFloats + s.size, PARAM_ALIGN);
  }

  const place = (slot: Slot, buffer: string, offsetFloats = 0) => {
    persistent.set(slot.id, { buffer, offsetFloats });
    return slot;
  };
  const value = (t: Tensor): Slot => {
    let slot = values.get(t);
    if (slot) return slot;
    switch (t.kind) {
      case "param": {
        const info = paramInfo.get(t.name)!;
        slot = place(table.create(t.size, t.name, "params"), "params", info.offset);
        break;
      }
      case "state":
        slot = place(table.create(t.size, t.name, "state"), "state", stateOffsets.get(t)!);
        break;
      case "input":
      case "zeros":
        slot = place(table.create(t.size, t.name, t.kind), `tensor:${t.id}`);
        break;
      default:
        slot = builder.observed.has(t)
          ? place(table.create(t.size, t.name, "input"), `tensor:${t.id}`)
          : table.create(t.size, t.name, "transient");
    }
    values.set(t, slot);
    return slot;
  };
  const grad = (t: Tensor): Slot => {
    let slot = grads.get(t);
    if (slot) return slot;
    if (t.kind === "param") {
      const info = paramInfo.get(t.name)!;
      slot = place(table.create(t.size, `${t.name}.grad`, "grads"), "grads", info.offset);
    } else if (t.kind === "input" || builder.observedGrads.has(t)) {
      slot = place(table.create(t.size, `${t.name}.grad`, "input"), `grad:${t.id}`);
    } else {
      slot = table.create(t.size, `${t.name}.grad`, "transient");
    }
    grads.set(t, slot);
    return slot;
  };
  const scratch = (floats: number, label: string) => table.create(floats, label, "transient");
  const counter = place(table.create(1, "step_counter", "counter"), "counter");
  const history = place(table.create(options.maxIterations, "loss_history", "history"), "history");
  const evalLoss = place(table.create(1, "eval_loss", "eval"), "eval");

  const maxStorageBuffers = gpu.device.limits.maxStorageBuffersPerShaderStage;
  const deviceClass = options.deviceClass ?? gpu.deviceClass;
  const convBlocks = options.convBlocks ?? "large";
  const forwardContext = (mode: Mode): ForwardContext => ({
    mode,
    deviceClass,
    convBlocks,
    maxStorageBuffers,
    counter,
    value,
    scratch,
  });
  const forward = (mode: Mode) =>
    analysis.liveOps.flatMap((op) => op.forward(forwardContext(mode)));

  const train: Launch<Slot>[] = forward("train");
  const phases = { forward: train.length, loss: 0, backward: 0, optimizer: 0 };
  const written = new Set<Tensor>();
  train.push(...lossLaunches(forwardContext("train"), builder.losses, "train", {
    value,
    grad: (s) => {
      if (!analysis.requiresGrad.has(s.output)) return undefined;
      written.add(s.output);
      return grad(s.output);
    },
  }, { loss: history, index: counter }));
  phases.loss = train.length;
  train.push(
    ...backward(analysis, written, {
      value,
      grad,
      scratch,
      deviceClass,
      convBlocks,
      maxStorageBuffers,
    }),
  );
  phases.backward = train.length;
  train.push(...optimizerLaunches(options.optimizer, layout, {
    table,
    place,
    counter,
    deviceClass,
  }));
  train.push(stepIncrement(counter));
  phases.optimizer = train.length;

  const evaluation: Launch<Slot>[] = forward("eval");
  evaluation.push(...lossLaunches(forwardContext("eval"), builder.losses, "eval", {
    value,
    grad: () => undefined,
  }, { loss: evalLoss }));

  return await CompiledGraph.create(gpu, {
    builder,
    options,
    layout,
    table,
    persistent,
    values,
    train,
    evaluation,
    phases,
    stateFloats,
    stateOffsets,
    counter,
    history,
    evalLoss,
  });
}

function backward(
  analysis: Analysis,
  written: Set<Tensor>,
  c: Pick<
    BackwardContext,
    "value" | "grad" | "scratch" | "deviceClass" | "convBlocks" | "maxStorageBuffers"
  >,
): Launch<Slot>[] {
  const launches: Launch<Slot>[] = [];
  for (let i = analysis.liveOps.length - 1; i >= 0; i--) {
    const op = analysis.liveOps[i];
    if (!op.outputs.some((t) => written.has(t))) continue;
    const targets = new Map<number, GradTarget | undefined>();
    const ctx: BackwardContext = {
      ...c,
      grad: (t: Tensor) => {
        if (!written.has(t)) throw new Error(`${op.name}: gradient of ${t.name} was never written`);
        return c.grad(t);
      },
      gradIfWritten: (t: Tensor) => (written.has(t) ? c.grad(t) : undefined),
      gradTarget: (index: number) => {
        if (targets.has(index)) return targets.get(index);
        const t = op.inputs[index];
        let target: GradTarget | undefined;
        if (t && analysis.requiresGrad.has(t)) {
          target = { slot: c.grad(t), accumulate: written.has(t) };
          written.add(t);
        }
        targets.set(index, target);
        return target;
      },
    };
    launches.push(...op.backward(ctx));
  }
  return launches;
}

interface CompileResult {
  builder: GraphBuilder;
  options: CompileOptions;
  layout: ReturnType<typeof layoutParams>;
  table: SlotTable;
  persistent: Map<number, { buffer: string; offsetFloats: number }>;
  values: Map<Tensor, Slot>;
  train: Launch<Slot>[];
  evaluation: Launch<Slot>[];
  phases: TrainPhases;
  stateFloats: number;
  stateOffsets: Map<Tensor, number>;
  counter: Slot;
  history: Slot;
  evalLoss: Slot;
}

function lifetimes(c: CompileResult): TransientRequest[] {
  const intervals = new Map<number, { first: number; last: number }[]>();
  const scan = (launches: Launch<Slot>[], base: number) => {
    const seen = new Map<number, { first: number; last: number }>();
    launches.forEach((launch, i) => {
      for (const slot of launch.bindings) {
        if (slot?.placement !== "transient") continue;
        const interval = seen.get(slot.id);
        if (interval) interval.last = base + i;
        else seen.set(slot.id, { first: base + i, last: base + i });
      }
    });
    for (const [id, interval] of seen) {
      const list = intervals.get(id) ?? [];
      list.push(interval);
      intervals.set(id, list);
    }
  };
  scan(c.train, 0);
  scan(c.evaluation, c.train.length);
  return [...intervals].map(([id, list]) => ({
    id,
    bytes: c.table.slots[id].floats * 4,
    intervals: list,
  }));
}

/** A trained network: replay iterations, evaluate, move parameters in and out. */
export class CompiledGraph {
  readonly recorder: Recorder;
  readonly params: readonly ParamInfo[];
  readonly stats: GraphStats;
  readonly #paramsByName: Map<string, Param>;
  #iterations = 0;

  private constructor(
    readonly gpu: Gpu,
    private readonly alloc: BufferAllocator,
    private readonly buffers: Map<string, GPUBuffer>,
    private readonly c: CompileResult,
    private readonly trainDispatches: Dispatch[],
    private readonly evalDispatches: Dispatch[],
    private readonly resolve: (slot: Slot) => BufferSlice,
    stats: GraphStats,
  ) {
    this.recorder = new Recorder(gpu);
    this.params = c.layout.infos;
    this.stats = stats;
    this.#paramsByName = new Map(c.builder.params.map((p) => [p.name, p]));
  }

  static async create(gpu: Gpu, c: CompileResult): Promise<CompiledGraph> {
    const alloc = new BufferAllocator(gpu.device);
    const plan = planMemory(lifetimes(c));
    const transient = plan.bufferBytes.map((bytes, i) => alloc.storage(bytes, `transient${i}`));
    const buffers = new Map<string, GPUBuffer>();
    const persistentBuffer = (name: string, floats: number) => {
      let buffer = buffers.get(name);
      if (!buffer) {
        buffer = alloc.storage(Math.max(1, floats) * 4, name);
        buffers.set(name, buffer);
      }
      return buffer;
    };
    const sizes: Record<string, number> = {
      params: c.layout.totalFloats,
      grads: c.layout.trainedFloats,
      momentum: c.layout.trainedFloats,
      adam_m: c.layout.trainedFloats,
      adam_v: c.layout.trainedFloats,
      state: c.stateFloats,
    };
    const resolved = new Map<number, BufferSlice>();
    const resolve = (slot: Slot): BufferSlice => {
      let slice = resolved.get(slot.id);
      if (slice) return slice;
      const size = slot.floats * 4;
      const place = c.persistent.get(slot.id);
      if (place) {
        const floats = sizes[place.buffer] ?? slot.floats;
        slice = {
          buffer: persistentBuffer(place.buffer, floats),
          offset: place.offsetFloats * 4,
          size,
        };
      } else {
        const index = plan.assignment.get(slot.id);
        if (index === undefined) throw new Error(`slot ${slot.label} was never planned`);
        slice = { buffer: transient[index], offset: 0, size };
      }
      resolved.set(slot.id, slice);
      return slice;
    };
    const onBuffers = (launch: Launch<Slot>) => ({
      ...launch,
      bindings: launch.bindings.map((s) => s && resolve(s)),
    });
    const [trainDispatches, evalDispatches] = await bindChecked(
      gpu,
      "graph compilation",
      c.train.map(onBuffers),
      c.evaluation.map(onBuffers),
    );
    const transientBytes = plan.bufferBytes.reduce((a, b) => a + b, 0);
    const stats: GraphStats = {
      dispatchesPerIteration: trainDispatches.length,
      dispatchesPerEval: evalDispatches.length,
      transientBytes,
      unsharedTransientBytes: plan.unsharedBytes,
      persistentBytes: alloc.bytes - transientBytes,
      parameters: c.layout.infos.reduce((sum, p) => sum + p.size, 0),
      trainedParameters: c.layout.infos.filter((p) => p.trained).reduce((s, p) => s + p.size, 0),
    };
    const graph = new CompiledGraph(
      gpu,
      alloc,
      buffers,
      c,
      trainDispatches,
      evalDispatches,
      resolve,
      stats,
    );
    graph.reset();
    return graph;
  }

  /** Re-initialises parameters, running statistics, optimizer state and the step counter. */
  reset(): void {
    const flat = new Float32Array(this.c.layout.totalFloats);
    for (const info of this.params) {
      const p = this.#param(info.name);
      const values = initialValues(p.options.init, p.size, this.c.options.seed, p.name);
      flat.set(p.options.layout?.toStored(values) ?? values, info.offset);
    }
    this.#writeBuffer("params", flat);
    const state = new Float32Array(this.c.stateFloats);
    for (const s of this.c.builder.states) {
      state.fill(s.initial, this.c.stateOffsets.get(s)!, this.c.stateOffsets.get(s)! + s.size);
    }
    this.#writeBuffer("state", state);
    for (const name of ["momentum", "adam_m", "adam_v"]) {
      this.#writeBuffer(name, new Float32Array(this.c.layout.trainedFloats));
    }
    this.recorder.write(this.resolve(this.c.counter), new Uint32Array(1));
    this.#iterations = 0;
  }

  #param(name: string): Param {
    return this.#paramsByName.get(name)!;
  }

  /** A parameter's values (or gradient) from the flat buffer, in PyTorch layout. */
  #unstored(info: ParamInfo, flat: Float32Array): Float32Array {
    const values = flat.slice(info.offset, info.offset + info.size);
    return this.#param(info.name).options.layout?.fromStored(values) ?? values;
  }

  #writeBuffer(name: string, data: Float32Array): void {
    const buffer = this.buffers.get(name);
    if (buffer && data.length > 0) {
      this.recorder.write({ buffer, offset: 0, size: buffer.size }, data);
    }
  }

  /** Uploads a host tensor (clean input images, targets). */
  write(tensor: Tensor, data: Float32Array): void {
    if (tensor.kind !== "input") throw new Error(`${tensor.name} is not an input tensor`);
    if (data.length !== tensor.size) {
      throw new Error(`${tensor.name}: ${data.length} values for shape ${shapeText(tensor.shape)}`);
    }
    const slot = this.c.values.get(tensor);
    if (!slot) return; // not reachable from the loss
    this.recorder.write(this.resolve(slot), data);
  }

  get iterations(): number {
    return this.#iterations;
  }

  /** The replayed dispatch lists (for profiling tools). */
  get dispatches(): { train: readonly Dispatch[]; evaluation: readonly Dispatch[] } {
    return { train: this.trainDispatches, evaluation: this.evalDispatches };
  }

  /** Phase boundaries of the training dispatch list (for profiling tools). */
  get phases(): Readonly<TrainPhases> {
    return this.c.phases;
  }

  #advance(iterations: number): void {
    if (this.#iterations + iterations > this.c.options.maxIterations) {
      throw new RangeError(
        `training past ${this.c.options.maxIterations} iterations (the loss history length)`,
      );
    }
    this.#iterations += iterations;
  }

  /** Encodes `iterations` training steps, `perSubmit` per command buffer; never waits. */
  train(iterations: number, o: { perSubmit?: number } = {}): void {
    this.#advance(iterations);
    const perSubmit = Math.max(1, o.perSubmit ?? 1);
    for (let done = 0; done < iterations; done += perSubmit) {
      const k = Math.min(perSubmit, iterations - done);
      this.recorder.submit(...Array.from({ length: k }, () => this.trainDispatches));
    }
  }

  /**
   * One train-mode forward (no loss, backward or step) for measures that read activations; never
   * waits. `advance` counts it as a step (the counter's increment, the list's last launch, after it).
   */
  forward(o: { advance?: boolean } = {}): void {
    const launches = this.trainDispatches.slice(0, this.c.phases.forward);
    if (o.advance) {
      this.#advance(1);
      launches.push(this.trainDispatches[this.trainDispatches.length - 1]);
    }
    this.recorder.submit(launches);
  }

  /** One eval-mode forward with fresh noise; reads back its loss and the training losses. */
  async evaluate(): Promise<{ loss: number; trainLosses: Float32Array }> {
    this.recorder.submit(this.evalDispatches);
    const [evalLoss, history] = await this.recorder.readback([
      this.resolve(this.c.evalLoss),
      this.resolve(this.c.history),
    ]);
    return { loss: evalLoss[0], trainLosses: history.slice(0, this.#iterations) };
  }

  /** All parameters by name (PyTorch state_dict names and layouts). */
  async exportParams(): Promise<Map<string, Float32Array>> {
    const buffer = this.buffers.get("params")!;
    const [flat] = await this.recorder.readback([{ buffer, offset: 0, size: buffer.size }]);
    return new Map(this.params.map((p) => [p.name, this.#unstored(p, flat)]));
  }

  /** Gradients left by the last training iteration, by parameter name (trained ones only). */
  async exportGradients(): Promise<Map<string, Float32Array>> {
    const buffer = this.buffers.get("grads");
    if (!buffer) return new Map();
    const [flat] = await this.recorder.readback([{ buffer, offset: 0, size: buffer.size }]);
    return new Map(
      this.params.filter((p) => p.trained).map((p) => [p.name, this.#unstored(p, flat)]),
    );
  }

  /** Whether an observed activation is computed (false when it cannot reach the loss). */
  computes(t: Tensor): boolean {
    return this.buffers.has(`tensor:${t.id}`);
  }

  /** The value of an activation marked with GraphBuilder.observe, from the last pass. */
  async exportValue(t: Tensor): Promise<Float32Array> {
    return (await this.exportValues([t]))[0];
  }

  /** Several observed activations in one readback. */
  exportValues(ts: readonly Tensor[]): Promise<Float32Array[]> {
    return this.recorder.readback(ts.map((t) => this.valueSlice(t)));
  }

  /** Where an observed activation's value lives, for kernels run after a pass (e.g. naswot's). */
  valueSlice(t: Tensor): BufferSlice {
    const buffer = this.buffers.get(`tensor:${t.id}`);
    if (!buffer) throw new Error(`${t.name}: not observed (observe it before compiling)`);
    return { buffer, offset: 0, size: t.size * 4 };
  }

  /** Where an observeGrad-marked activation gradient lives; undefined if the loss misses it. */
  gradSlice(t: Tensor): BufferSlice | undefined {
    if (!this.c.builder.observedGrads.has(t)) {
      throw new Error(`${t.name}: gradient not observed (observeGrad it before compiling)`);
    }
    const buffer = this.buffers.get(`grad:${t.id}`);
    return buffer && { buffer, offset: 0, size: t.size * 4 };
  }

  /** The gradient of an input marked with GraphBuilder.requireGrad, from the last iteration. */
  async exportInputGradient(t: Tensor): Promise<Float32Array> {
    const buffer = this.buffers.get(`grad:${t.id}`);
    if (!buffer && this.c.builder.gradInputs.has(t)) return new Float32Array(t.size); // cannot reach the loss
    if (!buffer) throw new Error(`${t.name}: no gradient (requireGrad it before compiling)`);
    const [grad] = await this.recorder.readback([{ buffer, offset: 0, size: t.size * 4 }]);
    return grad;
  }

  /** observeGrad-marked activation gradients of the last iteration, one readback (0s if unreached). */
  async exportGradientValues(ts: readonly Tensor[]): Promise<Float32Array[]> {
    const reached = ts.filter((t) => this.buffers.has(`grad:${t.id}`));
    const read = await this.recorder.readback(reached.map((t) => ({
      buffer: this.buffers.get(`grad:${t.id}`)!,
      offset: 0,
      size: t.size * 4,
    })));
    return ts.map((t) => {
      if (this.buffers.has(`grad:${t.id}`)) return read[reached.indexOf(t)];
      if (!this.c.builder.observedGrads.has(t)) {
        throw new Error(`${t.name}: gradient not observed (observeGrad it before compiling)`);
      }
      return new Float32Array(t.size);
    });
  }

  /** Running statistics by name. */
  async exportState(): Promise<Map<string, Float32Array>> {
    const buffer = this.buffers.get("state");
    if (!buffer) return new Map();
    const [flat] = await this.recorder.readback([{ buffer, offset: 0, size: buffer.size }]);
    return new Map(this.c.builder.states.map((s) => {
      const offset = this.c.stateOffsets.get(s)!;
      return [s.name, flat.slice(offset, offset + s.size)];
    }));
  }

  /** Replaces parameters by name; every given name must exist with the right size. */
  importParams(values: ReadonlyMap<string, Float32Array>): void {
    const byName = new Map(this.params.map((p) => [p.name, p]));
    for (const [name, data] of values) {
      const info = byName.get(name);
      if (!info) throw new Error(`unknown parameter "${name}"`);
      if (data.length !== info.size) {
        throw new Error(`parameter ${name}: ${data.length} values, expected ${info.size}`);
      }
      const stored = this.#param(name).options.layout?.toStored(data) ?? data;
      const buffer = this.buffers.get("params")!;
      this.recorder.write({ buffer, offset: info.offset * 4, size: info.size * 4 }, stored);
    }
  }

  destroy(): void {
    this.alloc.destroy();
  }
}
