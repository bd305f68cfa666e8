/**
 * The experiments service's lifecycle over an in-memory store: unship takes a shipped variant
 * back (stopped, `shipped: null`, stoppedAt kept), saved, audited and published like every step.
 */
import { describe, expect, it } from 'vitest';
import type { Actor } from '../../../src/changes/audit-log.ts';
import { ExperimentService } from '../../../src/experiments/experiment-service.ts';
import type { Change, Experiment } from '../../../src/store/types.ts';

const ADMIN: Actor = { role: 'admin', keyId: 'k1' };

function service() {
  const saved = new Map<string, Experiment>();
  const audit: { action: string; target: string | null; detail: unknown }[] = [];
  const published: (readonly Change[])[] = [];
  let t = 0;
  const svc = new ExperimentService({
    store: {
      saveExperiment: async (e) => void saved.set(e.id, e),
      experiments: async () => [...saved.values()],
      unitTotals: () => Promise.reject(new Error('no readouts here')),
      preExposure: () => Promise.reject(new Error('no readouts here')),
    },
    changes: { publish: async (c) => void published.push(c) },
    audit: { record: async (_actor, action, target, detail) => void audit.push({ action, target, detail }) },
    // Each step one tick later, so a date kept is told from one set again.
    now: () => ++t,
  });
  return { svc, saved, audit, published };
}

describe('experiment lifecycle: unship', () => {
  it('takes a shipped variant back to stopped, keeping when it stopped, audited and published', async () => {
    const { svc, saved, audit, published } = service();
    await svc.create(ADMIN, {
      id: 'x',
      name: 'x',
      tiers: ['homepage'],
      unit: 'user',
      variants: [
        { name: 'control', share: 0.5, config: {} },
        { name: 'b', share: 0.5, config: { modelVersion: 'v1' } },
      ],
    });
    await expect(svc.act(ADMIN, 'x', 'unship')).rejects.toThrow('cannot unship experiment "x": it is draft');
    await svc.act(ADMIN, 'x', 'start');
    await expect(svc.act(ADMIN, 'x', 'unship')).rejects.toThrow(
      'cannot unship experiment "x": it is running',
    );
    const shipped = await svc.act(ADMIN, 'x', 'ship', 'b');
    expect(shipped).toMatchObject({ state: 'shipped', stoppedAt: 3, shipped: { variant: 'b', at: 3 } });

    const back = await svc.act(ADMIN, 'x', 'unship');
    expect(back).toMatchObject({ state: 'stopped', stoppedAt: 3, shipped: null, range: null });
    expect(saved.get('x')).toEqual(back);
    expect(audit.at(-1)).toEqual({
      action: 'experiment.unship',
      target: 'x',
      detail: { state: 'stopped', variant: 'b' },
    });
    expect(published.at(-1)).toEqual([{ kind: 'experiment', id: 'x' }]);
    await expect(svc.act(ADMIN, 'x', 'unship')).rejects.toThrow(
      'cannot unship experiment "x": it is stopped',
    );
    await expect(svc.act(ADMIN, 'nope', 'unship')).rejects.toThrow('experiment "nope" not found');
    // Stopped again, it may be shipped again (another variant, or the same).
    expect(await svc.act(ADMIN, 'x', 'ship', 'control')).toMatchObject({
      state: 'shipped',
      stoppedAt: 3,
      shipped: { variant: 'control' },
    });
  });
});
