/**
 * File names inside a model version beyond the manifest: written by training/publish.ts,
 * read by serving. Vectors and lists are raw little-endian float32/int32.
 */
export const VERSION_FILES = {
  users: 'users.json',
  items: 'items.json',
  userFactors: 'user-factors.f32',
  itemFactors: 'item-factors.f32',
  /** Each known user's training row (CSR), so fresh events fold in on top of it. */
  userItemsIndptr: 'user-items-indptr.i32',
  userItemsIndices: 'user-items-indices.i32',
  userItemsValues: 'user-items-values.f32',
  /** Item-to-item neighbours: rows × k, −1 padded. */
  neighboursIndices: 'neighbours-indices.i32',
  neighboursScores: 'neighbours-scores.f32',
  /** Bought-together complements: rows × k, −1 padded. */
  complementsIndices: 'complements-indices.i32',
  complementsScores: 'complements-scores.f32',
  /** EASE's largest item-item weights (small catalogues): rows × k, −1 padded. */
  easeIndices: 'ease-indices.i32',
  easeScores: 'ease-scores.f32',
  /**
   * The HNSW graph over the item factors and the content vectors (small catalogues get an exact
   * index at load instead).
   */
  annIndex: 'ann-index.bin',
  /**
   * The catalogue's items the fit never saw when it was published (JSON ids) and their content
   * vectors (rows × factors): in the index after the model's items, so a load has none to add.
   */
  contentItems: 'content-items.json',
  contentVectors: 'content-vectors.f32',
  /** The content encoder's manifest; its own files sit beside it. */
  contentEncoder: 'content-encoder.json',
  /** Serving rules tuned on the version's holdout (src/serving/version-rules.ts); absent: the engine's. */
  servingRules: 'serving-rules.json',
} as const;
