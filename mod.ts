/**
 * gennas — label-free neural architecture ranking and search with GenNAS regression, on WebGPU.
 *
 * ```ts
 * import { score } from "./mod.ts";
 * const r = await score({ space: "nb201", task: "combo" }); // the space's example arch
 * console.log(r.loss);
 * ```
 */
export const VERSION = "0.1.0";

// High-level API (what the CLI commands call).
export {
  DEFAULT_TASK,
  prepareProxy,
  rank,
  type RankEvent,
  type RankOptions,
  type RankReport,
  score,
  type ScoreOptions,
  type ScoreReport,
} from "./src/proxy/run.ts";
export {
  type ArchSearchReport,
  searchArchitectures,
  type SearchOptions,
  type SearchProgress,
  STRATEGIES,
} from "./src/search/arch_search.ts";
export {
  mergeJournals,
  type MergeOptions,
  type MergeReport,
  type ShardCoverage,
} from "./src/shard/merge.ts";
export { parseShard, type Shard, shardPositions } from "./src/shard/shard.ts";
export {
  searchTasks,
  type TaskSearchOptions,
  type TaskSearchProgress,
  type TaskSearchReport,
} from "./src/search/task_search.ts";

// Building blocks.
export { acquireGpu, describeGpu, type Gpu, GpuUnavailableError } from "./src/gpu/device.ts";
export { DEFAULT_PROXY_SETTINGS, type ProxySettings } from "./src/proxy/settings.ts";
export type { ConvBlocks } from "./src/gpu/kernel.ts";
export { archSeed, buildProxyGraph, scoreArch, type ScoreResult } from "./src/proxy/score.ts";
export { type PreparedTask, prepareTask } from "./src/proxy/task.ts";
export { archCost, buildClassifier, type GraphCost, graphCost } from "./src/proxy/cost.ts";
export { parseProxies, PROXY_NAMES, type ProxyName } from "./src/proxy/proxies.ts";
export {
  getSpace,
  NB101,
  NB201,
  NBMACRO,
  NBNLP,
  type NetworkSpace,
  type ProxyKind,
  SPACE_NAMES,
} from "./src/spaces/index.ts";
export { PRESET_NAMES, PRESETS, resolveTask } from "./src/tasks/presets.ts";
export { parseTaskConfig, type TaskConfig } from "./src/tasks/schema.ts";
export { mutateTaskConfig, randomTaskConfig } from "./src/tasks/generate.ts";
export { saveTaskConfig } from "./src/tasks/io.ts";
export { type ImageSet, loadImageSet } from "./src/data/images.ts";
export { loadTruth, type TruthTable } from "./src/eval/truth.ts";
export { kendallTauB, type RankingMetrics, rankingMetrics, spearman } from "./src/eval/metrics.ts";
export { randomSearch } from "./src/search/random.ts";
export { regularizedEvolution } from "./src/search/evolution.ts";
export { GraphBuilder } from "./src/graph/builder.ts";
export { type CompiledGraph, compileGraph } from "./src/graph/compile.ts";
export { InputError } from "./src/util/errors.ts";
export { Rng } from "./src/util/rng.ts";
// NAS-Bench-NLP: recipes, the loss truth (lowerIsBetter, ranked as −loss) and the NLP tasks.
export {
  canonicalKey,
  cellFeatures,
  FEATURE_NAMES,
  validateRecipe,
} from "./src/spaces/nbnlp_recipe.ts";
export { type NbNlpArch, parseNbNlp } from "./src/spaces/nbnlp.ts";
export { loadNbNlpTruth, NBNLP_METRICS } from "./src/eval/truth_nbnlp.ts";
export { NLP_PRESET_NAMES, NLP_PRESETS, parseNlpTaskConfig } from "./src/tasks/nlp.ts";
