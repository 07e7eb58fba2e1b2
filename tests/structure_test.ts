/**
 * The shape of the code base: no import cycles among our modules, and no source file past the
 * size the project keeps (one concern per file).
 */
import assert from "node:assert/strict";
import { REPO } from "./support/cli.ts";

const MAX_LINES = 600;

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier: string }; type?: { specifier: string } }[];
}

async function infoModules(root: string): Promise<InfoModule[]> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", root],
    cwd: REPO,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  return (JSON.parse(new TextDecoder().decode(output.stdout)) as { modules: InfoModule[] }).modules;
}

async function localImportGraph(roots: string[]): Promise<Map<string, string[]>> {
  const modules = (await Promise.all(roots.map(infoModules))).flat();
  const base = new URL(REPO, "file://").href;
  const local = (s: string) => s.startsWith(base) && !s.endsWith(".wgsl");
  const graph = new Map<string, string[]>();
  for (const m of modules) {
    if (!local(m.specifier)) continue;
    const deps = (m.dependencies ?? []).flatMap((d) => [d.code?.specifier, d.type?.specifier])
      .filter((s): s is string => s !== undefined && local(s));
    graph.set(m.specifier.slice(base.length), [...new Set(deps.map((s) => s.slice(base.length)))]);
  }
  return graph;
}

/** Strongly connected components with more than one module (or a self-import): the cycles. */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

function sourceFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of Deno.readDirSync(`${REPO}${dir}`)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) files.push(...sourceFiles(path));
    else if (entry.name.endsWith(".ts")) files.push(path);
  }
  return files;
}

Deno.test("cycles() finds a two-module cycle and ignores a diamond", () => {
  const cyclic = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]]);
  assert.deepEqual(cycles(cyclic), [["a", "b", "c"]]);
  const diamond = new Map([["a", ["b", "c"]], ["b", ["d"]], ["c", ["d"]], ["d", []]]);
  assert.deepEqual(cycles(diamond), []);
});

Deno.test("no import cycles among the library, CLI and benchmark modules", async () => {
  const roots = ["mod.ts", "cli.ts", ...sourceFiles("bench")];
  const graph = await localImportGraph(roots);
  assert.ok(graph.has("src/graph/compile.ts"), "the walk reaches the graph compiler");
  assert.deepEqual(cycles(graph), []);
});

Deno.test(`no source file over ${MAX_LINES} lines`, () => {
  const files = ["mod.ts", "cli.ts", ...sourceFiles("src")];
  const long = files.map((f) => ({ f, lines: Deno.readTextFileSync(`${REPO}${f}`).split("\n") }))
    .filter(({ lines }) => lines.length - 1 > MAX_LINES)
    .map(({ f, lines }) => `${f} (${lines.length - 1} lines)`);
  assert.deepEqual(long, []);
});
