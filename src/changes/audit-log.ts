/**
 * The append-only audit log's writer: erasures, consent changes and admin actions (item changes,
 * train, promote, rollback), with who asked — a key's role and non-secret id, `cli` or `job` —
 * and no personal data beyond the pseudonymous user id (the handbook asks that data
 * processing be traceable). Read at `GET /v1/admin/audit`.
 */
import type { AttributeValue, Store } from '../store/types.ts';

export interface Actor {
  role: string;
  keyId: string | null;
}

/** The command line (whoever runs it has the data dir and the database). */
export const CLI_ACTOR: Actor = { role: 'cli', keyId: null };
/** Work Shelf does on its own (the train job's promotion). */
export const JOB_ACTOR: Actor = { role: 'job', keyId: null };

export type AuditAction =
  | 'user.erase'
  | 'user.patch'
  | 'user.consent'
  | 'users.import'
  | 'items.upsert'
  | 'item.patch'
  | 'items.import'
  | 'events.import'
  | 'model.train'
  | 'model.promote'
  | 'model.rollback'
  | 'experiment.create'
  | 'experiment.start'
  | 'experiment.shares'
  | 'experiment.pause'
  | 'experiment.stop'
  | 'experiment.ship'
  | 'experiment.unship'
  | 'rules.update';

export class AuditLog {
  constructor(
    private readonly store: Pick<Store, 'appendAudit'>,
    private readonly now: () => number = Date.now,
  ) {}

  record(
    actor: Actor,
    action: AuditAction,
    target: string | null,
    detail?: Record<string, AttributeValue | null>,
  ): Promise<void> {
    return this.store.appendAudit([
      { at: this.now(), role: actor.role, keyId: actor.keyId, action, target, ...(detail ? { detail } : {}) },
    ]);
  }
}
