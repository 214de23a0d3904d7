import { HsmErrorCodes, HsmError } from './hsm-error.ts';

/**
 * CA keys live in the token under CKA_LABEL (and CKA_ID) "<caName>/<generation>", e.g.
 * "ssh-user-ca/2": rotation keeps several generations side by side and the label is the key id
 * recorded with every certificate.
 */
const CA_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const LABEL = /^([A-Za-z0-9][A-Za-z0-9._-]{0,62})\/([1-9][0-9]{0,9})$/;
const MAX_GENERATION = 2 ** 31 - 1;

export interface KeyLabelParts {
  caName: string;
  generation: number;
}

export function assertCaName(caName: string): void {
  if (!CA_NAME.test(caName)) {
    throw new HsmError(
      HsmErrorCodes.CONFIG_INVALID,
      `CA name "${caName}" is not allowed: use 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit`,
      { details: { caName } },
    );
  }
}

export function keyLabel(caName: string, generation: number): string {
  assertCaName(caName);
  if (!Number.isSafeInteger(generation) || generation < 1 || generation > MAX_GENERATION) {
    throw new HsmError(HsmErrorCodes.CONFIG_INVALID, `key generation ${generation} is not allowed: use an integer from 1 to ${MAX_GENERATION}`, {
      details: { caName, generation },
    });
  }
  return `${caName}/${generation}`;
}

/** Labels that are not jitca CA keys (other applications share tokens) give undefined. */
export function parseKeyLabel(label: string): KeyLabelParts | undefined {
  const match = LABEL.exec(label);
  if (match === null) return undefined;
  const generation = Number(match[2]);
  if (generation > MAX_GENERATION) return undefined;
  return { caName: match[1] ?? '', generation };
}
