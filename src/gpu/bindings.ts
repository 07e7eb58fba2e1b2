/**
 * Declared bind-group layouts. A kernel family lists its buffer bindings once, in @binding
 * order, each read-only ("read"), read-write ("read_write") or uniform, a trailing "?" marking it
 * optional; `bind` turns a launch's named buffers into the positional list a `Launch` carries.
 * An optional binding a launch leaves out is `undefined` there and is bound to a shared
 * placeholder buffer (see PipelineCache.placeholder), so shaders need not alias buffers to fill
 * slots they do not use.
 */

export type BindingMode = "read" | "read_write" | "uniform" | "read?" | "read_write?";

/** "uniform": a read-only uniform buffer (at most 64 KiB bound; never optional). */
export type BindingAccess = "read" | "read_write" | "uniform";

export interface BindingDecl {
  readonly name: string;
  readonly access: BindingAccess;
  readonly optional: boolean;
  /** The binding's least size in bytes, part of the layout (0: checked at dispatch only). */
  readonly minBytes: number;
}

/** What the pipeline cache needs of a declaration. */
export interface DeclaredBindings {
  readonly entries: readonly BindingDecl[];
  /** Equal keys make equal GPU layouts (optionality does not enter it). */
  readonly key: string;
}

type OptionalName<D> = { [K in keyof D]: D[K] extends `${string}?` ? K : never }[keyof D];
type RequiredName<D> = Exclude<keyof D, OptionalName<D>>;

/** A launch's buffers by declared name: required ones must be given, optional ones may be. */
export type BindingValues<D, B> =
  & { readonly [K in RequiredName<D>]: B }
  & { readonly [K in OptionalName<D>]?: B | undefined };

export interface BindingLayout<D extends Record<string, BindingMode>> extends DeclaredBindings {
  /** The buffers in @binding order; an absent optional one is `undefined`. */
  bind<B>(values: BindingValues<D, B>): (B | undefined)[];
}

/**
 * Declares a kernel's bindings; `@binding(i)` is the i-th key. Reuse one declaration for every
 * launch of a layout (it is the layout cache's key).
 */
export function declareBindings<const D extends Record<string, BindingMode>>(
  declaration: D,
  o: { minBytes?: Partial<Record<keyof D, number>> } = {},
): BindingLayout<D> {
  const entries: BindingDecl[] = Object.entries(declaration).map(([name, mode]) => ({
    name,
    access: mode.startsWith("read_write") ? "read_write" : mode === "uniform" ? "uniform" : "read",
    optional: mode.endsWith("?"),
    minBytes: o.minBytes?.[name as keyof D] ?? 0,
  }));
  return {
    entries,
    key: entries.map((e) =>
      ({ read: "r", read_write: "w", uniform: "u" })[e.access] + (e.minBytes ? e.minBytes : "")
    ).join(""),
    bind<B>(values: BindingValues<D, B>): (B | undefined)[] {
      const given = values as Readonly<Record<string, B | undefined>>;
      return entries.map((e) => {
        const value = given[e.name];
        if (value === undefined && !e.optional) {
          throw new TypeError(`binding "${e.name}" is required`);
        }
        return value;
      });
    },
  };
}
