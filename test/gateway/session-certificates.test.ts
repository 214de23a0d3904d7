import { chmodSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isJitcaError } from '../../src/errors.ts';
import { readSessionCertificate, storeSessionCertificate } from '../../src/gateway/session-certificates.ts';
import { buildUserCertificate, parseCertificate, type ParsedSshCertificate } from '../../src/ssh/certificate.ts';
import { parseSshPublicKey } from '../../src/ssh/public-key.ts';
import { createMemorySigner } from '../support/memory-signer.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

/** The rule a refusal names (details.rule), or a telling text for anything else. */
function ruleOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    return isJitcaError(error, 'ERR_GATEWAY_REFUSED') ? String(error.details?.['rule']) : `not a refusal: ${String(error)}`;
  }
  return 'accepted';
}

describe('the certificate hand-over from the principals command to the session', () => {
  let key: TempSshKey;
  let directory: string;
  const certificates: ParsedSshCertificate[] = [];

  beforeAll(async () => {
    key = createTempSshKey('jitca-session-store-');
    directory = mkdtempSync(path.join(tmpdir(), 'jitca-session-certs-'));
    chmodSync(directory, 0o755);
    const ca = createMemorySigner({ kind: 'ed25519' }, 'jitca-ssh-user/1');
    for (const serial of [7n, 8n]) {
      const issued = await buildUserCertificate(
        { subject: parseSshPublicKey(key.publicKey), serial, keyId: 'alice', principals: ['p'], validAfter: 0n, validBefore: 4_000_000_000n, extensions: [] },
        ca,
      );
      certificates.push(parseCertificate(issued.line));
    }
  });
  afterAll(() => {
    key?.cleanup();
    rmSync(directory, { recursive: true, force: true });
  });

  it('reads back, by serial, exactly the certificate the principals command stored', () => {
    storeSessionCertificate(directory, certificates[0]!);
    expect(Buffer.from(readSessionCertificate(directory, '7').blob).equals(Buffer.from(certificates[0]!.blob))).toBe(true);
  });

  it('refuses a missing certificate, a malformed serial, and a file that names another serial', () => {
    expect(ruleOf(() => readSessionCertificate(directory, '9'))).toBe('certificate-missing');
    expect(ruleOf(() => readSessionCertificate(directory, '../7'))).toBe('serial');
    storeSessionCertificate(directory, certificates[1]!);
    renameSync(path.join(directory, '8.cert'), path.join(directory, '10.cert'));
    expect(ruleOf(() => readSessionCertificate(directory, '10'))).toBe('sshd-mismatch');
  });

  it('refuses a store that group or others could write', () => {
    chmodSync(directory, 0o777);
    try {
      expect(ruleOf(() => readSessionCertificate(directory, '7'))).toBe('certificate-store');
    } finally {
      chmodSync(directory, 0o755);
    }
    chmodSync(path.join(directory, '7.cert'), 0o666);
    expect(ruleOf(() => readSessionCertificate(directory, '7'))).toBe('certificate-store');
  });
});
