import type { KeyObject } from 'node:crypto';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { fromBackendError, mapBackendErrors } from './backend-errors.ts';
import type { KeyAlgorithm, Signer } from './signer.ts';

/**
 * The key-manager seam (after smallstep's kms/apiv1.KeyManager): CA keys live in named slots,
 * "<caName>/<generation>", inside whatever backend the composition root chose (src/ca-runtime.ts;
 * today PKCS#11 in hsm/). Above this line nobody knows the backend: errors arrive as jitca codes
 * (backend-errors.ts) and signatures in the one form per algorithm that signer.ts documents.
 */
export interface KeySlot {
  caName: string;
  generation: number;
}

export interface KeyInfo extends KeySlot {
  algorithm: KeyAlgorithm;
  /** "<caName>/<generation>": the slot's name in the backend and Signer.keyId. */
  keyId: string;
}

export interface KeyManager {
  /** Generates a key pair in the backend (never outside it). A taken slot is ERR_HSM_KEY_EXISTS. */
  createKey(slot: KeySlot, algorithm: KeyAlgorithm): Promise<Signer>;
  /** The public key in a slot, undefined when the slot is empty. */
  publicKey(slot: KeySlot): KeyObject | undefined;
  /** The signer for a slot, undefined when the slot is empty. */
  signer(slot: KeySlot): Signer | undefined;
  /** Like signer(), but an empty slot is ERR_HSM_KEY_NOT_FOUND. */
  requireSigner(slot: KeySlot): Signer;
  /** CA keys in the backend, by CA name then generation. */
  list(caName?: string): KeyInfo[];
  /** Destroys the key in a slot (a retired generation). An empty slot is ERR_HSM_KEY_NOT_FOUND. */
  destroy(slot: KeySlot): void;
  close(): void;
}

/** What a backend offers; hsm/pkcs11-token.ts's Pkcs11Token has this shape. */
export interface KeyBackend {
  generateKey(caName: string, generation: number, algorithm: KeyAlgorithm): Promise<Signer>;
  findSigner(caName: string, generation: number): Signer | undefined;
  listKeys(caName?: string): KeyInfo[];
  destroyKey(caName: string, generation: number): void;
  close(): void;
}

export function keyIdOf(slot: KeySlot): string {
  return `${slot.caName}/${slot.generation}`;
}

/** The seam over one backend: every call, and every signature, reports failures in jitca's codes. */
export function createKeyManager(backend: KeyBackend): KeyManager {
  const signer = (slot: KeySlot): Signer | undefined => {
    const found = mapBackendErrors(() => backend.findSigner(slot.caName, slot.generation));
    return found === undefined ? undefined : seamSigner(found);
  };
  return {
    async createKey(slot, algorithm) {
      try {
        return seamSigner(await backend.generateKey(slot.caName, slot.generation, algorithm));
      } catch (error) {
        throw fromBackendError(error);
      }
    },
    publicKey: (slot) => signer(slot)?.publicKey,
    signer,
    requireSigner(slot) {
      const found = signer(slot);
      if (found === undefined) {
        throw new JitcaError(ErrorCodes.HSM_KEY_NOT_FOUND, `key ${keyIdOf(slot)} is not in the key store`, { details: { keyId: keyIdOf(slot) } });
      }
      return found;
    },
    list: (caName) => mapBackendErrors(() => backend.listKeys(caName)),
    destroy: (slot) => mapBackendErrors(() => backend.destroyKey(slot.caName, slot.generation)),
    close: () => backend.close(),
  };
}

function seamSigner(backendSigner: Signer): Signer {
  return {
    keyId: backendSigner.keyId,
    algorithm: backendSigner.algorithm,
    publicKey: backendSigner.publicKey,
    spki: backendSigner.spki,
    sign: (data, options) => backendSigner.sign(data, options).catch((error: unknown) => Promise.reject(fromBackendError(error))),
    // The same arrays cross the seam, so the backend's word on them holds.
    checkedSignature: (signature) => backendSigner.checkedSignature?.(signature) ?? false,
  };
}
