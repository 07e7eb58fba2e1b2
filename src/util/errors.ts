/**
 * Bad user input (arch, task JSON, table, image file, flag). The CLI prints the message alone and
 * exits with code 2; the message names the field and the allowed values.
 */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InputError";
  }
}

/** Formats a list of allowed values for an error message: "a", "b" or "c". */
export function allowed(values: readonly (string | number)[]): string {
  const quoted = values.map((v) => typeof v === "string" ? `"${v}"` : String(v));
  if (quoted.length <= 1) return quoted.join("");
  return `${quoted.slice(0, -1).join(", ")} or ${quoted[quoted.length - 1]}`;
}
