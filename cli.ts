#!/usr/bin/env -S deno run -A
/**
 * gennas — label-free neural architecture ranking and search with GenNAS regression on WebGPU.
 * A thin command line over mod.ts; `gennas --help` lists the commands.
 */
import { Command, CommanderError } from "./src/deps.ts";
import {
  addBudgetOption,
  addProxyOptions,
  parseNonNegativeInteger,
  parsePositiveInteger,
  type ProxyFlags,
  proxySettings,
  spaceArg,
} from "./src/cli/options.ts";
import { printInfo, printRank, printScore } from "./src/cli/print.ts";
import {
  announceJournal,
  runSearchCommand,
  runTaskSearchCommand,
  type SearchFlags,
  type TaskSearchFlags,
} from "./src/cli/search.ts";
import { addMergeCommand } from "./src/cli/merge.ts";
import { GpuUnavailableError } from "./src/gpu/device.ts";
import { createProgress } from "./src/util/progress.ts";
import { InputError } from "./src/util/errors.ts";
import { describeGpu, rank, type RankEvent, score, VERSION } from "./mod.ts";
import { acquireGpu } from "./src/gpu/device.ts";
import { parseProxies, PROXY_NAMES } from "./src/proxy/proxies.ts";
import { inWorker, serveRankWorker } from "./src/proxy/rank_worker.ts";

const JOURNAL_HELP =
  "journal (JSONL), appended as results land; rerunning with the same settings " +
  "resumes it (default auto: gennas-runs/<command>-<space>-<settings hash>.jsonl)";

const SHARD_HELP = "score only shard i of n (positions p with p mod n = i; i from 0); auto/n " +
  "reads i from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX. --out auto or a name with {shard}; " +
  "combine the shards with gennas merge";

const PROXY_HELP = `proxy to compute: ${PROXY_NAMES.join(", ")} (default gennas; params and ` +
  "flops are printed beside it anyway)";
const PROXIES_HELP = "several proxies in one pass over the same archs and one journal, e.g. " +
  "gennas,params,flops (the first is the headline metric)";

interface ProxyChoice {
  proxy?: string;
  proxies?: string;
}

function program(): Command {
  const root = new Command("gennas")
    .description(
      "Rank and search neural architectures without labels (GenNAS regression proxy on WebGPU).",
    )
    .version(VERSION)
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)");

  root.command("info")
    .description("print the WebGPU adapter, backend, limits and features")
    .action(async () => printInfo(describeGpu(await acquireGpu())));

  addProxyOptions(
    addBudgetOption(root.command("score"))
      .description("score one architecture (eval loss after training; lower is better)")
      .option(
        "--arch <arch>",
        "NB-201 arch string or op indices, NB-101 JSON {matrix, ops}, or nbmacro's 8 digits " +
          "(default: the space's example)",
      )
      .option("--json", "print the result as JSON")
      .option("--proxy <name>", PROXY_HELP)
      .option("--proxies <list>", PROXIES_HELP),
    "combo",
  ).action(async (flags: ProxyFlags & ProxyChoice & { arch?: string; json?: boolean }) => {
    const result = await score({
      proxy: flags.proxy,
      proxies: flags.proxies,
      space: spaceArg(flags),
      arch: flags.arch,
      task: flags.task,
      images: flags.images,
      settings: proxySettings(flags),
      maxFlops: flags.maxFlops,
    });
    printScore(result, flags.json ?? false);
  });

  addProxyOptions(
    addBudgetOption(root.command("rank"))
      .description("score many architectures and correlate with a benchmark's accuracies")
      .requiredOption(
        "--truth <table>",
        "ground truth: nb201.csv, an NB-101 jsonl or nbmacro_cifar10.jsonl",
      )
      .option(
        "--dataset <name>",
        "NB-201 accuracy column: cifar10, cifar100, imagenet16_120",
        "cifar10",
      )
      .option(
        "--metric <field>",
        "NB-101 / nbmacro accuracy field (default val_acc_mean_of_samples or acc; nbmacro mean_acc)",
      )
      .option(
        "--sample <n>",
        "architectures drawn from the table (seeded)",
        parsePositiveInteger,
        100,
      )
      .option("--archs <file>", "rank the architectures of this file (one per line) instead")
      .option("--limit <n>", "only the first n architectures of --archs", parsePositiveInteger)
      .option("--out <journal>", JOURNAL_HELP, "auto")
      .option("--shard <i/n>", SHARD_HELP)
      .option(
        "--workers <n>",
        "architectures scored at a time, each in a worker with its own device (same scores; " +
          "memory adds up: on a 2-core CPU 2 gave 1.38x the throughput)",
        parsePositiveInteger,
        1,
      )
      .option("--max-memory <MiB>", MAX_MEMORY_HELP, parsePositiveInteger)
      .option("--report <html>", "HTML report (default: the journal path with .html)")
      .option(
        "--bootstrap <n>",
        "bootstrap resamples for confidence intervals",
        parseNonNegativeInteger,
        1000,
      )
      .option("--proxy <name>", PROXY_HELP)
      .option("--proxies <list>", PROXIES_HELP),
    "combo",
  ).action(async (flags: ProxyFlags & ProxyChoice & RankFlags) => {
    const progress = { current: undefined as ReturnType<typeof createProgress> | undefined };
    const withLoss = parseProxies(flags).includes("gennas");
    const result = await rank({
      proxy: flags.proxy,
      proxies: flags.proxies,
      space: spaceArg(flags),
      task: flags.task,
      images: flags.images,
      settings: proxySettings(flags),
      maxFlops: flags.maxFlops,
      truth: flags.truth,
      dataset: flags.dataset,
      metric: flags.metric,
      sample: flags.sample,
      archs: flags.archs,
      limit: flags.limit,
      out: flags.out,
      report: flags.report,
      bootstrap: flags.bootstrap,
      shard: flags.shard,
      workers: flags.workers,
      maxMemory: flags.maxMemory,
      workerUrl: import.meta.url,
      onEvent: (e: RankEvent) => {
        if (e.type === "start") {
          announceJournal(e.journal, e.resumed, e.done, e.total, "already scored");
          progress.current = createProgress({ total: e.total, label: "rank", initial: e.done });
        } else {
          // No loss to show when gennas is not among the proxies.
          progress.current?.tick(e.done, withLoss ? { loss: e.loss.toPrecision(4) } : {});
        }
      },
    });
    progress.current?.stop();
    printRank(result);
  });

  const search = root.command("search", { isDefault: true })
    .description("end-to-end NAS: regularized evolution with the GenNAS loss as fitness (default)");
  addProxyOptions(addBudgetOption(search), "search-N")
    .option("--strategy <name>", "evolution (regularized evolution) or random", "evolution")
    .option("--population <n>", "population size P", parsePositiveInteger, 50)
    .option("--tournament <n>", "tournament size S", parsePositiveInteger, 10)
    .option(
      "--iterations <n>",
      "evolution iterations T (evaluations after the population)",
      parseNonNegativeInteger,
      400,
    )
    .option(
      "--budget <n|time>",
      "stop after n evaluations in this run, or after a time such as 30m (seconds if bare with s/m/h)",
    )
    .option("--truth <table>", "ground truth to report the found arch's accuracy and regret")
    .option("--dataset <name>", "NB-201 accuracy column", "cifar10")
    .option("--metric <field>", "NB-101 / nbmacro accuracy field")
    .option("--out <journal>", JOURNAL_HELP, "auto")
    .option("--report <html>", "HTML report (default: the journal path with .html)")
    .option(
      "--workers <n>",
      "architectures scored at a time where they are independent (the initial population, " +
        "random search), each in a worker with its own device; the same search",
      parsePositiveInteger,
      1,
    )
    .option(
      "--asynchronous",
      "with --workers N: breed children while N-1 others are in flight (asynchronous RE), so " +
        "every evaluation runs N at a time; deterministic for a seed and N, another search than N=1",
    )
    .option("--max-memory <MiB>", MAX_MEMORY_HELP, parsePositiveInteger)
    .action((flags: SearchFlags) => runSearchCommand(flags, import.meta.url));

  addProxyOptions(
    root.command("task-search")
      .description("search proxy-task configs by regularized evolution, fitness ρ(−loss, accuracy)")
      .requiredOption("--truth <table>", "ground truth of the labelled architectures")
      .option("--dataset <name>", "NB-201 accuracy column", "cifar10")
      .option("--metric <field>", "NB-101 accuracy field")
      .option("--samples <n>", "labelled architectures", parsePositiveInteger, 20)
      .option("--archs <file>", "labelled architectures from this file (default: a seeded sample)")
      .option("--population <n>", "population size", parsePositiveInteger, 50)
      .option("--tournament <n>", "tournament size", parsePositiveInteger, 10)
      .option("--iterations <n>", "evolution iterations", parseNonNegativeInteger, 400)
      .option("--budget <n|time>", "stop after n evaluations or a time such as 2h")
      .option("--partial-grid", "draw dot `partial` from k/64 (as the presets) instead of U(0,1)")
      .option("--out <journal>", JOURNAL_HELP, "auto")
      .option(
        "--best <file>",
        "write the best task config here (default: the journal path with .task.json)",
      )
      .option("--report <html>", "HTML report (default: the journal path with .html)")
      .option(
        "--workers <n>",
        "labelled architectures scored at a time for each config, each in a worker with its " +
          "own device; the same search",
        parsePositiveInteger,
        1,
      )
      .option("--max-memory <MiB>", MAX_MEMORY_HELP, parsePositiveInteger),
    "combo",
  ).action((flags: TaskSearchFlags) => runTaskSearchCommand(flags, import.meta.url));

  addMergeCommand(root);
  return root;
}

const MAX_MEMORY_HELP = "score in workers and replace one when the process RSS is above MiB " +
  "after its result lands (lavapipe keeps every pipeline it compiled; off by default)";

interface RankFlags {
  truth: string;
  dataset: string;
  metric?: string;
  sample: number;
  archs?: string;
  limit?: number;
  out?: string;
  report?: string;
  bootstrap: number;
  shard?: string;
  workers: number;
  maxMemory?: number;
}

export async function main(args: string[]): Promise<number> {
  try {
    await program().parseAsync(args, { from: "user" });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof InputError) {
      console.error(`gennas: ${e.message}`);
      return 2;
    }
    if (e instanceof GpuUnavailableError) {
      console.error(`gennas: ${e.message}`);
      return 3;
    }
    throw e;
  }
}

// `rank --workers` and `search --workers` start their workers from this module, so that a bundle or a compiled binary
// needs no second file.
if (inWorker()) {
  serveRankWorker();
} else if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
