import { keyAlgorithmName } from '../src/keys/signer.ts';
import type { KeyManager } from '../src/keys/key-manager.ts';
import type { CaGeneration, CaKind } from '../src/store/types.ts';

/**
 * The generation rows for a CA that has keys but no rows yet: a store from before the keyring
 * (what `jitca init` created then: keys in the token, nothing in the store), or a CA whose first
 * key `init` just made. Until the keyring existed the newest key in the token signed and every
 * key was trusted; the rows say the same: the newest generation active, older ones retiring.
 */
export function generationsFromKeys(ca: CaKind, caName: string, keys: KeyManager, nowIso: string): CaGeneration[] {
  const found = keys.list(caName).sort((a, b) => a.generation - b.generation);
  const newest = found.at(-1)?.generation;
  return found.map((key) => {
    const signer = keys.requireSigner(key);
    const active = key.generation === newest;
    return {
      ca,
      generation: key.generation,
      state: active ? 'active' : 'retiring',
      keyId: key.keyId,
      algorithm: keyAlgorithmName(key.algorithm),
      publicKey: Buffer.from(signer.spki).toString('base64'),
      createdAt: nowIso,
      activatedAt: nowIso,
      ...(active ? {} : { retiringAt: nowIso }),
    };
  });
}
