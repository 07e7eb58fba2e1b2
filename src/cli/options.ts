/** Flag parsers and the proxy flags shared by score, rank, search and task-search. */
import { type Command, InvalidArgumentError, Option } from "../deps.ts";
import type { ConvBlocks } from "../gpu/kernel.ts";
import { DEFAULT_PROXY_SETTINGS, type ProxySettings } from "../proxy/settings.ts";
import { PRESET_NAMES } from "../tasks/presets.ts";
import { NLP_PRESET_NAMES } from "../tasks/nlp.ts";

export function parseInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError("expected an integer");
  return n;
}

export function parsePositiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a positive integer");
  return n;
}

export function parseNonNegativeInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected an integer ≥ 0");
  return n;
}

export function parseNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n)) {
    throw new InvalidArgumentError("expected a number");
  }
  return n;
}

export function parseWeights(value: string): [number, number, number] {
  const parts = value.split(",").map((v) => Number(v.trim()));
  if (parts.length !== 3 || parts.some((w) => !Number.isFinite(w) || w < 0)) {
    throw new InvalidArgumentError("expected three non-negative numbers, e.g. 0.25,0.5,1");
  }
  return parts as [number, number, number];
}

/** Parses durations such as 90, 90s, 15m, 2h into seconds. */
export function parseDuration(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h)?$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError("expected a duration such as 600, 10m or 2h");
  const scale = m[2] === "h" ? 3600 : m[2] === "m" ? 60 : 1;
  return Number(m[1]) * scale;
}

export interface ProxyFlags {
  space: string;
  task?: string;
  images?: string;
  seed: number;
  iters: number;
  batch: number;
  initChannels?: number;
  lr?: number;
  weightDecay?: number;
  nlpTrainRecurrent?: boolean;
  trainWeights?: [number, number, number];
  evalWeights?: [number, number, number];
  nb101Init: "pytorch" | "kaiming-fan-out";
  itersPerSubmit: number;
  width?: number;
  depth?: number;
  maxFlops?: number;
  widthScale?: number;
  convBlocks: string;
}

/** --max-flops (score, rank, search): see src/proxy/budget.ts. */
export function addBudgetOption(cmd: Command): Command {
  return cmd.option(
    "--max-flops <M>",
    "skip architectures over this many million MACs per 32×32 image (as flops counts them): " +
      "score refuses, rank drops, search redraws (default: no budget)",
    parseNumber,
  );
}

/** --space with the NDS --width/--depth folded in (`darts@w16d8`, see getSpace). */
export function spaceArg(f: { space: string; width?: number; depth?: number }): string {
  if (f.width === undefined && f.depth === undefined) return f.space;
  return `${f.space}@${f.width !== undefined ? `w${f.width}` : ""}${
    f.depth !== undefined ? `d${f.depth}` : ""
  }`;
}

/** Adds --space, --task, --images, --seed and the fidelity/speed flags of the proxy. */
export function addProxyOptions(cmd: Command, defaultTask: string): Command {
  const d = DEFAULT_PROXY_SETTINGS;
  return cmd
    .option(
      "--space <space>",
      "search space: nb201, nb101, nbmacro, nbnlp, resnet, resnext-a, resnext-b or an NDS cell " +
        "space (darts, enas, pnas, amoeba, nasnet, darts/enas/pnas-fix-w-d); each CNN space " +
        "also as <name>_in",
      "nb201",
    )
    .option(
      "--width <n>",
      "NDS cell spaces: width of DARTS-text archs and of samples",
      parsePositiveInteger,
    )
    .option(
      "--depth <n>",
      "NDS cell spaces: depth (cells) of DARTS-text archs and of samples",
      parsePositiveInteger,
    )
    .option(
      "--width-scale <f>",
      "NDS cell spaces: build every architecture at this fraction (0, 1] of its width, rounded " +
        "to an even number (cost control; changes the scores; default 1)",
      parseNumber,
    )
    .option(
      "--task <task>",
      `proxy task: a preset (${PRESET_NAMES.join(", ")}; nbnlp: ${
        NLP_PRESET_NAMES.join(", ")
      }) or a task JSON file (default: ${defaultTask}; nbnlp: nlp-search)`,
    )
    .option(
      "--images <path>",
      "input images: a CIFAR-10 binary file or a folder of PNGs (default: built-in procedural images)",
    )
    .option(
      "--seed <n>",
      "seed of the task (batch, targets) and of every evaluation",
      parseInteger,
      0,
    )
    .option("--iters <n>", "SGD iterations per architecture", parsePositiveInteger, d.iterations)
    .option("--batch <n>", "images in the batch", parsePositiveInteger, d.batch)
    .option(
      "--init-channels <n>",
      `channels of the first stage (default ${d.initChannels}; nbmacro 32)`,
      parsePositiveInteger,
    )
    .option(
      "--lr <x>",
      `learning rate (default: SGD ${d.lr}; nbnlp: Adam 1e-3, 0.1 = the reference HEAD quirk)`,
      parseNumber,
    )
    .option(
      "--weight-decay <x>",
      `weight decay (default: ${d.weightDecay} on conv/linear weights; nbnlp: 1.2e-6 on all, Adam)`,
      parseNumber,
    )
    .option(
      "--nlp-train-recurrent",
      "nbnlp: train the hidden-to-hidden weights that WeightDrop freezes in the reference",
    )
    .option(
      "--train-weights <w0,w1,w2>",
      "stage weights of the training loss (default 1,1,1)",
      parseWeights,
    )
    .option(
      "--eval-weights <w0,w1,w2>",
      "stage weights of the score (default 0.25,0.5,1)",
      parseWeights,
    )
    .addOption(
      new Option("--nb101-init <kind>", "NB-101 backbone init").choices([
        "pytorch",
        "kaiming-fan-out",
      ])
        .default("pytorch"),
    )
    .option(
      "--iters-per-submit <n>",
      "training iterations per GPU submit (0: 1 on software adapters, 10 on GPUs)",
      parseNonNegativeInteger,
      0,
    )
    .option(
      "--conv-blocks <blocks>",
      "conv register blocks: large (fastest once compiled) or compact (first-seen shapes " +
        "compile several times faster and compiled kernels take less memory, iterations " +
        "slower; changes the scores' last digits)",
      "large",
    );
}

export function proxySettings(f: ProxyFlags): Partial<ProxySettings> {
  return {
    seed: f.seed,
    iterations: f.iters,
    batch: f.batch,
    initChannels: f.initChannels,
    lr: f.lr,
    weightDecay: f.weightDecay,
    trainWeights: f.trainWeights ?? DEFAULT_PROXY_SETTINGS.trainWeights,
    evalWeights: f.evalWeights ?? DEFAULT_PROXY_SETTINGS.evalWeights,
    nb101Init: f.nb101Init,
    iterationsPerSubmit: f.itersPerSubmit,
    // Only when set, so the settings (and journal hashes) of other runs do not change.
    ...(f.nlpTrainRecurrent ? { nlpTrainRecurrent: true } : {}),
    ...(f.widthScale !== undefined ? { widthScale: f.widthScale } : {}),
    convBlocks: f.convBlocks as ConvBlocks,
  };
}
