/**
 * A per-process resource table (spec §0.4): IDs start at 0, grow by one per insertion and are
 * never reused; removing an entry leaves a hole. IDs mean nothing outside their process.
 */
export class ResourceTable<T> {
  #next = 0;
  #items = new Map<number, T>();
  /** The entry found last: a process's calls mostly name the same one (its stream). */
  #lastIndex = -1;
  #lastValue: T | undefined = undefined;

  /** Inserts `value` and returns its new ID. */
  add(value: T): number {
    const id = this.#next++;
    this.#items.set(id, value);
    return id;
  }

  get(id: bigint | number): T | undefined {
    const index = toIndex(id);
    if (index === this.#lastIndex) return this.#lastValue;
    const value = this.#items.get(index);
    if (value !== undefined) {
      this.#lastIndex = index;
      this.#lastValue = value;
    }
    return value;
  }

  has(id: bigint | number): boolean {
    return this.#items.has(toIndex(id));
  }

  /** Removes the entry and returns it (undefined if there was none). */
  take(id: bigint | number): T | undefined {
    const index = toIndex(id);
    const value = this.#items.get(index);
    if (value !== undefined) this.#items.delete(index);
    if (index === this.#lastIndex) this.#forgetLast();
    return value;
  }

  get size(): number {
    return this.#items.size;
  }

  values(): IterableIterator<T> {
    return this.#items.values();
  }

  clear(): void {
    this.#items.clear();
    this.#forgetLast();
  }

  #forgetLast(): void {
    this.#lastIndex = -1;
    this.#lastValue = undefined;
  }
}

/**
 * Converts a guest u64 ID to a table key. IDs past 2^53 cannot exist, so they map to -1,
 * which no table holds.
 */
export function toIndex(id: bigint | number): number {
  // Number() of a bigint past 2^53 rounds to at least 2^53: out of range either way, without
  // the bigint comparisons (this runs on every I/O call).
  const index = typeof id === "number" ? id : Number(id);
  return index >= 0 && index <= Number.MAX_SAFE_INTEGER ? index : -1;
}
