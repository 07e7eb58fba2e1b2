/**
 * `rank --workers N`: N architectures scored at a time, each Web Worker on a device of its own
 * (src/proxy/rank_worker.ts). On a CPU, lavapipe keeps about 1.6 of 2 cores busy in training and
 * compiles on one, so two at a time raise the throughput (README, "Running on a cluster"). The
 * main thread journals each result as it lands, in the order they land.
 */
import { InputError } from "../util/errors.ts";
import type { ProxyName } from "./proxies.ts";
import type { WorkerReply, WorkerRequest } from "./rank_worker.ts";
import type { CandidateOutcome, ProxyOptions } from "./run.ts";

/** One rank position to score: its index, canonical text and key (checked by the worker). */
export interface WorkerJob {
  index: number;
  text: string;
  key: string;
}

export interface WorkerPoolOptions {
  workers: number;
  /** What each worker prepares its context from (the same as the main thread's). */
  options: ProxyOptions;
  names: readonly ProxyName[];
  jobs: readonly WorkerJob[];
  workerUrl?: string | URL;
  /** Called once per job, one call at a time, in the order the results land. */
  land: (index: number, outcome: CandidateOutcome) => Promise<void>;
}

export async function scoreInWorkers(o: WorkerPoolOptions): Promise<void> {
  const url = o.workerUrl ?? new URL("./rank_worker.ts", import.meta.url);
  const pool = Array.from(
    { length: Math.min(o.workers, o.jobs.length) },
    () => new Worker(url, { type: "module" }),
  );
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
      const send = (w: Worker, m: WorkerRequest) => w.postMessage(m);
      const feed = (w: Worker) => {
        if (failed) return;
        if (next < o.jobs.length) {
          send(w, { type: "score", ...o.jobs[next++] });
        } else if (++idle === pool.length) {
          landing.then(resolve, fail);
        }
      };
      for (const w of pool) {
        w.onmessage = (e: MessageEvent<WorkerReply>) => {
          const m = e.data;
          if (m.type === "error") {
            const at = m.index === undefined ? "" : ` (position ${m.index})`;
            fail(m.input ? new InputError(m.message) : new Error(`rank worker${at}: ${m.message}`));
          } else if (m.type === "ready") {
            feed(w);
          } else {
            landing = landing.then(() => failed ? undefined : o.land(m.index, m.outcome));
            landing.catch(fail);
            feed(w);
          }
        };
        w.onerror = (e: ErrorEvent) => {
          e.preventDefault();
          fail(new Error(`rank worker: ${e.message}`));
        };
        send(w, { type: "init", options: o.options, names: [...o.names] });
      }
    });
  } finally {
    for (const w of pool) w.terminate();
  }
}
