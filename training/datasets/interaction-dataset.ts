/**
 * A log of user–item interactions in parallel typed arrays (one entry per interaction, in
 * file order). Indices are dense: `users[k]` is a user index in `[0, userCount)`, `items[k]`
 * an item index in `[0, itemCount)`.
 */
export interface InteractionLog {
  userCount: number;
  itemCount: number;
  users: Int32Array;
  items: Int32Array;
  /** Seconds since the Unix epoch (UTC). */
  timestamps: Float64Array;
  /** Units bought (online-retail) or the rating (MovieLens). */
  values: Float32Array;
}

/** An interaction log with its id maps and item text, as a loader returns it. */
export interface InteractionDataset extends InteractionLog {
  name: string;
  /** userIndex → external user id. */
  userIds: string[];
  /** itemIndex → external item id. */
  itemIds: string[];
  /** itemIndex → title or description ('' when the file has none). */
  itemTitles: string[];
  /** itemIndex → category names (MovieLens genres; empty for online-retail). */
  itemCategories: string[][];
}

/** Assigns dense indices to string ids in order of first appearance. */
export class IdIndex {
  readonly ids: string[] = [];
  private readonly map = new Map<string, number>();

  indexOf(id: string): number {
    let index = this.map.get(id);
    if (index === undefined) {
      index = this.ids.length;
      this.map.set(id, index);
      this.ids.push(id);
    }
    return index;
  }

  get(id: string): number | undefined {
    return this.map.get(id);
  }

  get size(): number {
    return this.ids.length;
  }
}

/** A growable typed-array column, trimmed to length by `finish`. */
export class GrowableColumn<T extends Int32Array | Uint8Array | Float32Array | Float64Array> {
  private data: T;
  length = 0;

  constructor(private readonly make: (n: number) => T) {
    this.data = make(1024);
  }

  push(v: number): void {
    if (this.length === this.data.length) {
      const next = this.make(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }

  finish(): T {
    return this.data.slice(0, this.length) as T;
  }
}
