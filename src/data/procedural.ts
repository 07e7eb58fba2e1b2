/**
 * Built-in input images, the default when no image data is given ("procedural (built-in)").
 *
 * GenNAS only needs inputs with natural-image statistics (photos of anything rank architectures
 * almost as well as CIFAR images; white noise clearly worse), so each 32×32 picture is painted
 * like a tiny photo: a background of two related colours blended by smooth multi-octave value
 * noise (amplitude halving per octave gives the ≈1/f spectrum), a shading field shared by all
 * channels (strong R/G/B correlation), a few soft-edged lit shapes (edges), fine texture,
 * then a random exposure (gamma, contrast, brightness) and faint sensor noise.
 */
import { Rng } from "../util/rng.ts";
import { InputError } from "../util/errors.ts";
import { IMAGE_BYTES, IMAGE_SIDE } from "./cifar.ts";

const SIDE = IMAGE_SIDE;
const PIXELS = SIDE * SIDE;

type Rgb = [number, number, number];
type Field = Float32Array;

/**
 * `count` deterministic images (CHW uint8, 3·32·32). Image i depends only on (seed, i), so a
 * longer list extends a shorter one with the same seed.
 */
export function proceduralImages(count: number, seed: number): Uint8Array[] {
  if (!Number.isInteger(count) || count < 1) {
    throw new InputError(`image count must be a positive integer, got ${count}`);
  }
  const root = new Rng(`procedural-images/${seed}`);
  return Array.from({ length: count }, (_, i) => paintImage(root.fork(i)));
}

function paintImage(rng: Rng): Uint8Array {
  const canvas = paintBackground(rng);
  const shapes = 1 + rng.int(5);
  for (let s = 0; s < shapes; s++) paintShape(canvas, rng);
  applyTexture(canvas, rng);
  return develop(canvas, rng);
}

// ---------------------------------------------------------------------------------------------
// Noise fields

/** Value noise on a (cells+1)² lattice, smoothstep-interpolated, sampled at pixel centres. */
function valueNoise(rng: Rng, cells: number): Field {
  const lattice = new Float32Array((cells + 1) * (cells + 1));
  for (let i = 0; i < lattice.length; i++) lattice[i] = rng.uniform() * 2 - 1;
  const field = new Float32Array(PIXELS);
  for (let y = 0; y < SIDE; y++) {
    const [gy, ty] = latticeCoordinate(y, cells);
    for (let x = 0; x < SIDE; x++) {
      const [gx, tx] = latticeCoordinate(x, cells);
      const at = (row: number, col: number) => lattice[row * (cells + 1) + col];
      const top = at(gy, gx) + (at(gy, gx + 1) - at(gy, gx)) * tx;
      const bottom = at(gy + 1, gx) + (at(gy + 1, gx + 1) - at(gy + 1, gx)) * tx;
      field[y * SIDE + x] = top + (bottom - top) * ty;
    }
  }
  return field;
}

function latticeCoordinate(pixel: number, cells: number): [number, number] {
  const position = ((pixel + 0.5) / SIDE) * cells;
  const cell = Math.min(cells - 1, Math.floor(position));
  const t = position - cell;
  return [cell, t * t * (3 - 2 * t)];
}

/** Sum of octaves (cells doubling, amplitude × persistence), scaled to zero mean, unit std. */
function fractalNoise(rng: Rng, baseCells: number, octaves: number, persistence: number): Field {
  const field = new Float32Array(PIXELS);
  let amplitude = 1;
  let cells = baseCells;
  for (let o = 0; o < octaves; o++) {
    const octave = valueNoise(rng, cells);
    for (let i = 0; i < PIXELS; i++) field[i] += amplitude * octave[i];
    amplitude *= persistence;
    cells = Math.min(cells * 2, SIDE);
  }
  return standardise(field);
}

function standardise(field: Field): Field {
  let mean = 0;
  for (const v of field) mean += v;
  mean /= field.length;
  let variance = 0;
  for (const v of field) variance += (v - mean) ** 2;
  const std = Math.sqrt(variance / field.length) || 1;
  for (let i = 0; i < field.length; i++) field[i] = (field[i] - mean) / std;
  return field;
}

// ---------------------------------------------------------------------------------------------
// Colours (linear 0–1 floats, canvas is three CHW planes)

function hsvToRgb(hue: number, saturation: number, value: number): Rgb {
  const h = ((hue % 1) + 1) % 1 * 6;
  const f = h - Math.floor(h);
  const p = value * (1 - saturation);
  const q = value * (1 - saturation * f);
  const t = value * (1 - saturation * (1 - f));
  const sectors: Rgb[] = [
    [value, t, p],
    [q, value, p],
    [p, value, t],
    [p, q, value],
    [t, p, value],
    [value, p, q],
  ];
  return sectors[Math.floor(h) % 6];
}

/** A colour of moderate saturation, the kind most photo regions have. */
function naturalColour(rng: Rng, hue: number): Rgb {
  const saturation = rng.uniform() ** 2 * 0.8;
  const value = rng.range(0.05, 1);
  return hsvToRgb(hue, saturation, value);
}

function paintBackground(rng: Rng): Float32Array {
  const baseHue = rng.uniform();
  const near = naturalColour(rng, baseHue + rng.range(-0.12, 0.12));
  const far = naturalColour(rng, baseHue + rng.range(-0.12, 0.12));
  const layout = fractalNoise(rng, 1 + rng.int(2), 4, rng.range(0.4, 0.6));
  const angle = rng.range(0, 2 * Math.PI);
  const slope = rng.range(0, 2.5);
  const shading = fractalNoise(rng, 2, 4, 0.5);
  const shadingDepth = rng.range(0.05, 0.3);
  const canvas = new Float32Array(3 * PIXELS);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const i = y * SIDE + x;
      const along = ((x - SIDE / 2) * Math.cos(angle) + (y - SIDE / 2) * Math.sin(angle)) / SIDE;
      const blend = sigmoid(slope * 2 * along + 0.9 * layout[i]);
      const light = 1 + shadingDepth * shading[i];
      for (let c = 0; c < 3; c++) {
        canvas[c * PIXELS + i] = (near[c] + (far[c] - near[c]) * blend) * light;
      }
    }
  }
  return canvas;
}

// ---------------------------------------------------------------------------------------------
// Shapes: ellipses, rounded boxes, strokes and wobbly blobs with soft, anti-aliased edges

type SignedDistance = (x: number, y: number) => number;

function paintShape(canvas: Float32Array, rng: Rng): void {
  const cx = rng.range(2, SIDE - 2);
  const cy = rng.range(2, SIDE - 2);
  const radius = 2 + 11 * rng.uniform() ** 1.5;
  const distance = randomOutline(rng, cx, cy, radius);
  const colour = naturalColour(rng, rng.uniform());
  const softness = rng.range(0.35, 1.6);
  const lightAngle = rng.range(0, 2 * Math.PI);
  const lightStrength = rng.range(0, 0.45);
  const grain = fractalNoise(rng, 4, 3, 0.6);
  const grainDepth = rng.range(0, 0.15);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const coverage = clamp01(0.5 - distance(x + 0.5, y + 0.5) / softness);
      if (coverage === 0) continue;
      const i = y * SIDE + x;
      const toward = ((x - cx) * Math.cos(lightAngle) + (y - cy) * Math.sin(lightAngle)) / radius;
      const light = (1 + lightStrength * toward) * (1 + grainDepth * grain[i]);
      for (let c = 0; c < 3; c++) {
        const at = c * PIXELS + i;
        canvas[at] += (colour[c] * light - canvas[at]) * coverage;
      }
    }
  }
}

function randomOutline(rng: Rng, cx: number, cy: number, radius: number): SignedDistance {
  const rotation = rng.range(0, Math.PI);
  const aspect = rng.range(0.4, 1);
  const cos = Math.cos(rotation);
  const sin = Math.sin(rotation);
  const local = (x: number, y: number): [number, number] => [
    (x - cx) * cos + (y - cy) * sin,
    -(x - cx) * sin + (y - cy) * cos,
  ];
  const kind = rng.int(4);
  if (kind === 0) {
    return (x, y) => {
      const [u, v] = local(x, y);
      // Approximate distance to an ellipse: scaled radial distance.
      const r = Math.hypot(u, v / aspect);
      return (r - radius) * Math.min(1, Math.hypot(u, v) / Math.max(r, 1e-6));
    };
  }
  if (kind === 1) {
    const corner = rng.range(0, radius * aspect * 0.6);
    const halfU = radius - corner;
    const halfV = radius * aspect - corner;
    return (x, y) => {
      const [u, v] = local(x, y);
      const du = Math.abs(u) - halfU;
      const dv = Math.abs(v) - halfV;
      return Math.hypot(Math.max(du, 0), Math.max(dv, 0)) + Math.min(Math.max(du, dv), 0) - corner;
    };
  }
  if (kind === 2) {
    // A stroke (capsule) along the local u axis: thin edges like twigs, masts, wires.
    const halfWidth = rng.range(0.5, 1.6);
    return (x, y) => {
      const [u, v] = local(x, y);
      return Math.hypot(Math.max(Math.abs(u) - radius, 0), v) - halfWidth;
    };
  }
  const harmonics = [2, 3, 5].map((k) => ({
    k,
    amount: rng.range(0, 0.25),
    phase: rng.range(0, 2 * Math.PI),
  }));
  return (x, y) => {
    const [u, v] = local(x, y);
    const angle = Math.atan2(v, u);
    let edge = radius;
    for (const { k, amount, phase } of harmonics) edge *= 1 + amount * Math.sin(k * angle + phase);
    return Math.hypot(u, v) - edge;
  };
}

// ---------------------------------------------------------------------------------------------
// Texture, exposure, sensor noise

/** Fine luminance texture plus a faint independent colour texture. */
function applyTexture(canvas: Float32Array, rng: Rng): void {
  const luminance = fractalNoise(rng, 8, 3, 0.6);
  const depth = rng.range(0.0, 0.18);
  for (let c = 0; c < 3; c++) {
    const tint = fractalNoise(rng, 4, 2, 0.5);
    const tintDepth = rng.range(0, 0.03);
    for (let i = 0; i < PIXELS; i++) {
      canvas[c * PIXELS + i] *= 1 + depth * luminance[i] + tintDepth * tint[i];
    }
  }
}

function develop(canvas: Float32Array, rng: Rng): Uint8Array {
  const gamma = Math.exp(rng.range(-0.35, 0.35));
  const contrast = rng.range(0.85, 1.45);
  const brightness = rng.range(-0.1, 0.1);
  const sensorNoise = rng.range(0.3, 2.5);
  let mean = 0;
  for (let i = 0; i < canvas.length; i++) {
    canvas[i] = clamp01(canvas[i]) ** gamma;
    mean += canvas[i];
  }
  mean /= canvas.length;
  const out = new Uint8Array(IMAGE_BYTES);
  for (let i = 0; i < canvas.length; i++) {
    const exposed = mean + (canvas[i] - mean) * contrast + brightness;
    const value = Math.round(clamp01(exposed) * 255 + sensorNoise * rng.normal());
    out[i] = value < 0 ? 0 : value > 255 ? 255 : value;
  }
  return out;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}
