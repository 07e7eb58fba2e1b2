/**
 * NASWOT's Hamming kernel on the GPU: the sign patterns of one ReLU input are packed to bits,
 * then every pair of samples adds (features − Hamming distance) to K. K accumulates over all the
 * ReLUs of a network in one submit, so only the N × N kernel is read back.
 */
import template from "../../shaders/hamming.wgsl" with { type: "text" };
import { declareBindings } from "../gpu/bindings.ts";
import { grid1d, type Launch } from "../gpu/kernel.ts";
import { preprocess } from "../gpu/wgsl.ts";
import { checkPositiveIntegers } from "./common.ts";

const WG = 64;
const PACK = declareBindings({ src: "read", bits: "read_write" });
const ACCUMULATE = declareBindings({ bits: "read", k: "read_write" });

/** u32 words per sample of an activation with `features` values per sample. */
export function hammingWords(features: number): number {
  return Math.ceil(features / 32);
}

/**
 * Launches adding `uses` · (F − Hamming distance) of the signs of x ([samples][features] f32)
 * to the upper triangle (l ≥ i) of k (samples × samples u32). `bits` is scratch of
 * samples · hammingWords(features) u32.
 */
export function hammingAccumulate<B>(
  s: { samples: number; features: number; uses?: number },
  io: { x: B; bits: B; k: B },
): Launch<B>[] {
  const uses = s.uses ?? 1;
  checkPositiveIntegers("hamming", { samples: s.samples, features: s.features, uses });
  const words = hammingWords(s.features);
  const constants = { WG, N: s.samples, F: s.features, WORDS: words, USES: uses };
  return [
    {
      kernel: {
        name: "sign_pack",
        source: preprocess(template, { PACK: true }),
        entryPoint: "sign_pack",
        constants: { WG, N: s.samples, F: s.features, WORDS: words },
        layout: PACK,
      },
      bindings: PACK.bind({ src: io.x, bits: io.bits }),
      workgroups: grid1d(s.samples * words, WG),
    },
    {
      kernel: {
        name: "hamming_accumulate",
        source: preprocess(template, { PACK: false }),
        entryPoint: "hamming_accumulate",
        constants,
        layout: ACCUMULATE,
      },
      bindings: ACCUMULATE.bind({ bits: io.bits, k: io.k }),
      workgroups: grid1d(s.samples * s.samples, WG),
    },
  ];
}
