/**
 * A memo of a pure function of a string key. The planner and the code generator each keep one,
 * process-wide: the only mutable module state of conv2d.
 */
export class KeyedCache<V> {
  readonly #entries = new Map<string, V>();

  /** The value for `key`, built by `build` on first use. */
  get(key: string, build: () => V): V {
    let value = this.#entries.get(key);
    if (value === undefined) {
      value = build();
      this.#entries.set(key, value);
    }
    return value;
  }
}
