/**
 * Flags of a bench script: `--help` prints its usage and exits 0; an unknown flag or a flag
 * without its value prints the error and the usage and exits 2.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

export function benchArgs<T extends Omit<ParseArgsConfig, "args">>(config: T, usage: string) {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(`usage: ${usage}`);
    Deno.exit(0);
  }
  try {
    return parseArgs({ ...config, args: Deno.args });
  } catch (e) {
    console.error(`error: ${(e as Error).message}\nusage: ${usage}`);
    Deno.exit(2);
  }
}
