import { describe, expect, it } from 'vitest';
import { Rp3betaModel } from '../../../../models/baselines/rp3beta.ts';
import { describeModel } from '../describe-model.ts';
import { csrFromCoo } from '../../../../models/sparse.ts';

describe('Rp3betaModel', () => {
  // users: u0 {0, 1}, u1 {0, 1, 2}, u2 {2}. Degrees: items (2, 2, 2), users (2, 3, 1).
  const train = csrFromCoo(
    3,
    3,
    Int32Array.from([0, 0, 1, 1, 1, 2]),
    Int32Array.from([0, 1, 0, 1, 2, 2]),
    Float32Array.from([1, 1, 1, 1, 1, 1]),
  );

  it('computes the item → user → item walk with the popularity penalty', async () => {
    // α = 1, β = 0: W[0][1] = (1/2)(1/2) + (1/2)(1/3) = 5/12; W[0][2] = (1/2)(1/3) = 1/6;
    // W[2][0] = (1/2)(1/3) = 1/6.
    const plain = new Rp3betaModel({ alpha: 1, beta: 0 });
    await plain.fit(train);
    const w = Array.from(plain.weights);
    [0, 5 / 12, 1 / 6, 5 / 12, 0, 1 / 6, 1 / 6, 1 / 6, 0].forEach((v, k) => expect(w[k]).toBeCloseTo(v, 6));
    // β = 1 divides column j by deg(j) = 2.
    const penalised = new Rp3betaModel({ alpha: 1, beta: 1 });
    await penalised.fit(train);
    expect(penalised.weights[1]).toBeCloseTo(5 / 24, 6);
  });

  it('scores the sum of W rows over the user’s items', async () => {
    const model = new Rp3betaModel({ alpha: 1, beta: 0 });
    await model.fit(train);
    const out = new Float32Array(3);
    model.scoreInto(0, Int32Array.from([0, 1]), Float32Array.from([1, 1]), out);
    expect(out[2]).toBeCloseTo(1 / 3, 6);
  });
});

describeModel('Rp3betaModel', () => new Rp3betaModel({ alpha: 0.75, beta: 0.4 }));
