/**
 * `deno run -A bench/ubo_conv_proto.ts [R] [OCB] [LOOPS] [unroll] [nopick]` — a prototype 3×3
 * conv forward (16 → 16 channels, 32², pad 1, batch 16) that reads both operands from uniform
 * buffers at lane-uniform indices (an experiment of 2026-12-04, not used by gennas): one workgroup
 * is one 8-lane SIMD row of lavapipe (8 consecutive output columns), so every index derives from
 * the workgroup id and loop counters only, and each lane's x value is picked from two or three
 * vec4 loads by a select chain on the lane index; R output rows × OCB output channels per lane,
 * LOOPS row blocks per workgroup, one dispatch per sample (its x plane is exactly 64 KiB).
 * Checks one sample against a float64 loop, then prints GFLOP/s (median of 5 runs of 20 batches).
 * Measured here: 5.4–8.1 GFLOP/s (9.5 without the select chains), against 34–48 for gennas' own
 * kernel at this shape (README, Performance) — a uniform-buffer load at a lane-uniform index is
 * no cheap broadcast on Mesa 22.3's lavapipe once the loop is not unrolled away.
 */
const R = Number(Deno.args[0] ?? 2); // output rows per workgroup
const OCB = Number(Deno.args[1] ?? 8); // output channels per workgroup (multiple of 4)
const LOOPS = Number(Deno.args[2] ?? 1); // row blocks per workgroup, one after the other
const UNROLL = Deno.args[3] === "unroll"; // input-channel loop unrolled (literal i)
const NOPICK = Deno.args[4] === "nopick"; // every lane takes the same x (timing only: the check fails)
const [C, H, W, N] = [16, 32, 32, 16];

function source(): string {
  const acc: string[] = [];
  for (let r = 0; r < R; r++) for (let o = 0; o < OCB; o++) acc.push(`var a${r}_${o} = 0.0;`);
  const body: string[] = [];
  for (let dy = -1; dy <= R; dy++) {
    // input row y0 + dy feeds output row r with ky = dy - r + 1 ∈ [0, 2]
    const users = Array.from({ length: R }, (_, r) => r).filter((r) =>
      dy - r + 1 >= 0 && dy - r + 1 <= 2
    );
    if (users.length === 0) continue;
    body.push(`{ let yy = i32(y0) + ${dy};`);
    body.push(`  let inside = yy >= 0 && yy < ${H};`);
    body.push(`  let rb = ib + u32(clamp(yy, 0, ${H - 1})) * ${W / 4}u + g * 2u;`);
    body.push(`  let z = select(vec4<f32>(0.0), vec4<f32>(1.0), inside);`);
    body.push(`  let lo = x[rb] * z; let hi = x[rb + 1u] * z;`);
    body.push(`  let pv = select(vec4<f32>(0.0), x[max(rb, 1u) - 1u] * z, g > 0u);`);
    body.push(`  let nx = select(vec4<f32>(0.0), x[min(rb + 2u, 4095u)] * z, g < ${W / 8 - 1}u);`);
    body.push(
      NOPICK
        ? `  let xm = lo.x + pv.w; let x0 = lo.y; let xp = hi.x + nx.x;`
        : `  let xm = pick(pv.w, lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, l);`,
    );
    if (!NOPICK) {
      body.push(`  let x0 = pick(lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w, l);`);
      body.push(`  let xp = pick(lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w, nx.x, l);`);
    }
    for (const r of users) {
      const ky = dy - r + 1;
      for (let kx = 0; kx < 3; kx++) {
        const xv = ["xm", "x0", "xp"][kx];
        for (let q = 0; q < OCB / 4; q++) {
          // weights [i][ky][kx][o], o innermost: vec4 of 4 output channels
          body.push(`  { let wv = w[wb + ${(ky * 3 + kx) * (C / 4) + q}u];`);
          for (let c = 0; c < 4; c++) {
            const o = q * 4 + c;
            body.push(`    a${r}_${o} = fma(wv.${"xyzw"[c]}, ${xv}, a${r}_${o});`);
          }
          body.push(`  }`);
        }
      }
    }
    body.push(`}`);
  }
  const store: string[] = [];
  for (let r = 0; r < R; r++) {
    for (let o = 0; o < OCB; o++) {
      store.push(`out[((o0 + ${o}u) * ${H}u + y0 + ${r}u) * ${W}u + g * 8u + l] = a${r}_${o};`);
    }
  }
  return `
@group(0) @binding(0) var<uniform> x: array<vec4<f32>, 4096>;
@group(0) @binding(1) var<uniform> w: array<vec4<f32>, ${C * 9 * C / 4}>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
fn pick(v0: f32, v1: f32, v2: f32, v3: f32, v4: f32, v5: f32, v6: f32, v7: f32, l: u32) -> f32 {
  let b0 = (l & 1u) != 0u; let b1 = (l & 2u) != 0u; let b2 = l >= 4u;
  return select(select(select(v0, v1, b0), select(v2, v3, b0), b1),
                select(select(v4, v5, b0), select(v6, v7, b0), b1), b2);
}
@compute @workgroup_size(8) fn main(@builtin(local_invocation_index) l: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let g = wg.x % ${W / 8}u;
  let o0 = wg.y * ${OCB}u;
  for (var rb = 0u; rb < ${LOOPS}u; rb++) {
  let y0 = ((wg.x / ${W / 8}u) * ${LOOPS}u + rb) * ${R}u;
  ${acc.join("\n  ")}
  ${
    UNROLL
      ? Array.from({ length: C }, (_, i) =>
        `{ let ib = ${i * (H * W) / 4}u; let wb = ${i * 9 * C / 4}u + o0 / 4u;\n    ${
          body.join("\n    ")
        }\n  }`).join("\n  ")
      : `for (var i = 0u; i < ${C}u; i++) {
    let ib = i * ${(H * W) / 4}u;
    let wb = i * ${9 * C / 4}u + o0 / 4u;
    ${body.join("\n    ")}
  }`
  }
  ${store.join("\n  ")}
  }
}`;
}

const adapter = await navigator.gpu.requestAdapter();
const device = await adapter!.requestDevice();
const rand = (n: number, seed: number) => {
  let s = seed;
  return Float32Array.from(
    { length: n },
    () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5,
  );
};
const xs = rand(N * C * H * W, 1);
const ws = rand(C * C * 9, 2); // [i][ky][kx][o]
const xbuf = device.createBuffer({
  size: xs.byteLength,
  usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
});
device.queue.writeBuffer(xbuf, 0, xs);
const wbuf = device.createBuffer({
  size: ws.byteLength,
  usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
});
device.queue.writeBuffer(wbuf, 0, ws);
const outs = Array.from(
  { length: N },
  () =>
    device.createBuffer({
      size: C * H * W * 4,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
    }),
);
const code = source();
const t0 = performance.now();
const pipe = device.createComputePipeline({
  layout: "auto",
  compute: { module: device.createShaderModule({ code }), entryPoint: "main" },
});
const groups = Array.from({ length: N }, (_, n) =>
  device.createBindGroup({
    layout: pipe.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: xbuf, offset: n * 65536, size: 65536 } },
      { binding: 1, resource: { buffer: wbuf } },
      { binding: 2, resource: { buffer: outs[n] } },
    ],
  }));
const run = async (batches: number) => {
  const enc = device.createCommandEncoder();
  const p = enc.beginComputePass();
  p.setPipeline(pipe);
  for (let b = 0; b < batches; b++) {
    for (let n = 0; n < N; n++) {
      p.setBindGroup(0, groups[n]);
      p.dispatchWorkgroups((W / 8) * (H / R / LOOPS), C / OCB);
    }
  }
  p.end();
  device.queue.submit([enc.finish()]);
  await device.queue.onSubmittedWorkDone();
};
await run(1);
console.log(
  `R ${R} OCB ${OCB} LOOPS ${LOOPS}: compile + first batch ${
    (performance.now() - t0).toFixed(0)
  } ms, WGSL ${code.length} chars`,
);
// check sample 3 against float64
const n = 3;
const read = device.createBuffer({
  size: C * H * W * 4,
  usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
});
const enc = device.createCommandEncoder();
enc.copyBufferToBuffer(outs[n], 0, read, 0, C * H * W * 4);
device.queue.submit([enc.finish()]);
await read.mapAsync(GPUMapMode.READ);
const got = new Float32Array(read.getMappedRange().slice(0));
let worst = 0;
for (let o = 0; o < C; o++) {
  for (let y = 0; y < H; y++) {
    for (let xx = 0; xx < W; xx++) {
      let s = 0;
      for (let i = 0; i < C; i++) {
        for (let ky = 0; ky < 3; ky++) {
          for (let kx = 0; kx < 3; kx++) {
            const yy = y + ky - 1, xc = xx + kx - 1;
            if (yy < 0 || yy >= H || xc < 0 || xc >= W) continue;
            s += xs[((n * C + i) * H + yy) * W + xc] * ws[((i * 3 + ky) * 3 + kx) * C + o];
          }
        }
      }
      worst = Math.max(worst, Math.abs(got[(o * H + y) * W + xx] - s));
    }
  }
}
console.log(`max |error| against float64: ${worst.toExponential(2)}`);
if (!NOPICK && !(worst < 1e-4)) {
  console.error("the prototype's output does not match the float64 conv");
  Deno.exit(1);
}
const flops = 2 * N * C * C * 9 * H * W;
const times: number[] = [];
for (let k = 0; k < 5; k++) {
  const s = performance.now();
  await run(20);
  times.push((performance.now() - s) / 20);
}
times.sort((a, b) => a - b);
console.log(
  `forward: ${times[2].toFixed(2)} ms per batch, ${
    (flops / times[2] / 1e6).toFixed(1)
  } GFLOP/s median, best ${(flops / times[0] / 1e6).toFixed(1)}`,
);
