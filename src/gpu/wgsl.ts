/**
 * A small WGSL preprocessor, applied when a kernel's source is built (results memoised, so equal
 * requests return the same string and pipelines are keyed by it cheaply). Line directives:
 *   #include "name"        the snippet shaders/common/<name>.wgsl (see INCLUDES)
 *   #if NAME / #if !NAME   keep the lines up to the matching #else / #endif when NAME is (not)
 *   #else / #endif         true; NAME must be defined; blocks nest
 * and `$NAME` anywhere else is replaced by the define's value. Shaders stay imported as text,
 * so compiled and bundled builds read no files at run time.
 */
import indexSnippet from "../../shaders/common/index.wgsl" with { type: "text" };
import storeSnippet from "../../shaders/common/store.wgsl" with { type: "text" };
import gemmSnippet from "../../shaders/common/gemm.wgsl" with { type: "text" };

export type Defines = Readonly<Record<string, string | number | boolean>>;

const INCLUDES: Readonly<Record<string, string>> = {
  index: indexSnippet,
  store: storeSnippet,
  gemm: gemmSnippet,
};

/** The element type of a kernel generated at one vector width. */
export function widthDefines(width: 1 | 4): Defines {
  return width === 4
    ? { VEC4: true, T: "vec4f", U: "vec4u", W: "4u" }
    : { VEC4: false, T: "f32", U: "u32", W: "1u" };
}

const memo = new Map<string, Map<string, string>>();

/** `template` with its directives applied under `defines`; the same string for equal calls. */
export function preprocess(template: string, defines: Defines = {}): string {
  let byDefines = memo.get(template);
  if (!byDefines) {
    byDefines = new Map();
    memo.set(template, byDefines);
  }
  const key = Object.keys(defines).sort().map((k) => `${k}=${defines[k]}`).join(",");
  let source = byDefines.get(key);
  if (source === undefined) {
    source = expand(template, defines, []);
    byDefines.set(key, source);
  }
  return source;
}

const DIRECTIVE = /^\s*#(\w+)\s*(.*?)\s*$/;

function expand(text: string, defines: Defines, including: readonly string[]): string {
  const out: string[] = [];
  /** One entry per open #if: whether its current branch is kept, and whether #else was seen. */
  const open: { keep: boolean; parentKeeps: boolean; inElse: boolean }[] = [];
  const keeping = () => open.length === 0 || open[open.length - 1].keep;
  const lines = text.split("\n");
  lines.forEach((line, index) => {
    const where = `line ${index + 1}${including.length ? ` of "${including.at(-1)}"` : ""}`;
    const directive = DIRECTIVE.exec(line);
    if (!directive) {
      if (keeping()) out.push(substitute(line, defines, where));
      return;
    }
    const [, name, argument] = directive;
    switch (name) {
      case "include": {
        if (!keeping()) return;
        const snippet = /^"([\w/]+)"$/.exec(argument)?.[1];
        if (snippet === undefined || !(snippet in INCLUDES)) {
          throw new Error(`wgsl ${where}: unknown include ${argument}`);
        }
        if (including.includes(snippet)) {
          throw new Error(`wgsl ${where}: "${snippet}" includes itself`);
        }
        out.push(expand(INCLUDES[snippet], defines, [...including, snippet]));
        return;
      }
      case "if": {
        const negated = argument.startsWith("!");
        const flag = negated ? argument.slice(1).trim() : argument;
        if (!(flag in defines)) throw new Error(`wgsl ${where}: #if ${flag} is not defined`);
        const value = Boolean(defines[flag]) && defines[flag] !== "false";
        const parentKeeps = keeping();
        open.push({ keep: parentKeeps && value !== negated, parentKeeps, inElse: false });
        return;
      }
      case "else": {
        const top = open.at(-1);
        if (!top || top.inElse) throw new Error(`wgsl ${where}: #else without #if`);
        top.keep = top.parentKeeps && !top.keep;
        top.inElse = true;
        return;
      }
      case "endif":
        if (!open.pop()) throw new Error(`wgsl ${where}: #endif without #if`);
        return;
      default:
        throw new Error(`wgsl ${where}: unknown directive #${name}`);
    }
  });
  if (open.length > 0) throw new Error(`wgsl: ${open.length} #if without #endif`);
  return out.join("\n");
}

function substitute(line: string, defines: Defines, where: string): string {
  if (!line.includes("$")) return line;
  return line.replace(/\$([A-Za-z_]\w*)/g, (_, name: string) => {
    if (!(name in defines)) throw new Error(`wgsl ${where}: $${name} is not defined`);
    return String(defines[name]);
  });
}
