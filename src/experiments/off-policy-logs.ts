/**
 * Logged lists as off-policy rounds (off-policy.ts): every impression served in [from, to) on
 * the tiers where the target configuration was ever served, its reward the clicks attributed to
 * it, its logging propensity the probability recorded with it, and the target's probability 1
 * when the list was served under the target configuration, 0 otherwise (a deterministic target).
 * Read from the store by sequence in pages, so memory holds only the window's lists.
 */
import type { Store } from '../store/types.ts';
import type { LoggedList } from './off-policy.ts';

export interface LoggedRounds {
  rounds: LoggedList[];
  /** Lists of the window on the target's tiers, and of those how many were the target's. */
  lists: number;
  targetLists: number;
  tiers: string[];
  /** Lists served deterministically (propensity 1) under another configuration: they carry no weight. */
  deterministicOthers: number;
}

const PAGE = 10_000;

export async function loggedRounds(
  store: Pick<Store, 'impressionsAfter' | 'attributionsAfter'>,
  o: { config: string; from: number; to: number },
): Promise<LoggedRounds> {
  const clicks = new Map<string, number>();
  for (let after = 0; ;) {
    const page = await store.attributionsAfter(after, PAGE);
    if (!page.length) break;
    for (const a of page)
      if (a.type === 'click') clicks.set(a.recommendationId, (clicks.get(a.recommendationId) ?? 0) + 1);
    after = page[page.length - 1]!.seq;
  }
  const inWindow: { tier: string; config: string; probability: number; recommendationId: string }[] = [];
  const tiers = new Set<string>();
  for (let after = 0; ;) {
    const page = await store.impressionsAfter(after, PAGE);
    if (!page.length) break;
    for (const i of page) {
      if (i.timestamp < o.from || i.timestamp >= o.to) continue;
      inWindow.push(i);
      if (i.config === o.config) tiers.add(i.tier);
    }
    after = page[page.length - 1]!.seq;
  }
  const rounds: LoggedList[] = [];
  let targetLists = 0;
  let deterministicOthers = 0;
  for (const i of inWindow) {
    if (!tiers.has(i.tier)) continue;
    const target = i.config === o.config ? 1 : 0;
    targetLists += target;
    if (!target && i.probability >= 1) deterministicOthers++;
    rounds.push({ reward: clicks.get(i.recommendationId) ?? 0, target, logging: i.probability });
  }
  return { rounds, lists: rounds.length, targetLists, tiers: [...tiers].sort(), deterministicOthers };
}
