/**
 * The benchmark tools' own logic: the training dispatch list's phase boundaries (bench/profile.ts
 * categorises by them), the live-conv FLOP count and list spacing of bench/vs_pytorch, the PyTorch
 * worker's line protocol (skipped when /usr/bin/python3 lacks torch), bench/tune_conv.ts's
 * flag check and journal resume, bench/pipeline_cost.ts end to end on tiny shapes, and every
 * bench script's flag parsing (bench/args.ts: --help, unknown flags), the scaled fidelity runs'
 * selection, and bench/ubo_conv_proto.ts's own float64 check.
 */
import assert from "node:assert/strict";
import { acquireGpu } from "../src/gpu/device.ts";
import { GraphBuilder } from "../src/graph/builder.ts";
import { compileGraph } from "../src/graph/compile.ts";
import { conv2dFlops, conv2dShape } from "../src/kernels/conv2d/mod.ts";
import { liveConvFlops } from "../bench/vs_pytorch/flops.ts";
import { evenlySpaced } from "../bench/vs_pytorch/archs.ts";
import { anynetFidelityRuns } from "../bench/fidelity_anynet.ts";
import { ndsRuns } from "../bench/fidelity_nds.ts";

function tinyNet(): GraphBuilder {
  const g = new GraphBuilder();
  const x = g.input("x", [2, 3, 8, 8]);
  const c = g.conv2d("c", x, { outChannels: 4, kernel: 3, pad: 1, bias: false });
  const h = g.batchNorm("bn", c, { affine: true, track: true, relu: true });
  // A branch that never reaches the loss: no FLOPs counted, no dispatches.
  g.conv2d("dead", h, { outChannels: 8, kernel: 3, pad: 1, bias: false });
  const out = g.conv2d("head", h, { outChannels: 2, kernel: 1, bias: true });
  const target = g.input("t", out.shape);
  g.mseLoss([{ output: out, target, trainWeight: 1, evalWeight: 1 }]);
  return g;
}

Deno.test("liveConvFlops counts only the convs that reach the loss", () => {
  const shape = (inC: number, outC: number, k: number) =>
    conv2dShape({
      batch: 2,
      inChannels: inC,
      outChannels: outC,
      inH: 8,
      inW: 8,
      kernel: k,
      pad: (k - 1) / 2,
    });
  assert.equal(
    liveConvFlops(tinyNet()),
    conv2dFlops(shape(3, 4, 3)) + conv2dFlops(shape(4, 2, 1)),
  );
});

Deno.test("evenlySpaced keeps both ends and is a subset of the longer list", () => {
  const items = Array.from({ length: 20 }, (_, i) => i);
  assert.deepEqual(evenlySpaced(items, 4), [0, 6, 13, 19]);
  assert.deepEqual(evenlySpaced(items, 1), [0]);
  assert.deepEqual(evenlySpaced(items, 30), items);
});

Deno.test("training phases partition the dispatch list: forward, loss, backward, optimizer", async () => {
  const gpu = await acquireGpu();
  const graph = await compileGraph(gpu, tinyNet(), {
    optimizer: { kind: "sgd", lr: 0.1, momentum: 0.9, weightDecay: 0 },
    seed: 1,
    maxIterations: 2,
  });
  try {
    const p = graph.phases;
    const labels = graph.dispatches.train.map((d) => d.label);
    assert.ok(0 < p.forward && p.forward < p.loss && p.loss < p.backward);
    assert.equal(p.optimizer, labels.length);
    const slice = (a: number, b: number) => labels.slice(a, b).join(" ");
    assert.match(slice(0, p.forward), /conv2d_fwd/);
    assert.doesNotMatch(slice(0, p.forward), /bwd|mse|sgd/);
    assert.match(slice(p.forward, p.loss), /^mse/);
    assert.match(slice(p.loss, p.backward), /conv2d_bwd_weight/);
    assert.doesNotMatch(slice(p.loss, p.backward), /sgd|step_increment/);
    assert.deepEqual(labels.slice(p.backward), ["sgd", "step_increment"]);
  } finally {
    graph.destroy();
  }
});

async function hasTorch(): Promise<boolean> {
  try {
    const out = await new Deno.Command("/usr/bin/python3", {
      args: ["-c", "import torch"],
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "pytorch_proxy.py answers one JSON line per request with a finite loss",
  ignore: !(await hasTorch()),
  fn: async () => {
    const proc = new Deno.Command("/usr/bin/python3", {
      args: [new URL("../scripts/pytorch_proxy.py", import.meta.url).pathname, "--threads", "1"],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const request = {
      space: "nb201",
      arch: "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|none~1|avg_pool_3x3~2|",
      iters: 2,
      batch: 2,
      init_channels: 4,
      out_channels: [3, 3, 3],
      noise: { kind: "uniform", level: 0.1 },
      train_weights: [1, 1, 1],
      eval_weights: [0.25, 0.5, 1],
      seed: 0,
    };
    const writer = proc.stdin.getWriter();
    await writer.write(new TextEncoder().encode(JSON.stringify(request) + "\n"));
    await writer.close();
    const out = new TextDecoder().decode((await proc.output()).stdout).trim().split("\n");
    assert.equal(out.length, 2);
    assert.equal(JSON.parse(out[0]).threads, 1);
    const reply = JSON.parse(out[1]);
    assert.ok(Number.isFinite(reply.loss) && reply.loss > 0);
    assert.ok(reply.seconds > 0 && reply.cpu_seconds > 0);
    assert.ok(reply.peak_rss_mb > 10);
  },
});

Deno.test("tune_conv: bad --passes exits 2; a rerun over its journal measures nothing again", async () => {
  const run = async (...args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "bench/tune_conv.ts", ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    return {
      code: out.code,
      text: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr),
    };
  };
  const bad = await run("--preset", "nb201", "--passes", "fwd");
  assert.equal(bad.code, 2, bad.text);
  assert.match(bad.text, /--passes takes forward, data, weight, got fwd/);
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/t.jsonl`;
    const args = ["--shapes", "[[4,4,8,8]]", "--passes", "forward", "--top", "2", "--out", out];
    const first = await run(...args);
    assert.equal(first.code, 0, first.text);
    assert.match(first.text, /forward n16 4>4 8x8 k1x1 s1x1 g1: model .* ms/);
    const journal = await Deno.readTextFile(out);
    const again = await run(...args);
    assert.equal(again.code, 0, again.text);
    assert.doesNotMatch(again.text, /model/);
    assert.equal(await Deno.readTextFile(out), journal);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pipeline_cost: counts what a second arch adds and prints the resident split", async () => {
  const archs = [
    "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|nor_conv_3x3~1|none~2|",
    "|nor_conv_1x1~0|+|none~0|none~1|+|skip_connect~0|nor_conv_1x1~1|none~2|",
  ];
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "bench/pipeline_cost.ts",
      "--batch",
      "2",
      "--init-channels",
      "4",
      ...archs.flatMap((a) => ["--arch", a]),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text);
  const counts = [...text.matchAll(/compile \d+ ms: (\d+) new pipelines/g)].map((m) =>
    Number(m[1])
  );
  assert.equal(counts.length, 2, text);
  // The second arch shares the first one's kernels but for its cells' 1×1 convs.
  assert.ok(counts[0] > 0 && counts[1] > 0 && counts[1] < counts[0], text);
  assert.match(text, /RSS \d+ → \d+ MiB compiled → \d+ MiB after one iteration/);
  if (Deno.build.os === "linux") {
    assert.match(text, /resident MiB: \[heap \d+, other anonymous \d+, JIT code \d+\]/);
  }
  assert.match(text, /new forward\/data-gradient pipelines, \d+ of them new without/);
});

Deno.test("bench scripts: --help prints the usage (exit 0), an unknown flag exits 2 with it", async () => {
  for (const script of ["bench/fidelity.ts", "bench/zc_naslib.ts", "bench/vs_pytorch.ts"]) {
    const run = async (...args: string[]) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", script, ...args],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      return { code: out.code, text };
    };
    const help = await run("--help");
    assert.equal(help.code, 0, help.text);
    assert.match(help.text, /^usage: deno (run|task) /m, script);
    const bad = await run("--no-such-flag");
    assert.equal(bad.code, 2, bad.text);
    assert.match(bad.text, /error: Unknown option '--no-such-flag'/);
    assert.match(bad.text, /^usage: /m);
  }
});

Deno.test("scaled fidelity runs: anynet-scaled copies combo and search-R, nds-scaled combo and search-D", () => {
  const anynet = anynetFidelityRuns("/data", "/out", "/data/images.bin", 2)
    .filter((r) => r.group === "anynet-scaled");
  assert.deepEqual(anynet.map((r) => r.name).sort(), [
    "resnext-a_in-combo-w0.25",
    "resnext-a_in-search-R-w0.25",
    "resnext-b_in-combo-w0.25",
    "resnext-b_in-search-R-w0.25",
  ]);
  for (const r of anynet) {
    assert.equal(r.options.settings?.widthScale, 0.25);
    assert.equal(r.options.out, `/out/${r.name}.jsonl`);
  }
  const nds = ndsRuns("/data", 2, "/out").filter((r) => r.group === "nds-scaled");
  assert.equal(nds.length, 12);
  assert.deepEqual(
    nds.filter((r) => r.space === "darts_in").map((r) => r.name).sort(),
    ["nds-darts_in-combo-w0.25", "nds-darts_in-search-D-w0.25"],
  );
  for (const r of nds) assert.equal(r.options.settings?.widthScale, 0.25);
});

Deno.test("bench/ubo_conv_proto.ts: the prototype conv matches its float64 check", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "bench/ubo_conv_proto.ts", "2", "8", "8"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text);
  assert.match(text, /forward: .* GFLOP\/s median/);
});
