/** Reading and writing task config JSON files. */
import { InputError } from "../util/errors.ts";
import type { NlpTaskConfig } from "./nlp.ts";
import { parseTaskConfig, type TaskConfig } from "./schema.ts";

/** Pretty JSON (2-space indent, trailing newline), keys in schema order. */
export function taskToJson(cfg: TaskConfig | NlpTaskConfig): string {
  return `${JSON.stringify(cfg, null, 2)}\n`;
}

/** Writes a temp file next to `path` and renames it over `path`, so readers never see half a file. */
export async function saveTaskConfig(
  path: string,
  cfg: TaskConfig | NlpTaskConfig,
): Promise<void> {
  const temp = `${path}.tmp-${Deno.pid}-${Date.now().toString(36)}`;
  try {
    await Deno.writeTextFile(temp, taskToJson(cfg));
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}

async function readText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new InputError(`task file "${path}" not found`);
    }
    const reason = error instanceof Error ? error.message : String(error);
    throw new InputError(`cannot read task file "${path}": ${reason}`);
  }
}

/** Reads and validates a task JSON file; every failure is an InputError naming the file. */
export async function loadTaskConfig(path: string): Promise<TaskConfig> {
  const text = await readText(path);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InputError(`task file "${path}" is not valid JSON: ${reason}`);
  }
  return parseTaskConfig(json, `task file "${path}"`);
}
