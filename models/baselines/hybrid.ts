/**
 * Hybrid recommender: ALS scores plus β times content-only scores (models/content-only.ts),
 * both from one fit — the content model's ALS is the collaborative half. Since both halves'
 * user vectors are fitted to the same 0/1 preferences, their scores are on one scale and a
 * single β suffices. β = 0 gives the ALS's scores exactly (the content half is not even
 * computed), so a β grid that holds 0 cannot do worse than ALS on the split β is chosen on.
 */
import { ContentOnlyModel } from './content-only.ts';
import type { ContentBase, ContentOnlyOptions } from './content-only.ts';
import type { Recommender } from '../recommender.ts';
import type { Csr } from '../sparse.ts';

export interface HybridOptions extends ContentOnlyOptions {
  /** Weight of the content-only score; finite. @defaultValue 0.25 */
  beta?: number;
}

export class HybridModel implements Recommender {
  readonly name = 'hybrid';
  readonly beta: number;
  /** The content half; its fitted base holds the ALS half. */
  readonly content: ContentOnlyModel;
  private scratch = new Float32Array(0);

  constructor(options: HybridOptions) {
    const beta = options.beta ?? 0.25;
    if (!Number.isFinite(beta)) throw new RangeError('beta must be finite');
    this.beta = beta;
    this.content = new ContentOnlyModel(options);
  }

  /** The fitted ALS, content vectors and folds. */
  get fitted(): ContentBase {
    return this.content.fitted;
  }

  async fit(train: Csr): Promise<void> {
    await this.content.fit(train);
    this.scratch = new Float32Array(train.cols);
  }

  scoreInto(userIndex: number, items: Int32Array, weights: Float32Array, out: Float32Array): void {
    this.content.fitted.als.scoreInto(userIndex, items, weights, out);
    if (this.beta === 0) return;
    const c = this.scratch;
    this.content.scoreInto(userIndex, items, weights, c);
    const beta = this.beta;
    for (let i = 0; i < out.length; i++) out[i]! += beta * c[i]!;
  }
}
