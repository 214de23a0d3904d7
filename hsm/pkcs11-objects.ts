import type { Handle, PKCS11, Template } from 'pkcs11js';

/**
 * C_FindObjectsInit / C_FindObjects / C_FindObjectsFinal as one call. Final always runs: a find
 * left open makes every later operation on the session fail with CKR_OPERATION_ACTIVE.
 */
export function findObjects(api: PKCS11, session: Handle, template: Template): Handle[] {
  api.C_FindObjectsInit(session, template);
  try {
    const found: Handle[] = [];
    for (;;) {
      const batch = api.C_FindObjects(session, 64);
      if (batch.length === 0) return found;
      found.push(...batch);
    }
  } finally {
    try {
      api.C_FindObjectsFinal(session);
    } catch {
      // The find failed already (that error is the one thrown); nothing more to clean up.
    }
  }
}

/** One attribute's raw bytes. */
export function readAttribute(api: PKCS11, session: Handle, object: Handle, type: number): Buffer {
  const [result] = api.C_GetAttributeValue(session, object, [{ type }]);
  if (result === undefined) throw new Error(`C_GetAttributeValue returned no value for attribute 0x${type.toString(16)}`);
  return result.value;
}

/** A CK_ULONG attribute (CKA_KEY_TYPE, CKA_CLASS): native-endian, 8 bytes on LP64 systems. */
export function readUlongAttribute(api: PKCS11, session: Handle, object: Handle, type: number): number {
  const bytes = readAttribute(api, session, object, type);
  if (bytes.length === 8) return Number(bytes.readBigUInt64LE(0));
  if (bytes.length === 4) return bytes.readUInt32LE(0);
  throw new Error(`CK_ULONG attribute 0x${type.toString(16)} has ${bytes.length} bytes`);
}

export function readUtf8Attribute(api: PKCS11, session: Handle, object: Handle, type: number): string {
  return readAttribute(api, session, object, type).toString('utf8');
}
