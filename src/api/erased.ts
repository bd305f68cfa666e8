/**
 * The answer for an erased user's id where a route would tell of that user. A store method that
 * writes to a user refuses an erased one itself, in the transaction that writes (ErasedError).
 */
import { ErasedError } from '../errors.ts';
import type { Store } from '../store/types.ts';

/** Throws 410 (`SHELF_ERR_ERASED`) when `userId` is an erased user's: the id is a tombstone. */
export async function refuseErased(store: Pick<Store, 'erasedAmong'>, userId: string): Promise<void> {
  if ((await store.erasedAmong([userId])).size) {
    throw new ErasedError(userId);
  }
}
