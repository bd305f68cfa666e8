/**
 * SQLite's visitor index of the impressions (migration 9): which lists each visitor was shown,
 * (visitor key, ts, seq), in two tables. An index on the impressions table wrote, for every list,
 * an entry at that visitor's place among millions: once the table outgrew a page per visitor,
 * about one page written per list, half of what writing a list cost, growing with the table.
 * Now a list's entries go to `impression_visitors_recent`, which holds a few seconds' lists at
 * most and so a few hundred pages, all of them written by every commit anyway; every few seconds
 * they move to `impression_visitors` in visitor order, where a move writes about a page per
 * visitor it holds, so the entries of a visitor's lists in those seconds share one page write.
 * Every lookup, merge and erasure reads both. PostgreSQL keeps its plain indexes
 * (postgres-store.ts).
 */
import type Database from 'better-sqlite3';
import { IMPRESSION_COLUMNS } from './feedback-sql.ts';
import type { ImpressionRow } from './feedback-sql.ts';
import type { ShownList, Subject, VisitorRef } from './types.ts';

const JOINED = IMPRESSION_COLUMNS.split(', ')
  .map((c) => `i.${c}`)
  .join(', ');
/** The rows (seq) of visitor key @visitor, in both tables. */
const ROWS_OF = `SELECT seq FROM impression_visitors WHERE visitor = @visitor
  UNION ALL SELECT seq FROM impression_visitors_recent WHERE visitor = @visitor`;

export class ImpressionVisitors {
  private readonly s;
  /** Both tables' newest list per key, read in one transaction (one snapshot: none missed mid-move). */
  private readonly newestOf: (
    keys: readonly string[],
    itemId: string,
    from: number,
    to: number,
  ) => ImpressionRow | undefined;
  /** When the recent entries last moved (this process's clock), ms. */
  private movedAt = Number.NEGATIVE_INFINITY;
  /** Entries this process added to the recent table since it last moved them. */
  private recent = 0;

  /**
   * `moveEveryMs`: how often `added` moves the recent entries (Infinity: never); sooner once
   * this process has added `moveAtEntries` to them: their pages, each rewritten by every commit,
   * then outweigh what a later move saves (a scratch run of 2,000 visitors' lists wrote them for
   * less CPU a list moved by 45,000 than by 9,000 or 90,000).
   */
  constructor(
    private readonly db: Database.Database,
    private readonly moveEveryMs: number,
    private readonly moveAtEntries = 40_000,
  ) {
    const latest = (table: string) =>
      // Newest first over the visitor's entries: the first list holding the item ends the scan.
      db.prepare(
        `SELECT ${JOINED} FROM ${table} v JOIN impressions i ON i.seq = v.seq
         WHERE v.visitor = @visitor AND v.ts >= @from AND v.ts <= @to
           AND EXISTS (SELECT 1 FROM json_each(i.item_ids) WHERE value = @itemId)
         ORDER BY v.ts DESC, v.seq DESC LIMIT 1`,
      );
    this.s = {
      newest: db.prepare('SELECT coalesce(max(seq), 0) FROM impressions').pluck(),
      add: db.prepare(
        `INSERT INTO impression_visitors_recent
         SELECT 'u:' || user_id, ts, seq FROM impressions WHERE seq > @after AND user_id IS NOT NULL
         UNION ALL
         SELECT 's:' || session_id, ts, seq FROM impressions WHERE seq > @after AND session_id IS NOT NULL`,
      ),
      // The recent table is read in key order: the entries go in visitor by visitor.
      move: db.prepare(
        'INSERT INTO impression_visitors SELECT visitor, ts, seq FROM impression_visitors_recent',
      ),
      clearRecent: db.prepare('DELETE FROM impression_visitors_recent'),
      // Newest first through the visitor's entries (both tables in one statement: one snapshot).
      shownTo: db.prepare(
        `SELECT i.item_ids, i.ts FROM (
           SELECT ts, seq FROM impression_visitors WHERE visitor = @visitor AND ts >= @from
           UNION ALL SELECT ts, seq FROM impression_visitors_recent WHERE visitor = @visitor AND ts >= @from
         ) v JOIN impressions i ON i.seq = v.seq
         WHERE NOT @anonymous OR i.user_id IS NULL
         ORDER BY v.ts DESC, v.seq DESC LIMIT @limit`,
      ),
      latest: latest('impression_visitors'),
      latestRecent: latest('impression_visitors_recent'),
      // A login: the session's lists become the user's too.
      mergeEntries: db.prepare(
        `INSERT OR IGNORE INTO impression_visitors (visitor, ts, seq)
         SELECT 'u:' || @userId, ts, seq FROM impressions WHERE user_id IS NULL AND seq IN (${ROWS_OF})`,
      ),
      // The lists still count for the session they were served to (sessionUnit, types.ts).
      mergeRows: db.prepare(
        `UPDATE impressions SET user_id = @userId, session_unit = 1 WHERE user_id IS NULL AND seq IN (${ROWS_OF})`,
      ),
      // Erasure: the user's lists, and every entry naming them (their sessions' too).
      eraseSessionEntries: ['impression_visitors', 'impression_visitors_recent'].map((table) =>
        db.prepare(
          `DELETE FROM ${table} WHERE (visitor, ts, seq) IN (
             SELECT 's:' || session_id, ts, seq FROM impressions WHERE session_id IS NOT NULL AND seq IN (${ROWS_OF}))`,
        ),
      ),
      // The user's lists, whose credits go too, and the sessions they name, whose aggregates go
      // too: a session-unit experiment's lists count by their session, and so did a session's
      // lists aggregated before it was merged into the user.
      lists: db.prepare(`SELECT recommendation_id, session_id FROM impressions WHERE seq IN (${ROWS_OF})`),
      // Those sessions' anonymous lists: not yet aggregated, they brought the session's rows back.
      anonymousLists: db.prepare(
        `SELECT seq, recommendation_id FROM impressions WHERE user_id IS NULL AND seq IN (${ROWS_OF})`,
      ),
      eraseRow: db.prepare('DELETE FROM impressions WHERE seq = ?'),
      eraseEntry: ['impression_visitors', 'impression_visitors_recent'].map((table) =>
        db.prepare(`DELETE FROM ${table} WHERE visitor = ? AND seq = ?`),
      ),
      eraseRows: db.prepare(`DELETE FROM impressions WHERE seq IN (${ROWS_OF})`),
      eraseEntries: db.prepare('DELETE FROM impression_visitors WHERE visitor = @visitor'),
      eraseRecentEntries: db.prepare('DELETE FROM impression_visitors_recent WHERE visitor = @visitor'),
    };
    this.newestOf = db.transaction((keys: readonly string[], itemId: string, from: number, to: number) => {
      let best: ImpressionRow | undefined;
      for (const key of keys) {
        for (const stmt of [this.s.latest, this.s.latestRecent]) {
          const r = stmt.get({ visitor: key, itemId, from, to }) as ImpressionRow | undefined;
          if (r && (!best || newer(r, best))) best = r;
        }
      }
      return best;
    });
  }

  /** The newest row before lists are written (inside the transaction that writes them). */
  newest(): number {
    return this.s.newest.get() as number;
  }

  /**
   * Indexes the lists written after row `after` (inside the transaction that wrote them), and
   * moves the recent entries when they last moved a while ago.
   */
  added(after: number, now: number): void {
    this.recent += this.s.add.run({ after }).changes;
    if (this.moveEveryMs === Infinity) return;
    if (now - this.movedAt < this.moveEveryMs && this.recent < this.moveAtEntries) return;
    this.movedAt = now;
    this.recent = 0;
    this.s.move.run();
    this.s.clearRecent.run();
  }

  /** The newest list shown to `visitor` in [from, to] that holds `itemId` (both tables in one snapshot). */
  latestWith(visitor: VisitorRef, itemId: string, from: number, to: number): ImpressionRow | undefined {
    const keys = [
      ...(visitor.userId !== undefined ? [`u:${visitor.userId}`] : []),
      ...(visitor.sessionId !== undefined ? [`s:${visitor.sessionId}`] : []),
    ];
    return this.newestOf(keys, itemId, from, to);
  }

  /** `Store.listsShownTo`: the visitor's lists since `from`, the newest `limit`, oldest first. */
  shownTo(visitor: Subject, from: number, limit: number): ShownList[] {
    const anonymous = 'sessionId' in visitor;
    const key = anonymous ? `s:${visitor.sessionId}` : `u:${visitor.userId}`;
    const rows = this.s.shownTo.all({ visitor: key, from, limit, anonymous: anonymous ? 1 : 0 }) as {
      item_ids: string;
      ts: number;
    }[];
    return rows.reverse().map((r) => ({ itemIds: JSON.parse(r.item_ids) as string[], at: r.ts }));
  }

  /** The session's lists become the user's (inside the merge's write transaction). */
  merge(sessionId: string, userId: string): void {
    const visitor = `s:${sessionId}`;
    this.s.mergeEntries.run({ userId, visitor });
    this.s.mergeRows.run({ userId, visitor });
  }

  /**
   * Deletes the user's lists, the anonymous lists of the sessions they name, and every entry
   * naming one (inside the erasure's write transaction); returns their recommendation ids, and
   * the visitor keys of those sessions.
   */
  erase(userId: string): { lists: string[]; sessions: string[] } {
    const visitor = `u:${userId}`;
    const rows = this.s.lists.all({ visitor }) as { recommendation_id: string; session_id: string | null }[];
    const lists = rows.map((r) => r.recommendation_id);
    const sessions = [...new Set(rows.flatMap((r) => (r.session_id === null ? [] : [`s:${r.session_id}`])))];
    for (const stmt of this.s.eraseSessionEntries) stmt.run({ visitor });
    this.s.eraseRows.run({ visitor });
    this.s.eraseEntries.run({ visitor });
    this.s.eraseRecentEntries.run({ visitor });
    for (const session of sessions) {
      const anonymous = this.s.anonymousLists.all({ visitor: session }) as {
        seq: number;
        recommendation_id: string;
      }[];
      for (const { seq, recommendation_id } of anonymous) {
        for (const stmt of this.s.eraseEntry) stmt.run(session, seq);
        this.s.eraseRow.run(seq);
        lists.push(recommendation_id);
      }
    }
    return { lists, sessions };
  }
}

/** `a` was written after `b`: a later timestamp, or the same one and a later row. */
function newer(a: ImpressionRow, b: ImpressionRow): boolean {
  const [at, bt] = [Number(a.ts), Number(b.ts)];
  return at > bt || (at === bt && Number(a.seq) > Number(b.seq));
}
