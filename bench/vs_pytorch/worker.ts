/**
 * The gennas side of bench/vs_pytorch.ts: one JSON request per stdin line (see
 * scripts/pytorch_proxy.py for the fields), one JSON reply per stdout line with the score's
 * seconds (graph compile, 100 iterations, eval, readback), loss, dispatches and peak RSS since the
 * request arrived. The GPU, images and task are prepared once per process, as `gennas rank` does.
 */
import { prepareProxy, type ProxyContext } from "../../src/proxy/run.ts";
import { scoreArch } from "../../src/proxy/score.ts";
import process from "node:process";
import { peakRssMiB, resetPeakRss } from "./rss.ts";

async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffered = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      yield buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
    }
  }
  if (buffered) yield buffered;
}

const cpuSeconds = (u: { user: number; system: number }) => (u.user + u.system) / 1e6;

const contexts = new Map<string, ProxyContext>();
const write = (o: unknown) =>
  Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(o) + "\n"));
write({ ready: true });
for await (const line of readLines(Deno.stdin.readable)) {
  if (!line.trim()) continue;
  const req = JSON.parse(line);
  resetPeakRss();
  // The task depends on batch and seed, not on the iteration count (one GPU device throughout).
  const key = `${req.space}/${req.batch}/${req.init_channels}/${req.per_submit ?? 0}/${req.seed}`;
  let ctx = contexts.get(key);
  if (!ctx) {
    ctx = await prepareProxy({
      space: req.space,
      task: req.task ?? "combo",
      settings: {
        iterations: req.iters,
        batch: req.batch,
        initChannels: req.init_channels,
        seed: req.seed ?? 0,
        iterationsPerSubmit: req.per_submit ?? 0,
      },
    });
    contexts.set(key, ctx);
  }
  const settings = { ...ctx.settings, iterations: req.iters };
  const cpu = process.cpuUsage();
  const r = await scoreArch(ctx.gpu, ctx.space, ctx.space.parse(req.arch), ctx.task, settings);
  write({
    seconds: r.seconds,
    // All threads of the process (lavapipe's included), from the score's start to its end.
    cpu_seconds: cpuSeconds(process.cpuUsage(cpu)),
    loss: r.loss,
    dispatches: r.graph.dispatchesPerIteration,
    peak_rss_mb: peakRssMiB(),
  });
}
