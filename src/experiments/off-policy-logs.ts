/**
 * Logged lists as off-policy rounds (off-policy.ts): every impression served in [from, to) on
 * the tiers where the target configuration was ever served, but those served for certain under
 * another configuration (no chance of the target), its reward the clicks attributed to it. Read
 * from the store by sequence in pages, so memory holds only the window's lists.
 *
 * - List level: when the list logged its arms position by position (`positions`), the target's
 *   probability is 1 when the target arm would have shown the very same list, and the logging
 *   propensity sums the chances of every arm that would have; otherwise the target's probability
 *   is 1 when the list was served under the target configuration (a deterministic target) and
 *   the propensity is the one recorded with it.
 * - Item-position: only lists whose arms include the target; per position, the target's
 *   probability is 1 when it would have shown the item there, the logging propensity the chances
 *   of the arms that would have, summed, and the reward the clicks attributed at that position.
 */
import type { PositionLog, Store } from '../store/types.ts';
import type { LoggedList, LoggedPosition } from './off-policy.ts';

export interface LoggedRounds {
  rounds: LoggedList[];
  /** Lists of the window on the target's tiers that it could have been served on; how many were its. */
  lists: number;
  targetLists: number;
  tiers: string[];
  /** Lists served for certain (propensity 1) under another configuration: left out of the rounds. */
  deterministicOthers: number;
  /** The item-position estimator's rounds: the lists that logged the target among their arms. */
  positions: LoggedPosition[][];
}

const PAGE = 10_000;

/** A list's clicks, from its clicks by position. */
function clicksOf(clicksAt: readonly (number | undefined)[]): number {
  let sum = 0;
  for (const c of clicksAt) sum += c ?? 0;
  return sum;
}

/** The chances of the arms whose bits `mask` sets. */
function chanceOf(p: PositionLog, mask: number): number {
  let sum = 0;
  for (let a = 0; a < p.arms.length; a++) if (mask & (1 << a)) sum += p.probabilities[a]!;
  return sum;
}

/**
 * One list that logged its arms (`p`) as rounds for target arm `arm`, its clicks by position
 * `clicksAt`: the list-level round (the arms set at every position would have shown the whole
 * list) and the item-position rounds.
 */
export function armRounds(
  p: PositionLog,
  arm: number,
  clicksAt: readonly (number | undefined)[],
): { list: LoggedList; positions: LoggedPosition[] } {
  const bit = 1 << arm;
  const whole = p.masks.reduce((m, x) => m & x, (1 << p.arms.length) - 1);
  return {
    list: { reward: clicksOf(clicksAt), target: whole & bit ? 1 : 0, logging: chanceOf(p, whole) },
    positions: p.masks.map((mask, k) => ({
      reward: clicksAt[k] ?? 0,
      target: mask & bit ? 1 : 0,
      logging: chanceOf(p, mask),
    })),
  };
}

export async function loggedRounds(
  store: Pick<Store, 'impressionsAfter' | 'attributionsAfter'>,
  o: { config: string; from: number; to: number },
): Promise<LoggedRounds> {
  // Clicks per list, by position.
  const clicks = new Map<string, number[]>();
  for (let after = 0; ;) {
    const page = await store.attributionsAfter(after, PAGE);
    if (!page.length) break;
    for (const a of page) {
      if (a.type !== 'click') continue;
      let at = clicks.get(a.recommendationId);
      if (!at) clicks.set(a.recommendationId, (at = []));
      at[a.position] = (at[a.position] ?? 0) + 1;
    }
    after = page[page.length - 1]!.seq;
  }
  const inWindow: {
    tier: string;
    config: string;
    probability: number;
    recommendationId: string;
    positions?: PositionLog;
  }[] = [];
  const tiers = new Set<string>();
  for (let after = 0; ;) {
    const page = await store.impressionsAfter(after, PAGE);
    if (!page.length) break;
    for (const i of page) {
      if (i.timestamp < o.from || i.timestamp >= o.to) continue;
      inWindow.push(i);
      if (i.config === o.config || i.positions?.arms.includes(o.config)) tiers.add(i.tier);
    }
    after = page[page.length - 1]!.seq;
  }
  const rounds: LoggedList[] = [];
  const positions: LoggedPosition[][] = [];
  let targetLists = 0;
  let deterministicOthers = 0;
  for (const i of inWindow) {
    if (!tiers.has(i.tier)) continue;
    const at = clicks.get(i.recommendationId) ?? [];
    const p = i.positions;
    const arm = p ? p.arms.indexOf(o.config) : -1;
    if (p && arm >= 0) {
      const r = armRounds(p, arm, at);
      targetLists += r.list.target;
      rounds.push(r.list);
      positions.push(r.positions);
      continue;
    }
    const target = i.config === o.config ? 1 : 0;
    // Served for certain under another configuration (an experiment's variant, the tier before
    // it was adaptive): the target had no chance there, so its clicks on them are unknown, not
    // 0. Counted as 0 rounds they pulled IPS down by their share (session 42's trial: 0.21 with
    // the arm's own click rate 0.35 outside the interval); left out, IPS estimates over the lists
    // the target could have been served on.
    if (!target && i.probability >= 1) {
      deterministicOthers++;
      continue;
    }
    targetLists += target;
    rounds.push({ reward: clicksOf(at), target, logging: i.probability });
  }
  return {
    rounds,
    lists: rounds.length,
    targetLists,
    tiers: [...tiers].sort(),
    deterministicOthers,
    positions,
  };
}
