/** Adapts a model to score in another item index space (e.g. a newer snapshot's). */
import type { AlsModel } from '../models/als.ts';
import type { Recommender } from '../models/recommender.ts';

/**
 * Scores a model in the index space of `itemIds` (e.g. a newer snapshot): each user is folded
 * in from the items they have there that the model knows; items the model never saw score −∞.
 */
export function foldInAdapter(
  model: AlsModel,
  modelItemIds: readonly string[],
  itemIds: readonly string[],
): Recommender {
  const own = new Map(modelItemIds.map((id, i) => [id, i]));
  const toModel = Int32Array.from(itemIds, (id) => own.get(id) ?? -1);
  const modelScores = new Float32Array(modelItemIds.length);
  return {
    name: `${model.name} (fold-in)`,
    async fit() {
      throw new Error('a published version is not refitted');
    },
    scoreInto(_userIndex, items, weights, out) {
      const kept: number[] = [];
      const keptWeights: number[] = [];
      items.forEach((i, k) => {
        if (toModel[i]! >= 0) {
          kept.push(toModel[i]!);
          keptWeights.push(weights[k]!);
        }
      });
      model.scoreInto(-1, Int32Array.from(kept), Float32Array.from(keptWeights), modelScores);
      for (let j = 0; j < out.length; j++) {
        const m = toModel[j]!;
        out[j] = m >= 0 ? modelScores[m]! : Number.NEGATIVE_INFINITY;
      }
    },
  };
}
