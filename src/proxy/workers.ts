/**
 * `rank --workers N`: N architectures scored at a time, each Web Worker on a device of its own
 * (src/proxy/rank_worker.ts). On a CPU, lavapipe keeps about 1.6 of 2 cores busy in training and
 * compiles on one, so two at a time raise the throughput (README, "Running on a cluster"). The
 * main thread journals each result as it lands, in the order they land.
 *
 * `--max-memory MIB`: lavapipe keeps every pipeline a device has compiled, so a long rank over
 * many shapes (NB-101 cells, NDS records) grows without bound; a terminated worker gives all of
 * it back. After a result lands with the process's RSS above the limit, the worker that scored it
 * is replaced by a fresh one (which compiles again what it needs).
 */
import { InputError } from "../util/errors.ts";

/** One rank position to score: its index, canonical text and key (checked by the worker). */
export interface WorkerJob {
  index: number;
  text: string;
  key: string;
}

/** The pool's messages to a worker: first `init` (what it prepares its context from), then jobs. */
export type WorkerRequest<Init> = { type: "init"; init: Init } | ({ type: "score" } & WorkerJob);

/** A worker's answers: ready after init, one outcome per job, or an error (a user's: `input`). */
export type WorkerReply<Outcome> =
  | { type: "ready" }
  | { type: "scored"; index: number; outcome: Outcome }
  | { type: "error"; message: string; input: boolean; index?: number };

export interface WorkerPoolOptions<Init, Outcome> {
  workers: number;
  /** Sent to every worker (and every replacement) before its first job. */
  init: Init;
  jobs: readonly WorkerJob[];
  workerUrl?: string | URL;
  /** Replace a worker after a result lands with the process RSS above this many MiB. */
  maxMemoryMiB?: number;
  /** Called once per job, one call at a time, in the order the results land. */
  land: (index: number, outcome: Outcome) => Promise<void>;
}

export interface WorkerPoolStats {
  /** Workers replaced because the RSS was above --max-memory. */
  recycled: number;
}

export async function scoreInWorkers<Init, Outcome>(
  o: WorkerPoolOptions<Init, Outcome>,
): Promise<WorkerPoolStats> {
  const url = o.workerUrl ?? new URL("./rank_worker.ts", import.meta.url);
  const size = Math.min(o.workers, o.jobs.length);
  const live = new Set<Worker>();
  const stats: WorkerPoolStats = { recycled: 0 };
  try {
    await new Promise<void>((resolve, reject) => {
      let next = 0;
      let idle = 0;
      let failed = false;
      let landing = Promise.resolve();
      const fail = (e: unknown) => {
        if (!failed) {
          failed = true;
          reject(e);
        }
      };
      const send = (w: Worker, m: WorkerRequest<Init>) => w.postMessage(m);
      const feed = (w: Worker) => {
        if (failed) return;
        if (next < o.jobs.length) {
          send(w, { type: "score", ...o.jobs[next++] });
        } else if (++idle === size) {
          landing.then(resolve, fail);
        }
      };
      const overLimit = () =>
        o.maxMemoryMiB !== undefined && Deno.memoryUsage().rss / 2 ** 20 > o.maxMemoryMiB;
      const start = () => {
        const w = new Worker(url, { type: "module" });
        live.add(w);
        w.onmessage = (e: MessageEvent<WorkerReply<Outcome>>) => {
          const m = e.data;
          if (m.type === "error") {
            const at = m.index === undefined ? "" : ` (position ${m.index})`;
            fail(m.input ? new InputError(m.message) : new Error(`rank worker${at}: ${m.message}`));
          } else if (m.type === "ready") {
            feed(w);
          } else {
            landing = landing.then(() => failed ? undefined : o.land(m.index, m.outcome));
            landing.catch(fail);
            if (next < o.jobs.length && overLimit()) {
              w.terminate();
              live.delete(w);
              stats.recycled++;
              start();
            } else {
              feed(w);
            }
          }
        };
        w.onerror = (e: ErrorEvent) => {
          e.preventDefault();
          fail(new Error(`rank worker: ${e.message}`));
        };
        send(w, { type: "init", init: o.init });
      };
      for (let i = 0; i < size; i++) start();
    });
  } finally {
    for (const w of live) w.terminate();
  }
  return stats;
}
