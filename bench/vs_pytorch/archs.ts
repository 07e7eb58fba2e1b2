/**
 * The fixed architecture lists of bench/vs_pytorch.ts, chosen deterministically from the shared
 * data so that they span light to heavy:
 *   NB-201: the 1000 archs of nb201_gennas_sample_0.txt sorted by the conv FLOPs of the part of
 *           the network that reaches the loss (ties: file order), 20 picked at evenly spaced ranks
 *           round(i·999/19) — from dead-branch archs with almost no conv work to the heaviest of
 *           the sample (five 3×3 edges; the sample holds no all-3×3 arch);
 *   NB-101: the 292 cells of nb101_naslib_zc_sample.jsonl sorted the same way, 10 picked at
 *           round(i·291/9).
 * `--limit N` keeps N of a list at evenly spaced positions (always the lightest and heaviest), so a
 * limited run's archs are also in the full run and its journal records are reused.
 */
import { join } from "node:path";
import { buildProxyGraph } from "../../src/proxy/score.ts";
import { DEFAULT_PROXY_SETTINGS } from "../../src/proxy/settings.ts";
import { prepareTask } from "../../src/proxy/task.ts";
import { getSpace } from "../../src/spaces/index.ts";
import { PRESETS } from "../../src/tasks/presets.ts";
import { loadImageSet } from "../../src/data/images.ts";
import { liveConvFlops } from "./flops.ts";

export interface BenchArch {
  space: "nb201" | "nb101";
  /** The space's canonical text (what both engines are given). */
  arch: string;
  /** Short label for the table. */
  label: string;
  /** Forward conv FLOPs of the live graph at batch 16, 16 init channels. */
  forwardFlops: number;
}

export function evenlySpaced<T>(items: readonly T[], n: number): T[] {
  if (n >= items.length) return [...items];
  if (n <= 1) return items.slice(0, n);
  return Array.from({ length: n }, (_, i) => items[Math.round(i * (items.length - 1) / (n - 1))]);
}

const NB201_CODES: Record<string, string> = {
  none: "0",
  skip_connect: "S",
  nor_conv_1x1: "1",
  nor_conv_3x3: "3",
  avg_pool_3x3: "P",
};

function nb201Label(arch: string): string {
  return arch.split("+").map((node) =>
    node.split("|").filter(Boolean).map((e) => NB201_CODES[e.split("~")[0]] ?? "?").join("")
  ).join("|");
}

function nb101Label(arch: string): string {
  const { ops } = JSON.parse(arch) as { ops: string[] };
  const count = (op: string) => ops.filter((o) => o === op).length;
  return `${ops.length}v c3×${count("conv3x3-bn-relu")} c1×${count("conv1x1-bn-relu")} mp×${
    count("maxpool3x3")
  }`;
}

export async function benchArchs(dataDir: string): Promise<Record<"nb201" | "nb101", BenchArch[]>> {
  const settings = { ...DEFAULT_PROXY_SETTINGS };
  const task = prepareTask("combo", PRESETS.combo, await loadImageSet(undefined), settings);
  const measure = (spaceName: "nb201" | "nb101", texts: string[]): BenchArch[] => {
    const space = getSpace(spaceName);
    return texts.map((text, i) => {
      const arch = space.parse(text);
      const forwardFlops = liveConvFlops(buildProxyGraph(space, arch, task, settings).builder);
      const canonical = space.format(arch);
      return {
        space: spaceName,
        arch: canonical,
        label: spaceName === "nb201" ? nb201Label(canonical) : nb101Label(canonical),
        forwardFlops,
        i,
      };
    }).sort((a, b) => a.forwardFlops - b.forwardFlops || a.i - b.i)
      .map(({ i: _, ...rest }) => rest);
  };
  const nb201Lines = Deno.readTextFileSync(join(dataDir, "nb201_gennas_sample_0.txt"))
    .split("\n").map((l) => l.trim()).filter(Boolean);
  const nb101Lines = Deno.readTextFileSync(join(dataDir, "nb101_naslib_zc_sample.jsonl"))
    .split("\n").filter((l) => l.trim()).map((l) => {
      const row = JSON.parse(l) as { matrix: number[][]; ops: string[] };
      return JSON.stringify({ matrix: row.matrix, ops: row.ops });
    });
  return {
    nb201: evenlySpaced(measure("nb201", nb201Lines), 20),
    nb101: evenlySpaced(measure("nb101", nb101Lines), 10),
  };
}
