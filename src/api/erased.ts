/** The answer for an erased user's id, wherever a route would act on or tell of that user. */
import { ShelfError } from '../errors.ts';
import type { Store } from '../store/types.ts';

/** Throws 410 (`SHELF_ERR_ERASED`) when `userId` is an erased user's: the id is a tombstone. */
export async function refuseErased(store: Pick<Store, 'erasedAmong'>, userId: string): Promise<void> {
  if ((await store.erasedAmong([userId])).size) {
    throw ShelfError.of('SHELF_ERR_ERASED', `user ${userId} was erased; send a new pseudonymous id`);
  }
}
