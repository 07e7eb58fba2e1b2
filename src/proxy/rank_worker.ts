/**
 * The worker side of `rank --workers N` (src/proxy/workers.ts): prepares the same proxy context
 * as the main thread, on a device of its own, and scores the positions it is sent, one at a time.
 * This module starts serving when it is a worker's main module; cli.ts serves from its own
 * module instead (bundles and compiled binaries then need no second file).
 */
import { GpuUnavailableError } from "../gpu/device.ts";
import { InputError } from "../util/errors.ts";
import type { ProxyName } from "./proxies.ts";
import type { WorkerReply, WorkerRequest } from "./workers.ts";
import {
  type CandidateOutcome,
  prepareCandidateTask,
  prepareProxy,
  type ProxyContext,
  type RankWorkerInit,
  scoreCandidate,
} from "./run.ts";

interface WorkerScope {
  postMessage(message: WorkerReply<CandidateOutcome>): void;
  onmessage: ((e: MessageEvent<WorkerRequest<RankWorkerInit>>) => void) | null;
}

/** True inside a Web Worker. */
export function inWorker(): boolean {
  const scope = (globalThis as { WorkerGlobalScope?: abstract new () => unknown })
    .WorkerGlobalScope;
  return typeof scope === "function" && globalThis instanceof scope;
}

/** Answers the pool's requests until terminated. */
export function serveRankWorker(): void {
  const scope = globalThis as unknown as WorkerScope;
  let ctx: ProxyContext | undefined;
  let names: ProxyName[] = [];
  let lastTask: ({ key: string } & ReturnType<typeof prepareCandidateTask>) | undefined;
  scope.onmessage = async (e) => {
    const m = e.data;
    try {
      if (m.type === "init") {
        ctx = await prepareProxy(m.init.options);
        names = m.init.names;
        scope.postMessage({ type: "ready", description: ctx.gpu.adapterInfo.description });
        return;
      }
      if (!ctx) throw new Error("score request before init");
      const arch = ctx.space.parse(m.text);
      if (ctx.space.key(arch) !== m.key) {
        throw new Error(`${m.text} parses to key ${ctx.space.key(arch)}, not ${m.key}`);
      }
      let withTask;
      if (m.task) {
        // task-search sends the same candidate task for every labelled arch: keep the last one.
        const key = JSON.stringify(m.task);
        if (lastTask?.key !== key) lastTask = { key, ...prepareCandidateTask(ctx, m.task) };
        withTask = lastTask;
      }
      const outcome = await scoreCandidate(ctx, arch, names, withTask);
      scope.postMessage({ type: "scored", index: m.index, outcome });
    } catch (err) {
      const input = err instanceof InputError;
      const index = m.type === "score" ? m.index : undefined;
      const gpuUnavailable = err instanceof GpuUnavailableError ? err.detail : undefined;
      scope.postMessage({
        type: "error",
        message: (err as Error).message,
        input,
        gpuUnavailable,
        index,
      });
    }
  };
}

if (import.meta.main && inWorker()) serveRankWorker();
