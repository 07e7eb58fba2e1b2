/**
 * `rank --workers N` and `search --workers N`: N architectures scored at a time, each Web Worker
 * on a device of its own (src/proxy/rank_worker.ts). On a CPU, lavapipe keeps about 1.6 of 2
 * cores busy in training and compiles on one, so two at a time raise the throughput (README,
 * "Running on a cluster").
 *
 * `--max-memory MIB`: lavapipe keeps every pipeline a device has compiled, so a long run over
 * many shapes (NB-101 cells, NDS records) grows without bound; a terminated worker gives all of
 * it back. After a result lands with the process's RSS above the limit, the worker that scored it
 * is terminated, and a fresh one (which compiles again what it needs) takes its place when there
 * is a next job.
 */
import { acquireGpu, type Gpu, GpuUnavailableError } from "../gpu/device.ts";
import { InputError } from "../util/errors.ts";

/** One architecture to score: its index, canonical text and key (checked by the worker). */
export interface WorkerJob {
  index: number;
  text: string;
  key: string;
  /** Score on this task instead of the init's (task-search: a candidate config and its seed). */
  task?: { config: unknown; seed: number };
}

/** The pool's messages to a worker: first `init` (what it prepares its context from), then jobs. */
export type WorkerRequest<Init> = { type: "init"; init: Init } | ({ type: "score" } & WorkerJob);

/** A worker's answers: ready after init, one outcome per job, or an error (a user's: `input`). */
export type WorkerReply<Outcome> =
  | { type: "ready"; description?: string }
  | { type: "scored"; index: number; outcome: Outcome }
  | {
    type: "error";
    message: string;
    /** The user's error (InputError): exit 2. */
    input: boolean;
    /** No WebGPU adapter in the worker (GpuUnavailableError's detail): exit 3. */
    gpuUnavailable?: string;
    index?: number;
  };

/** Checks `--workers` and `--max-memory`; returns the worker count (default 1). */
export function validateWorkerOptions(workers = 1, maxMemory?: number): number {
  if (!Number.isInteger(workers) || workers < 1) {
    throw new InputError(`--workers must be an integer ≥ 1, got ${workers}`);
  }
  if (maxMemory !== undefined && !(maxMemory > 0)) {
    throw new InputError(`--max-memory must be a positive number of MiB, got ${maxMemory}`);
  }
  return workers;
}

/** The worker options of `rank`, `search` and `task-search`. */
export interface WorkerOptions {
  /** Architectures scored at a time, each in a Web Worker with a device of its own (default 1):
   *  the same scores as one at a time. */
  workers?: number;
  /** The worker module (default src/proxy/rank_worker.ts); the CLI passes its own module, which
   *  serves as the worker too, so that bundles and compiled binaries need no second file. */
  workerUrl?: string | URL;
  /** Score in workers (even one) and replace a worker when the process RSS is above this many
   *  MiB after its result lands (lavapipe keeps every pipeline a device compiled). */
  maxMemory?: number;
}

export interface WorkerPoolConfig<Init> {
  /** Jobs scored at a time, at most (workers are started as jobs arrive). */
  workers: number;
  /** Sent to every worker (and every replacement) before its first job. */
  init: Init;
  workerUrl?: string | URL;
  /** Terminate a worker after a result lands with the process RSS above this many MiB. */
  maxMemoryMiB?: number;
}

interface Pending<Outcome> {
  job: WorkerJob;
  resolve: (o: Outcome) => void;
  reject: (e: unknown) => void;
}

/**
 * Workers that score submitted jobs, at most `workers` at a time, first come first served. The
 * first failure (a worker's error or crash) rejects every job in flight or queued, and every later
 * submit: the pool is then dead, and `close()` is all that is left to do.
 */
export class WorkerPool<Init, Outcome> {
  readonly #config: WorkerPoolConfig<Init>;
  readonly #url: string | URL;
  readonly #queue: Pending<Outcome>[] = [];
  readonly #idle: Worker[] = [];
  readonly #busy = new Map<Worker, Pending<Outcome> | undefined>();
  #failure: unknown;
  #retired = 0;
  #recycled = 0;
  /** Workers started that have not reported ready yet. */
  #starting = 0;
  #started = 0;
  readonly #ready = Promise.withResolvers<string>();

  constructor(config: WorkerPoolConfig<Init>) {
    this.#config = config;
    this.#url = config.workerUrl ?? new URL("./rank_worker.ts", import.meta.url);
  }

  /** Workers started in place of one terminated over --max-memory. */
  get recycled(): number {
    return this.#recycled;
  }

  /** Workers started in all (replacements included). */
  get started(): number {
    return this.#started;
  }

  /** What the first worker to be ready runs on (its adapter); starts a worker if none is. */
  description(): Promise<string> {
    if (this.#failure === undefined && this.#busy.size + this.#idle.length === 0) this.#start();
    return this.#ready.promise;
  }

  /** Scores every job, landing each result as it arrives, one `land` at a time; rejects on the
   *  first failure. */
  async scoreAll(
    jobs: readonly WorkerJob[],
    land: (index: number, outcome: Outcome) => Promise<void>,
  ): Promise<void> {
    let landing = Promise.resolve();
    const landed = jobs.map((job) =>
      this.submit(job).then((outcome) => {
        landing = landing.then(() => land(job.index, outcome));
        return landing;
      })
    );
    await Promise.all(landed);
    await landing;
  }

  submit(job: WorkerJob): Promise<Outcome> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise<Outcome>((resolve, reject) => {
      this.#queue.push({ job, resolve, reject });
      this.#dispatch();
    });
  }

  /** Terminates every worker; jobs still queued or in flight are rejected. */
  close(): void {
    this.#fail(new Error("the worker pool was closed"));
    for (const w of [...this.#idle, ...this.#busy.keys()]) w.terminate();
    this.#idle.length = 0;
    this.#busy.clear();
  }

  #dispatch(): void {
    while (this.#queue.length > 0 && this.#failure === undefined) {
      const w = this.#idle.pop();
      if (w) {
        const pending = this.#queue.shift()!;
        this.#busy.set(w, pending);
        w.postMessage({ type: "score", ...pending.job } satisfies WorkerRequest<Init>);
      } else if (this.#busy.size < this.#config.workers && this.#starting < this.#queue.length) {
        // Only for a job that no worker already starting will take: a search submitting one
        // child at a time keeps one worker, which has compiled the shapes before.
        this.#start();
      } else {
        return;
      }
    }
  }

  /** A worker becomes busy (with no job) until it reports ready. */
  #start(): void {
    if (this.#retired > 0) {
      this.#retired--;
      this.#recycled++;
    }
    const w = new Worker(this.#url, { type: "module" });
    this.#busy.set(w, undefined);
    this.#starting++;
    this.#started++;
    w.onmessage = (e: MessageEvent<WorkerReply<Outcome>>) => {
      const m = e.data;
      if (m.type === "error") {
        const at = m.index === undefined ? "" : ` (position ${m.index})`;
        this.#fail(
          m.gpuUnavailable !== undefined
            ? new GpuUnavailableError(m.gpuUnavailable)
            : m.input
            ? new InputError(m.message)
            : new Error(`rank worker${at}: ${m.message}`),
        );
        return;
      }
      const pending = this.#busy.get(w);
      this.#busy.delete(w);
      if (m.type === "ready") {
        this.#starting--;
        this.#ready.resolve(m.description ?? "");
      }
      if (m.type === "scored") {
        pending?.resolve(m.outcome);
        if (this.#overLimit()) {
          w.terminate();
          this.#retired++;
          this.#dispatch();
          return;
        }
      }
      this.#idle.push(w);
      this.#dispatch();
    };
    w.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#fail(new Error(`rank worker: ${e.message}`));
    };
    w.postMessage({ type: "init", init: this.#config.init } satisfies WorkerRequest<Init>);
  }

  #overLimit(): boolean {
    const limit = this.#config.maxMemoryMiB;
    return limit !== undefined && Deno.memoryUsage().rss / 2 ** 20 > limit;
  }

  #fail(e: unknown): void {
    if (this.#failure !== undefined) return;
    this.#failure = e;
    this.#ready.promise.catch(() => {});
    this.#ready.reject(e);
    for (const pending of [...this.#busy.values(), ...this.#queue.splice(0)]) {
      pending?.reject(e);
    }
    for (const w of this.#busy.keys()) this.#busy.set(w, undefined);
  }
}

/** What a run scores with: its own GPU, or a pool of workers (each with one); `adapter` names it. */
export interface Scorer<Init, Outcome> {
  gpu?: Gpu;
  pool?: WorkerPool<Init, Outcome>;
  adapter: string;
}

/**
 * The GPU, or with more than one worker or a memory limit a pool whose first worker is ready (the
 * main thread then takes no GPU): called before a run opens its journal, so that a missing
 * adapter writes nothing.
 */
export async function acquireScorer<Init, Outcome>(
  o: WorkerPoolConfig<Init>,
): Promise<Scorer<Init, Outcome>> {
  if (o.workers === 1 && o.maxMemoryMiB === undefined) {
    const gpu = await acquireGpu();
    return { gpu, adapter: gpu.adapterInfo.description };
  }
  const pool = new WorkerPool<Init, Outcome>(o);
  try {
    return { pool, adapter: await pool.description() };
  } catch (e) {
    pool.close();
    throw e;
  }
}
