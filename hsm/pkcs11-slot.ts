import type { Handle, PKCS11 } from 'pkcs11js';
import { tokenNotFoundError } from './pkcs11-errors.ts';

/**
 * The slot whose token carries `tokenLabel` (CK_TOKEN_INFO.label is blank-padded to 32 bytes).
 * Slots whose token cannot be read are skipped: that is how SoftHSM2 shows a vanished token.
 */
export function findTokenSlot(api: PKCS11, tokenLabel: string, modulePath: string): Handle {
  const present: string[] = [];
  for (const slot of api.C_GetSlotList(true)) {
    let label: string;
    try {
      label = normalizeTokenLabel(api.C_GetTokenInfo(slot).label);
    } catch {
      continue;
    }
    if (label === tokenLabel) return slot;
    if (label !== '') present.push(label);
  }
  throw tokenNotFoundError(tokenLabel, modulePath, present);
}

/** Blank padding per PKCS#11; NULs too, as tokens labelled through unpadded C_InitToken calls carry them. */
export function normalizeTokenLabel(label: string): string {
  return label.replace(/[\0 ]+$/, '');
}
