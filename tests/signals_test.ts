import assert from "node:assert/strict";
import {
  CNN_GRID,
  dotCount,
  dotGaussianSignal,
  dotMap,
  dotSignal,
  gaussianFilter2d,
  gaussianKernel1d,
  type ImageBatch,
  type MapGrid,
  nearestDownsample,
  normaliseByMaxAbs,
  reflectIndex,
  resizeChannelMap,
  resizeSignal,
  sin1dMap,
  sin1dSignal,
  sin2dMap,
  sin2dSignal,
  sinPool,
  sinPoolSize,
} from "../src/tasks/signals.ts";
import { Rng } from "../src/util/rng.ts";

const H = 8;
const W = 8;
const MAP = H * W;
const M_GRID = [0.125, 0.15, 0.175, 0.2, 0.225, 0.25, 0.275, 0.3, 0.325, 0.35];
const H_GRID = [0.375, 0.3875, 0.4, 0.4125, 0.425, 0.4375, 0.45, 0.4625, 0.475, 0.4875];

function assertAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number) {
  assert.equal(actual.length, expected.length, "length");
  for (let i = 0; i < actual.length; i++) {
    const scale = Math.max(1, Math.abs(expected[i]));
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= tol * scale,
      `index ${i}: ${actual[i]} vs ${expected[i]}`,
    );
  }
}

function meanSquare(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] * values[i];
  return sum / values.length;
}

/** Map m of a [B][C][H][W] tensor, as its own array. */
function mapAt(tensor: Float64Array, b: number, c: number, channels: number): Float64Array {
  const offset = (b * channels + c) * MAP;
  return tensor.slice(offset, offset + MAP);
}

function mapKey(map: ArrayLike<number>): string {
  return Array.from(map, (v) => v.toFixed(12)).join(",");
}

function sameAcrossBatch(tensor: Float64Array, batch: number, channels: number): boolean {
  const size = channels * MAP;
  for (let b = 1; b < batch; b++) {
    for (let i = 0; i < size; i++) {
      if (!Object.is(tensor[b * size + i], tensor[i])) return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// sin1d / sin2d maps

Deno.test("sin1d row map, beta 1/4, phase 0, sin: 1-based rows give 1, 0, -1, 0 stripes", () => {
  const map = sin1dMap(0.25, 0, 0, "row", CNN_GRID);
  const rowValues = [1, 0, -1, 0, 1, 0, -1, 0];
  const expected = Array.from({ length: MAP }, (_, p) => rowValues[Math.floor(p / W)]);
  assertAllClose(map, expected, 1e-12);
});

Deno.test("sin1d column map, beta 1/2 (Nyquist), k odd (cos): columns alternate -1, +1", () => {
  const map = sin1dMap(0.5, 0, 1, "column", CNN_GRID);
  const expected = Array.from({ length: MAP }, (_, p) => (p % W) % 2 === 0 ? -1 : 1);
  assertAllClose(map, expected, 1e-12);
});

Deno.test("sin1d map at arbitrary beta and phase matches the formula", () => {
  const beta = 0.3137;
  const phase = 2.2;
  const map = sin1dMap(beta, phase, 3, "column", CNN_GRID);
  for (let i = 0; i < H; i++) {
    for (let j = 0; j < W; j++) {
      const expected = Math.cos(2 * Math.PI * beta * (j + 1) + phase);
      assert.ok(Math.abs(map[i * W + j] - expected) < 1e-12);
    }
  }
});

Deno.test("sin2d map uses 2*phase, 1-based coordinates, and the flip reads row 7-i", () => {
  // beta1 = 1/4, beta2 = 0, phase = pi/4: sin(pi/2 (i+1) + pi/2) = cos(pi/2 (i+1)).
  const plain = sin2dMap(0.25, 0, Math.PI / 4, 0, false, CNN_GRID);
  const flipped = sin2dMap(0.25, 0, Math.PI / 4, 0, true, CNN_GRID);
  const rowValues = [0, -1, 0, 1, 0, -1, 0, 1];
  for (let i = 0; i < H; i++) {
    for (let j = 0; j < W; j++) {
      assert.ok(Math.abs(plain[i * W + j] - rowValues[i]) < 1e-12);
      assert.ok(Math.abs(flipped[i * W + j] - rowValues[7 - i]) < 1e-12);
    }
  }
  // A diagonal map: beta1 = beta2 = 0.1, cos, phase 0.7.
  const diagonal = sin2dMap(0.1, 0.1, 0.7, 1, false, CNN_GRID);
  const expected = Math.cos(2 * Math.PI * 0.1 * 3 + 2 * Math.PI * 0.1 * 6 + 1.4);
  assert.ok(Math.abs(diagonal[2 * W + 5] - expected) < 1e-12);
});

Deno.test("sin1d pool: per beta [Y_0..Y_31, X_0..X_31], X_k = transpose of Y_k (same phase)", () => {
  assert.equal(sinPoolSize("sin1d", H_GRID), 640);
  assert.equal(sinPoolSize("sin2d", H_GRID), 6400);
  const range = [0.2, 0.45];
  const pool = sinPool("sin1d", range, CNN_GRID, new Rng(7));
  assert.equal(pool.length, 128 * MAP);
  const poolMap = (p: number) => pool.slice(p * MAP, (p + 1) * MAP);
  for (const [group, beta] of range.entries()) {
    for (const k of [0, 1, 30, 31]) {
      const row = poolMap(group * 64 + k);
      const column = poolMap(group * 64 + 32 + k);
      const phase = fittingPhase(
        row,
        2 * Math.PI * beta,
        1,
        k,
        (p) => sin1dMap(beta, p, k, "row", CNN_GRID),
      );
      assert.ok(phase !== null, `beta ${beta} k ${k}: row map is not s_k(2 pi beta (i+1) + phase)`);
      assertAllClose(column, sin1dMap(beta, phase, k, "column", CNN_GRID), 1e-9);
      for (let i = 0; i < H; i++) {
        for (let j = 0; j < W; j++) assert.equal(column[i * W + j], row[j * W + i]);
      }
    }
  }
});

/**
 * The phase p for which `formula(p)` reproduces `map`, where map(0,0) = s_k(base + scale * p);
 * null when none of the two inverse-trig candidates fits.
 */
function fittingPhase(
  map: Float64Array,
  base: number,
  scale: number,
  k: number,
  formula: (phase: number) => Float64Array,
): number | null {
  const v = Math.max(-1, Math.min(1, map[0]));
  const angles = k % 2 === 0
    ? [Math.asin(v), Math.PI - Math.asin(v)]
    : [Math.acos(v), -Math.acos(v)];
  for (const angle of angles) {
    const phase = (angle - base) / scale;
    if (formula(phase).every((x, i) => Math.abs(x - map[i]) < 1e-9)) return phase;
  }
  return null;
}

Deno.test("sin2d pool: per pair [D_0..D_31, F_0..F_31], beta1 outer loop, F = row-flipped D", () => {
  const range = [0.05, 0.3, 0.41];
  const pool = sinPool("sin2d", range, CNN_GRID, new Rng(11));
  assert.equal(pool.length, 9 * 64 * MAP);
  for (let group = 0; group < 9; group++) {
    for (const k of [0, 5, 31]) {
      const plain = pool.slice((group * 64 + k) * MAP, (group * 64 + k + 1) * MAP);
      const flipped = pool.slice((group * 64 + 32 + k) * MAP, (group * 64 + 33 + k) * MAP);
      for (let i = 0; i < H; i++) {
        assertAllClose(
          flipped.slice(i * W, (i + 1) * W),
          plain.slice((7 - i) * W, (8 - i) * W),
          1e-12,
        );
      }
      // Pair index = index(beta1) * |R| + index(beta2): beta1 is the outer (row) loop.
      const beta1 = range[Math.floor(group / 3)];
      const beta2 = range[group % 3];
      const phase = fittingPhase(
        plain,
        2 * Math.PI * (beta1 + beta2),
        2,
        k,
        (p) => sin2dMap(beta1, beta2, p, k, false, CNN_GRID),
      );
      assert.ok(phase !== null, `group ${group} k ${k}: no phase reproduces the map`);
    }
  }
});

Deno.test("sin1d/sin2d signals: C distinct maps, mean square ~0.5, deterministic per seed", () => {
  for (const generate of [sin1dSignal, sin2dSignal]) {
    const params = { range: H_GRID, local: true };
    const batch = 16;
    const channels = 96;
    const x = generate(params, batch, channels, CNN_GRID, new Rng(5));
    assert.equal(x.length, batch * channels * MAP);
    for (let b = 0; b < batch; b++) {
      const keys = new Set<string>();
      for (let c = 0; c < channels; c++) keys.add(mapKey(mapAt(x, b, c, channels)));
      assert.equal(keys.size, channels, "selected maps are distinct");
    }
    const ms = meanSquare(x);
    assert.ok(Math.abs(ms - 0.5) < 0.02, `mean square ${ms}`);
    assert.deepEqual(generate(params, batch, channels, CNN_GRID, new Rng(5)), x);
    assert.notDeepEqual(generate(params, batch, channels, CNN_GRID, new Rng(6)), x);
  }
});

Deno.test("sin1d selects from the whole pool: every map of a small pool can appear", () => {
  // Pool of 64 maps (one beta), choosing all 64: the selection is a permutation of the pool.
  const rng = new Rng(21);
  const x = sin1dSignal({ range: [0.2], local: false }, 1, 64, CNN_GRID, rng.fork("signal"));
  const pool = sinPool("sin1d", [0.2], CNN_GRID, rng.fork("signal"));
  const poolKeys = new Set(
    Array.from({ length: 64 }, (_, p) => mapKey(pool.slice(p * MAP, (p + 1) * MAP))),
  );
  const chosen = new Set(Array.from({ length: 64 }, (_, c) => mapKey(mapAt(x, 0, c, 64))));
  assert.deepEqual(chosen, poolKeys);
  assert.throws(
    () => sin1dSignal({ range: [0.2], local: false }, 1, 65, CNN_GRID, rng),
    RangeError,
  );
});

Deno.test("local vs global: maps equal across the batch iff global", () => {
  const batch = 4;
  const channels = 8;
  const cases = [
    (local: boolean, rng: Rng) =>
      sin1dSignal({ range: M_GRID, local }, batch, channels, CNN_GRID, rng),
    (local: boolean, rng: Rng) =>
      sin2dSignal({ range: M_GRID, local }, batch, channels, CNN_GRID, rng),
    (local: boolean, rng: Rng) =>
      dotSignal({ partial: 0.5, local }, batch, channels, CNN_GRID, rng),
    (local: boolean, rng: Rng) =>
      dotGaussianSignal({ partial: 0.5, local }, batch, channels, CNN_GRID, rng),
  ];
  for (const generate of cases) {
    assert.ok(sameAcrossBatch(generate(false, new Rng(3)), batch, channels), "global repeats");
    assert.ok(!sameAcrossBatch(generate(true, new Rng(3)), batch, channels), "local differs");
  }
});

// ---------------------------------------------------------------------------------------------
// dot / dot_gaussian

Deno.test("dot: n = floor(partial*64) distinct +-1 cells, about half positive, mean square n/64", () => {
  for (const partial of [1, 0.578125, 0.3, 0.01]) {
    const n = dotCount(partial, CNN_GRID);
    assert.equal(n, Math.floor(partial * 64));
    const x = dotSignal({ partial, local: true }, 16, 32, CNN_GRID, new Rng(partial * 1000));
    let positives = 0;
    for (let m = 0; m < 16 * 32; m++) {
      const map = x.subarray(m * MAP, (m + 1) * MAP);
      const nonZero = map.filter((v) => v !== 0);
      assert.equal(nonZero.length, n);
      assert.ok(nonZero.every((v) => v === 1 || v === -1));
      positives += nonZero.filter((v) => v === 1).length;
    }
    assert.ok(Math.abs(meanSquare(x) - n / 64) < 1e-12);
    if (n > 0) {
      const share = positives / (16 * 32 * n);
      assert.ok(Math.abs(share - 0.5) < 0.05, `positive share ${share}`);
    }
  }
});

Deno.test("dot positions are spread uniformly over the grid", () => {
  const counts = new Float64Array(MAP);
  const rng = new Rng(99);
  const draws = 4000;
  for (let t = 0; t < draws; t++) {
    dotMap(8, CNN_GRID, rng).forEach((v, p) => counts[p] += v !== 0 ? 1 : 0);
  }
  const expected = (draws * 8) / MAP;
  for (const c of counts) assert.ok(Math.abs(c - expected) < 0.2 * expected, `count ${c}`);
});

Deno.test("Gaussian kernel: sigma 1, truncate 4 gives the 9 scipy taps", () => {
  const scipyTaps = [
    0.00013383062461474175,
    0.004431861620031266,
    0.053991127420704395,
    0.24197144565660073,
    0.39894346935609776,
    0.24197144565660073,
    0.053991127420704395,
    0.004431861620031266,
    0.00013383062461474175,
  ];
  const kernel = gaussianKernel1d();
  assertAllClose(kernel, scipyTaps, 1e-15);
  // The spec's rounded values.
  const spec = [1.3383e-4, 4.43186e-3, 5.399113e-2, 2.4197145e-1, 3.9894347e-1];
  spec.forEach((w, i) => assert.ok(Math.abs(kernel[i] - w) / w < 1e-4));
});

Deno.test("reflect boundary: half-sample symmetric indices", () => {
  const cases: [number, number][] = [
    [-1, 0],
    [-2, 1],
    [-3, 2],
    [-4, 3],
    [0, 0],
    [7, 7],
    [8, 7],
    [9, 6],
    [10, 5],
    [11, 4],
    [-9, 7],
    [16, 0],
  ];
  for (const [index, expected] of cases) assert.equal(reflectIndex(index, 8), expected, `${index}`);
  assert.equal(reflectIndex(-1, 1), 0);
  assert.equal(reflectIndex(5, 1), 0);
});

/** Independent float64 Gaussian filter: pad with mirror copies, then a direct 9x9 2-D sum. */
function directGaussianFilter(map: ArrayLike<number>, h: number, w: number): Float64Array {
  const taps = Array.from({ length: 9 }, (_, t) => Math.exp(-((t - 4) ** 2) / 2));
  const total = taps.reduce((a, b) => a + b, 0);
  const k = taps.map((t) => t / total);
  const mirror = (i: number, n: number) => {
    let m = i;
    while (m < 0 || m >= n) m = m < 0 ? -m - 1 : 2 * n - m - 1;
    return m;
  };
  const out = new Float64Array(h * w);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      let acc = 0;
      for (let a = -4; a <= 4; a++) {
        for (let b = -4; b <= 4; b++) {
          acc += k[a + 4] * k[b + 4] * map[mirror(i + a, h) * w + mirror(j + b, w)];
        }
      }
      out[i * w + j] = acc;
    }
  }
  return out;
}

const KNOWN_DOTS: [number, number, number][] = [
  [0, 0, 1],
  [0, 7, -1],
  [3, 4, 1],
  [7, 7, 1],
  [5, 1, -1],
  [7, 0, -1],
  [2, 2, 1],
  [4, 4, -1],
];

/** scipy.ndimage.gaussian_filter(KNOWN_DOTS map, 1.0) / max(|min|, |max|), scipy 1.10. */
const SCIPY_GDOT = [
  [
    0.9675801108197214,
    0.4762166450262301,
    0.14248098836191098,
    0.04216552830611397,
    0.004863621612224543,
    -0.08436331327418735,
    -0.4425504857794021,
    -0.9595577660833371,
  ],
  [
    0.4760937247093255,
    0.34194565005236266,
    0.2722042075445134,
    0.16791649779180284,
    0.07365874702297032,
    -0.009872674054040976,
    -0.19830159563030303,
    -0.44259914125484334,
  ],
  [
    0.13891659030044465,
    0.2637990057650886,
    0.4009811949788951,
    0.3318162507245472,
    0.22485999184195657,
    0.1024149192568916,
    -0.016559125783919073,
    -0.08546839754594733,
  ],
  [
    0.00238001115803449,
    0.09066695637000872,
    0.2153778628831521,
    0.21874679555080584,
    0.17620830859461623,
    0.09061501298463565,
    0.01681015524338532,
    -0.004961320145282521,
  ],
  [
    -0.16661456981757491,
    -0.20216886189553793,
    -0.10694014070271934,
    -0.08877744864229442,
    -0.14194309684358716,
    -0.08764335995888738,
    -0.016717624924037156,
    0.004961320145282521,
  ],
  [
    -0.36275627640733166,
    -0.41576794419596724,
    -0.2531885142354266,
    -0.15467754098546674,
    -0.1781590154741499,
    -0.09836477362413848,
    0.016685237838576207,
    0.08546839754594733,
  ],
  [
    -0.6105162376612204,
    -0.43320760162942046,
    -0.18345022523260318,
    -0.061539336001050576,
    -0.045613395861827444,
    0.012304909209677518,
    0.19837732973981412,
    0.44259914125484334,
  ],
  [
    -1.0,
    -0.49822711255530394,
    -0.12107539038822734,
    -0.016509589275998163,
    0.0019003285379384231,
    0.08494991735169281,
    0.44256875125728673,
    0.9595577660833371,
  ],
].flat();

Deno.test("GDot of a known dot pattern: matches an independent direct filter and scipy", () => {
  const map = new Float64Array(MAP);
  for (const [i, j, v] of KNOWN_DOTS) map[i * W + j] = v;
  const filtered = gaussianFilter2d(map, H, W);
  assertAllClose(filtered, directGaussianFilter(map, H, W), 1e-14);
  const normalised = normaliseByMaxAbs(filtered);
  assertAllClose(normalised, SCIPY_GDOT, 1e-13);
  assert.equal(Math.max(...normalised.map(Math.abs)), 1);
});

Deno.test("GDot on a non-square grid (NLP l x d) matches the direct filter", () => {
  const rng = new Rng(4);
  const map = dotMap(20, { height: 8, width: 19 }, rng);
  assertAllClose(gaussianFilter2d(map, 8, 19), directGaussianFilter(map, 8, 19), 1e-14);
});

Deno.test("dot_gaussian signal: per-map normalisation to [-1, 1] with a +-1 pixel", () => {
  const x = dotGaussianSignal({ partial: 0.3, local: true }, 8, 16, CNN_GRID, new Rng(12));
  for (let m = 0; m < 8 * 16; m++) {
    const map = x.subarray(m * MAP, (m + 1) * MAP);
    const peak = Math.max(...Array.from(map, Math.abs));
    assert.ok(Math.abs(peak - 1) < 1e-15, `map ${m} peak ${peak}`);
  }
});

Deno.test("dot_gaussian mean square ~0.19 / 0.17 / 0.14 for partial 1 / 0.5 / 0.25", () => {
  const expected: [number, number][] = [[1, 0.19], [0.5, 0.17], [0.25, 0.14]];
  for (const [partial, target] of expected) {
    const x = dotGaussianSignal({ partial, local: true }, 32, 64, CNN_GRID, new Rng(partial * 77));
    const ms = meanSquare(x);
    assert.ok(Math.abs(ms - target) < 0.01, `partial ${partial}: mean square ${ms}`);
  }
});

Deno.test("dot_gaussian with n = 0 (partial < 1/64) gives NaN maps, like the reference", () => {
  const x = dotGaussianSignal({ partial: 0.01, local: false }, 2, 3, CNN_GRID, new Rng(1));
  assert.ok(x.every((v) => Number.isNaN(v)));
  const dots = dotSignal({ partial: 0.01, local: false }, 2, 3, CNN_GRID, new Rng(1));
  assert.ok(dots.every((v) => v === 0));
});

// ---------------------------------------------------------------------------------------------
// resize

function randomImages(batch: number, rng: Rng): ImageBatch {
  const data = new Float32Array(batch * 3 * 32 * 32);
  for (let i = 0; i < data.length; i++) data[i] = rng.normal() * 1.2 - 0.3;
  return { data, batch, channels: 3, height: 32, width: 32 };
}

Deno.test("resize: nearest 32->8 reads pixels (4i, 4j)", () => {
  const images = randomImages(2, new Rng(8));
  const down = nearestDownsample(images, CNN_GRID);
  for (let plane = 0; plane < 6; plane++) {
    for (let i = 0; i < 8; i++) {
      for (let j = 0; j < 8; j++) {
        assert.equal(down[plane * MAP + i * 8 + j], images.data[plane * 1024 + 4 * i * 32 + 4 * j]);
      }
    }
  }
});

Deno.test("resize: whole-tensor range exactly [-1, 1], channels are image R/G/B planes", () => {
  const batch = 4;
  const channels = 48;
  const images = randomImages(batch, new Rng(9));
  const x = resizeSignal(images, channels, CNN_GRID, new Rng(10));
  assert.equal(x.length, batch * channels * MAP);
  assert.equal(Math.min(...x), -1);
  assert.equal(Math.max(...x), 1);
  // Reference: normalise the downsampled planes over the whole tensor, then map each channel.
  const down = nearestDownsample(images, CNN_GRID);
  const low = Math.min(...down);
  const high = Math.max(...down) - low;
  const planes = down.map((v) => 2 * ((v - low) / high - 0.5));
  const planeOf = (b: number, rgb: number) =>
    planes.slice((b * 3 + rgb) * MAP, (b * 3 + rgb + 1) * MAP);
  const seen = new Set<number>();
  for (let c = 0; c < channels; c++) {
    const rgb = [0, 1, 2].find((p) => mapKey(planeOf(0, p)) === mapKey(mapAt(x, 0, c, channels)));
    assert.ok(rgb !== undefined, `channel ${c} is an RGB plane`);
    seen.add(rgb);
    for (let b = 1; b < batch; b++) {
      assertAllClose(mapAt(x, b, c, channels), planeOf(b, rgb), 1e-15);
    }
  }
  assert.equal(seen.size, 3, "48 draws of mod-3 channels cover R, G and B");
});

Deno.test("resize channel map: randperm(1000)[:C] mod 3, roughly balanced, C <= 1000", () => {
  const map = resizeChannelMap(999, 3, new Rng(2));
  const counts = [0, 1, 2].map((p) => map.filter((c) => c === p).length);
  // Of 0..999, 334 are 0 mod 3 and 333 each 1, 2; 999 distinct draws leave out one value.
  assert.ok(counts[0] >= 333 && counts[0] <= 334 && counts[1] >= 332 && counts[2] >= 332);
  assert.throws(() => resizeChannelMap(1001, 3, new Rng(2)), RangeError);
});

// ---------------------------------------------------------------------------------------------
// NLP grid

Deno.test("NLP grid: sin2d flip uses the square pool side, maps cropped to l x d", () => {
  const grid: MapGrid = { height: 8, width: 48, poolSide: 48 };
  const flipped = sin2dMap(0.1, 0.2, 0.3, 0, true, grid);
  assert.equal(flipped.length, 8 * 48);
  const square = sin2dMap(0.1, 0.2, 0.3, 0, true, { height: 48, width: 48 });
  assertAllClose(flipped, square.slice(0, 8 * 48), 1e-12);
  const x = sin1dSignal({ range: M_GRID, local: true }, 3, 1, grid, new Rng(1));
  assert.equal(x.length, 3 * 8 * 48);
});
