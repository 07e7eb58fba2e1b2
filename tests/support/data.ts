/**
 * The shared ground-truth folder: ../shared/data beside the repository, or $GENNAS_DATA. Tests
 * that need a file from it are skipped, with a note in their name, when it is absent.
 */
export const SHARED_DATA = (Deno.env.get("GENNAS_DATA") ??
  new URL("../../../shared/data/", import.meta.url).pathname).replace(/\/?$/, "/");

export interface SharedFile {
  path: string;
  present: boolean;
  /** Appended to a test's name: empty when present, else why it is skipped. */
  note: string;
}

export function sharedFile(name: string): SharedFile {
  return sharedFiles([name])[0];
}

/** Several files a test needs together: each one's note names every missing file. */
export function sharedFiles(names: string[]): SharedFile[] {
  const paths = names.map((name) => `${SHARED_DATA}${name}`);
  const missing = paths.filter((path) => !isFile(path));
  const note = missing.length ? ` [skipped: ${missing.join(", ")} absent]` : "";
  return paths.map((path) => ({ path, present: !missing.length, note }));
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}
