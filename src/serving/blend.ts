/**
 * A request's blended candidates: item → the sum of its contributions, and the reason of the
 * largest one. An open-addressing table on typed arrays that the engine reuses for every
 * request (`reset`), so blending a few hundred candidates allocates almost nothing: at 1M items
 * the young-generation collections that allocation triggers cost several milliseconds each,
 * which is what a serving p99 sees.
 */
import { shortlist } from './rules.ts';
import type { Scored } from './rules.ts';

export class Blend {
  private keys = new Int32Array(1024).fill(-1);
  private sums = new Float64Array(1024);
  private bests = new Float64Array(1024);
  private reasonIds = new Int32Array(1024);
  /** Occupied slots, in insertion order. */
  private slots = new Int32Array(512);
  private size = 0;
  private shift = 22; // 32 − log2(capacity)
  private readonly reasons: string[] = [];
  /** The candidates' items and boosted scores, for `shortlisted` (reused). */
  private items = new Int32Array(0);
  private scores = new Float64Array(0);

  /** Forgets every candidate and reason (the table keeps its capacity). */
  reset(): void {
    for (let j = 0; j < this.size; j++) this.keys[this.slots[j]!] = -1;
    this.size = 0;
    this.reasons.length = 0;
  }

  /** Registers a reason text; `add` takes the id returned. */
  reason(text: string): number {
    return this.reasons.push(text) - 1;
  }

  /** Adds `contribution` to item `item`'s score; its reason becomes `reason` if this is its largest. */
  add(item: number, contribution: number, reason: number): void {
    if (2 * (this.size + 1) > this.keys.length) this.grow();
    const mask = this.keys.length - 1;
    for (let h = Math.imul(item, 0x9e3779b1) >>> this.shift; ; h = (h + 1) & mask) {
      const k = this.keys[h]!;
      if (k === item) {
        this.sums[h]! += contribution;
        if (contribution > this.bests[h]!) {
          this.bests[h] = contribution;
          this.reasonIds[h] = reason;
        }
        return;
      }
      if (k === -1) {
        this.keys[h] = item;
        this.sums[h] = contribution;
        this.bests[h] = contribution;
        this.reasonIds[h] = reason;
        this.slots[this.size++] = h;
        return;
      }
    }
  }

  /** Whether `item` is a candidate. */
  has(item: number): boolean {
    return this.slotOf(item) >= 0;
  }

  /** `item`'s blended score (before boosts), or null when it is no candidate. */
  scoreOf(item: number): number | null {
    const h = this.slotOf(item);
    return h < 0 ? null : this.sums[h]!;
  }

  private slotOf(item: number): number {
    const mask = this.keys.length - 1;
    for (let h = Math.imul(item, 0x9e3779b1) >>> this.shift; ; h = (h + 1) & mask) {
      const k = this.keys[h]!;
      if (k === item) return h;
      if (k === -1) return -1;
    }
  }

  /** Candidates so far; `itemAt`, `scoreAt` and `reasonAt` take 0 .. count − 1 (insertion order). */
  get count(): number {
    return this.size;
  }

  itemAt(j: number): number {
    return this.keys[this.slots[j]!]!;
  }

  scoreAt(j: number): number {
    return this.sums[this.slots[j]!]!;
  }

  reasonAt(j: number): string {
    return this.reasons[this.reasonIds[this.slots[j]!]!]!;
  }

  /**
   * The candidates, their scores multiplied by `boost` (null: none), that the rules need to see:
   * the best `m` and every one of `alsoKeep` (see rules.ts `shortlist`), in insertion order.
   */
  shortlisted(boost: ((item: number) => number) | null, m: number, alsoKeep: readonly number[]): Scored[] {
    const n = this.size;
    if (this.scores.length < n) {
      this.scores = new Float64Array(Math.ceil(n * 1.5));
      this.items = new Int32Array(this.scores.length);
    }
    const { scores, items } = this;
    for (let j = 0; j < n; j++) {
      items[j] = this.itemAt(j);
      scores[j] = boost ? this.scoreAt(j) * boost(items[j]!) : this.scoreAt(j);
    }
    const keep = shortlist(scores, items, n, m, alsoKeep);
    return keep.map((j) => ({ index: items[j]!, score: scores[j]!, reason: this.reasonAt(j) }));
  }

  private grow(): void {
    const { keys, sums, bests, reasonIds, slots, size } = this;
    const capacity = keys.length * 2;
    this.keys = new Int32Array(capacity).fill(-1);
    this.sums = new Float64Array(capacity);
    this.bests = new Float64Array(capacity);
    this.reasonIds = new Int32Array(capacity);
    this.slots = new Int32Array(capacity / 2);
    this.shift--;
    this.size = 0;
    const mask = capacity - 1;
    for (let j = 0; j < size; j++) {
      const from = slots[j]!;
      let h = Math.imul(keys[from]!, 0x9e3779b1) >>> this.shift;
      while (this.keys[h] !== -1) h = (h + 1) & mask;
      this.keys[h] = keys[from]!;
      this.sums[h] = sums[from]!;
      this.bests[h] = bests[from]!;
      this.reasonIds[h] = reasonIds[from]!;
      this.slots[this.size++] = h;
    }
  }
}
