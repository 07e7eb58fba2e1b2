/** Float64 CPU reference for conv2d forward and gradients (PyTorch layouts), by direct loops. */
import { conv2dOutputSize, type Conv2dShape } from "../../src/kernels/conv2d/mod.ts";

type Floats = ArrayLike<number>;

/** Calls f(yIndex, xIndex, wIndex) for every in-bounds term y[yIndex] += x[xIndex]·w[wIndex]. */
function forEachTerm(
  s: Conv2dShape,
  f: (yIndex: number, xIndex: number, wIndex: number) => void,
): void {
  const { outH, outW } = conv2dOutputSize(s);
  const cinG = s.inChannels / s.groups;
  const coutG = s.outChannels / s.groups;
  for (let n = 0; n < s.batch; n++) {
    for (let oc = 0; oc < s.outChannels; oc++) {
      const g = Math.floor(oc / coutG);
      for (let oy = 0; oy < outH; oy++) {
        for (let ox = 0; ox < outW; ox++) {
          const yIndex = ((n * s.outChannels + oc) * outH + oy) * outW + ox;
          for (let icl = 0; icl < cinG; icl++) {
            const ic = g * cinG + icl;
            for (let ky = 0; ky < s.kernelH; ky++) {
              const iy = oy * s.strideH - s.padH + ky * s.dilationH;
              if (iy < 0 || iy >= s.inH) continue;
              for (let kx = 0; kx < s.kernelW; kx++) {
                const ix = ox * s.strideW - s.padW + kx * s.dilationW;
                if (ix < 0 || ix >= s.inW) continue;
                const xIndex = ((n * s.inChannels + ic) * s.inH + iy) * s.inW + ix;
                const wIndex = ((oc * cinG + icl) * s.kernelH + ky) * s.kernelW + kx;
                f(yIndex, xIndex, wIndex);
              }
            }
          }
        }
      }
    }
  }
}

export function conv2dForwardRef(
  s: Conv2dShape,
  x: Floats,
  w: Floats,
  bias?: Floats,
): Float64Array {
  const { outH, outW } = conv2dOutputSize(s);
  const y = new Float64Array(s.batch * s.outChannels * outH * outW);
  forEachTerm(s, (yi, xi, wi) => {
    y[yi] += x[xi] * w[wi];
  });
  if (bias) {
    const plane = outH * outW;
    for (let i = 0; i < y.length; i++) y[i] += bias[Math.floor(i / plane) % s.outChannels];
  }
  return y;
}

export function conv2dBackwardDataRef(s: Conv2dShape, dy: Floats, w: Floats): Float64Array {
  const dx = new Float64Array(s.batch * s.inChannels * s.inH * s.inW);
  forEachTerm(s, (yi, xi, wi) => {
    dx[xi] += dy[yi] * w[wi];
  });
  return dx;
}

export function conv2dBackwardWeightRef(
  s: Conv2dShape,
  dy: Floats,
  x: Floats,
): { dw: Float64Array; dbias: Float64Array } {
  const dw = new Float64Array(s.outChannels * (s.inChannels / s.groups) * s.kernelH * s.kernelW);
  forEachTerm(s, (yi, xi, wi) => {
    dw[wi] += dy[yi] * x[xi];
  });
  const { outH, outW } = conv2dOutputSize(s);
  const plane = outH * outW;
  const dbias = new Float64Array(s.outChannels);
  for (let i = 0; i < dy.length; i++) dbias[Math.floor(i / plane) % s.outChannels] += dy[i];
  return { dw, dbias };
}
