/** A policy with roles that require enrolled and FIDO-attested keys, and what the tests of them share. */
import { execFileSync } from 'node:child_process';
import type { AttestationFacts } from '../../src/attestation/attestation-facts.ts';
import { noAttestationVerifier, type AttestationVerifier } from '../../src/enrollment/attestation-verifier.ts';
import { ENROLLMENT_NAMESPACE } from '../../src/enrollment/possession-proof.ts';
import { formatAuthorizedKeysLine, parseSshPublicKey } from '../../src/ssh/public-key.ts';
import { SshWriter } from '../../src/ssh/wire.ts';
import { testPolicy } from './ca-fixture.ts';

/** The evidence fidoFactsVerifier accepts. */
export const TEST_FIDO_EVIDENCE = 'dmVyaWZpZWQ=';

export const enrollmentPolicy = {
  ...testPolicy,
  keyAdminGroups: ['sre-leads'],
  roles: [
    ...testPolicy.roles,
    { name: 'enrolled-only', groups: ['sre'], principals: ['db'], maxTtlSeconds: 600, scope: { clusters: ['prod'], namespaces: ['payments'] }, approval: { mode: 'auto' }, key: { enrolled: true } },
    {
      name: 'fido-uv',
      groups: ['sre'],
      principals: ['db'],
      maxTtlSeconds: 600,
      scope: { clusters: ['prod'], namespaces: ['payments'] },
      approval: { mode: 'auto' },
      key: { attested: 'fido', userVerification: true },
    },
  ],
};

/** An sk-ssh-ed25519 public key over a real Ed25519 point (no FIDO device here). */
export function skKeyLine(ed25519Line: string): string {
  const key = parseSshPublicKey(ed25519Line);
  const point = key.blob.subarray(key.blob.length - 32);
  const blob = new SshWriter().writeString('sk-ssh-ed25519@openssh.com').writeString(point).writeString('ssh:').toBytes();
  return formatAuthorizedKeysLine({ type: 'sk-ssh-ed25519@openssh.com', blob });
}

/**
 * Stands in for the FIDO verifier (built separately) where these tests exercise enrollment and
 * policy: it answers the facts a verified ssh-sk-attest-v01 blob with the UV flag decodes to.
 */
export const fidoFactsVerifier: AttestationVerifier = {
  verify(evidence, publicKey): AttestationFacts {
    if (evidence.kind !== 'fido' || evidence.attestation !== TEST_FIDO_EVIDENCE) return noAttestationVerifier.verify(evidence, publicKey, new Uint8Array());
    return { kind: 'fido', attested: true, root: 'CN=Yubico U2F Root CA Serial 457200631', flags: { up: true, uv: true }, publicKey: formatAuthorizedKeysLine(publicKey) };
  },
};


/** The possession signature over challenge `id`'s bytes, as the real `ssh-keygen -Y sign` makes it with the private key file. */
export function possessionSignature(privateKeyFile: string, id: string, namespace = ENROLLMENT_NAMESPACE): string {
  return execFileSync('ssh-keygen', ['-q', '-Y', 'sign', '-n', namespace, '-f', privateKeyFile], { input: Buffer.from(id, 'base64url'), encoding: 'utf8' });
}
