import type { KeyAlgorithmName } from '../../src/keys/signer.ts';
import type { CaFixture } from './ca-fixture.ts';

/** Adds the CA's next SSH user generation as the rotation engine will: a key, then its row. */
export async function addNextSshGeneration(ca: CaFixture, generation: number, algorithm: KeyAlgorithmName = 'ed25519'): Promise<void> {
  const key = algorithm === 'ed25519' ? ({ kind: 'ed25519' } as const) : ({ kind: 'ecdsa', curve: 'P-256' } as const);
  const signer = await ca.runtime.keys.createKey({ caName: ca.config.ssh.caName, generation }, key);
  await ca.runtime.store.recordCaGenerations({
    generations: [
      {
        ca: 'ssh-user',
        generation,
        state: 'next',
        keyId: signer.keyId,
        algorithm,
        publicKey: Buffer.from(signer.spki).toString('base64'),
        createdAt: new Date().toISOString(),
      },
    ],
    event: { type: 'ca.generations', actor: 'test', data: { next: signer.keyId } },
  });
  await ca.runtime.keyring.refresh();
}

/** Moves SSH user generations to the given states (a promotion, as the rotation engine will record it). */
export async function setSshGenerationStates(ca: CaFixture, states: Record<number, 'next' | 'active' | 'retiring' | 'retired'>): Promise<void> {
  const now = new Date().toISOString();
  const rows = (await ca.runtime.store.listCaGenerations()).filter((row) => row.ca === 'ssh-user' && states[row.generation] !== undefined);
  await ca.runtime.store.recordCaGenerations({
    generations: rows.map((row) => {
      const state = states[row.generation] as (typeof row)['state'];
      return { ...row, state, ...(state === 'active' ? { activatedAt: now } : {}), ...(state === 'retiring' ? { retiringAt: now } : {}) };
    }),
    event: { type: 'ca.generations', actor: 'test', data: { states } },
  });
  await ca.runtime.keyring.refresh();
}
