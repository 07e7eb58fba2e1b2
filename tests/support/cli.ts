/** Runs the gennas CLI as a subprocess, as a user would. */
export const CLI = new URL("../../cli.ts", import.meta.url).pathname;
export const REPO = new URL("../../", import.meta.url).pathname;
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Tiny proxy settings so CLI tests stay fast on a software GPU. */
export const TINY = ["--iters", "2", "--batch", "2", "--init-channels", "4"];

/** Three NB-201 cells of fixtures/tables/nb201_small.csv, the quick all-`none` one first. */
export const SMALL_NB201 = [
  "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
  "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
  "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
];

export async function runCli(
  args: string[],
  o: { cwd?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    cwd: o.cwd ?? REPO,
    env: { NO_COLOR: "1", ...o.env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}
