/**
 * The experiments service's lifecycle over an in-memory store: unship takes a shipped variant
 * back (stopped, `shipped: null`, stoppedAt kept), saved, audited and published like every step.
 */
import { describe, expect, it } from 'vitest';
import type { Actor } from '../../../src/changes/audit-log.ts';
import { ExperimentService } from '../../../src/experiments/experiment-service.ts';
import type { Change, Experiment } from '../../../src/store/types.ts';

const ADMIN: Actor = { role: 'admin', keyId: 'k1' };

/** A control and a variant `b` on `tier`, `b` served from `version` when one is named. */
const twoArms = (id: string, tier: 'homepage' | 'similar' | 'cart' = 'homepage', version?: string) => ({
  id,
  name: id,
  tiers: [tier],
  unit: 'user' as const,
  variants: [
    { name: 'control', share: 0.5, config: {} },
    { name: 'b', share: 0.5, config: version === undefined ? {} : { modelVersion: version } },
  ],
});

function service(current: string | null = null, versions?: () => Promise<string[]>) {
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
    currentVersion: async () => current,
    ...(versions ? { versions } : {}),
    // Each step one tick later, so a date kept is told from one set again.
    now: () => ++t,
  });
  return { svc, saved, audit, published };
}

describe('experiment lifecycle: unship', () => {
  it('takes a shipped variant back to stopped, keeping when it stopped, audited and published', async () => {
    const { svc, saved, audit, published } = service();
    await svc.create(ADMIN, twoArms('x', 'homepage', 'v1'));
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

describe('experiment lifecycle: ship', () => {
  it('refuses an unknown variant naming the field and the variants (a 400 with details)', async () => {
    const { svc } = service();
    await svc.create(ADMIN, twoArms('x'));
    await svc.act(ADMIN, 'x', 'start');
    await expect(svc.act(ADMIN, 'x', 'ship', 'zz')).rejects.toMatchObject({
      statusCode: 400,
      details: [{ field: 'body/variant', reason: 'must name a variant of "x": one of control, b' }],
    });
  });
});

describe('experiment lifecycle: ship a stopped experiment', () => {
  it('refuses a variant whose model version was removed since it stopped, naming it (a 409)', async () => {
    const registered = ['v1'];
    const { svc } = service(null, async () => [...registered]);
    await svc.create(ADMIN, twoArms('x', 'homepage', 'v1'));
    await svc.act(ADMIN, 'x', 'start');
    await svc.act(ADMIN, 'x', 'stop');
    registered.pop(); // a train's retention removed it: stopped experiments keep none
    await expect(svc.act(ADMIN, 'x', 'ship', 'b')).rejects.toMatchObject({
      statusCode: 409,
      message:
        'cannot ship variant "b" of experiment "x": its model version v1 is no longer in the models dir (removed after the experiment stopped)',
    });
    expect(await svc.act(ADMIN, 'x', 'ship', 'control')).toMatchObject({ state: 'shipped' });
  });
});

describe('experiment start: model versions held beside the current one', () => {
  it('refuses a start that would need a third version, naming the experiments holding the others', async () => {
    const { svc, saved } = service('v0');
    await svc.create(ADMIN, twoArms('one', 'homepage', 'v1'));
    await svc.create(ADMIN, twoArms('two', 'similar', 'v2'));
    await svc.create(ADMIN, twoArms('three', 'cart', 'v3'));
    await svc.act(ADMIN, 'one', 'start');
    await svc.act(ADMIN, 'two', 'start');
    await expect(svc.act(ADMIN, 'three', 'start')).rejects.toThrow(
      'cannot start experiment "three": it would make 3 model versions served beside the current one, ' +
        'and a replica holds 2; stop or unship one of "one" (v1), "two" (v2) first',
    );
    expect(saved.get('three')!.state).toBe('draft');
    // A paused experiment still holds its version; a stopped one lets it go.
    await svc.act(ADMIN, 'two', 'pause');
    await expect(svc.act(ADMIN, 'three', 'start')).rejects.toThrow('it would make 3 model versions');
    await svc.act(ADMIN, 'two', 'stop');
    expect(await svc.act(ADMIN, 'three', 'start')).toMatchObject({ state: 'running' });
  });

  it('counts neither the current version nor one already held', async () => {
    const { svc } = service('v0');
    await svc.create(ADMIN, twoArms('one', 'homepage', 'v1'));
    await svc.create(ADMIN, twoArms('two', 'similar', 'v2'));
    await svc.create(ADMIN, twoArms('same', 'cart', 'v1'));
    await svc.create(ADMIN, { ...twoArms('current', 'cart', 'v0'), tiers: ['category'] });
    for (const id of ['one', 'two', 'same', 'current'])
      expect(await svc.act(ADMIN, id, 'start')).toMatchObject({ state: 'running' });
  });

  it('refuses one experiment whose own variants name three versions', async () => {
    const { svc } = service('v0');
    await svc.create(ADMIN, {
      ...twoArms('wide', 'homepage', 'v1'),
      variants: ['v1', 'v2', 'v3'].map((v, i) => ({
        name: `n${i}`,
        share: i ? 0.3 : 0.4,
        config: { modelVersion: v },
      })),
    });
    await expect(svc.act(ADMIN, 'wide', 'start')).rejects.toThrow(
      /^cannot start experiment "wide": it would make 3 model versions served beside the current one, and a replica holds 2$/,
    );
  });
});
