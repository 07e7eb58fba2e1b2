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
