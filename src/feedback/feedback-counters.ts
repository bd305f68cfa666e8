/**
 * Live counts by tier for Prometheus (`/metrics`): lists recorded and shed, attributed clicks,
 * purchases and revenue. Plain numbers here; src/api/metrics.ts exposes them, so feedback code
 * never imports the API.
 */
import type { Attribution } from '../store/types.ts';

export interface TierCounts {
  impressions: number;
  clicks: number;
  purchases: number;
  /** Attributed purchase revenue (gross: a counter never goes down). */
  revenue: number;
  /** Revenue taken back by attributed returns. */
  returnedRevenue: number;
}

export class FeedbackCounters {
  readonly byTier = new Map<string, TierCounts>();
  /** Impressions shed by the recorder (buffer full or store failing). */
  dropped = 0;

  private tier(tier: string): TierCounts {
    let c = this.byTier.get(tier);
    if (!c) {
      c = { impressions: 0, clicks: 0, purchases: 0, revenue: 0, returnedRevenue: 0 };
      this.byTier.set(tier, c);
    }
    return c;
  }

  impression(tier: string): void {
    this.tier(tier).impressions++;
  }

  attributed(a: Attribution): void {
    const c = this.tier(a.tier);
    if (a.type === 'click') c.clicks++;
    else if (a.type === 'purchase') {
      c.purchases++;
      c.revenue += a.revenue;
    } else if (a.type === 'return') c.returnedRevenue -= a.revenue;
  }
}
