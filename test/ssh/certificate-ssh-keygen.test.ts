import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyAlgorithm, Signer } from '../../src/keys/signer.ts';
import { buildUserCertificate, parseCertificate, type UserCertificateParams } from '../../src/ssh/certificate.ts';
import { parseSshPublicKey, sshPublicKeyFromKeyObject, type SshPublicKey } from '../../src/ssh/public-key.ts';
import { SshWriter } from '../../src/ssh/wire.ts';
import { createMemorySigner } from '../support/memory-signer.ts';
import { makeTempDir, sections, sh, sshKeygenTime } from './ssh-keygen.ts';

/**
 * Interoperability with real OpenSSH: every certificate jitca builds (4 CA key types x 6 subject
 * key types) must be accepted by `ssh-keygen -L`, which also verifies the CA signature when it
 * loads a certificate (sshkey.c cert_parse), and show exactly the fields we asked for. And the
 * other way round: certificates signed by `ssh-keygen -s` parse and verify here.
 */

const CAS: Record<string, { algorithm: KeyAlgorithm; label: string; sigAlg: string }> = {
  ed25519: { algorithm: { kind: 'ed25519' }, label: 'ED25519', sigAlg: 'ssh-ed25519' },
  p256: { algorithm: { kind: 'ecdsa', curve: 'P-256' }, label: 'ECDSA', sigAlg: 'ecdsa-sha2-nistp256' },
  p384: { algorithm: { kind: 'ecdsa', curve: 'P-384' }, label: 'ECDSA', sigAlg: 'ecdsa-sha2-nistp384' },
  rsa3072: { algorithm: { kind: 'rsa', bits: 3072 }, label: 'RSA', sigAlg: 'rsa-sha2-512' },
};

/** Subject key name -> label ssh-keygen prints for the certified key ("<label>-CERT"). */
const SUBJECTS: Record<string, string> = {
  ed25519: 'ED25519',
  ecdsa256: 'ECDSA',
  ecdsa384: 'ECDSA',
  rsa2048: 'RSA',
  sked25519: 'ED25519-SK',
  skecdsa: 'ECDSA-SK',
};

const VALID_AFTER = 1_900_000_000n; // 2030-03-17T17:46:40Z
const VALID_BEFORE = VALID_AFTER + 3600n;

interface Combo {
  name: string;
  ca: string;
  subject: string;
  params: UserCertificateParams;
  certType: string;
  caFingerprint: string;
}

let temp: { dir: string; cleanup: () => void };
const combos: Combo[] = [];
const listings = new Map<string, string>();
const subjects = new Map<string, SshPublicKey>();
let flipped = { parsedValid: true, listing: '' };
const crossSigned = new Map<string, { cert: string; caPub: string; userPub: string; signedAt: bigint }>();

function skEcdsaLine(): string {
  const jwk = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'jwk' });
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x ?? '', 'base64url'), Buffer.from(jwk.y ?? '', 'base64url')]);
  const blob = new SshWriter()
    .writeString('sk-ecdsa-sha2-nistp256@openssh.com')
    .writeString('nistp256')
    .writeString(point)
    .writeString('ssh:')
    .toBytes();
  return `sk-ecdsa-sha2-nistp256@openssh.com ${Buffer.from(blob).toString('base64')} skecdsa@test`;
}

function paramsFor(subject: SshPublicKey, index: number): UserCertificateParams {
  return {
    subject,
    serial: 1000n + BigInt(index),
    keyId: `alice@example.com combo-${index}`,
    principals: ['alice', `oncall-${index}`],
    validAfter: VALID_AFTER,
    validBefore: VALID_BEFORE + BigInt(index),
    criticalOptions: {
      forceCommand: '/usr/local/bin/jitca-shell --scope payments',
      sourceAddresses: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7'],
      verifyRequired: true,
    },
    extensions: ['permit-pty', 'permit-port-forwarding', 'approved@jitca.dev'],
    customExtensions: { 'scope-cluster@jitca.dev': 'prod-eu-1', 'scope-namespace@jitca.dev': `payments-${index}` },
  };
}

beforeAll(async () => {
  temp = makeTempDir('cert-keygen');
  const dir = temp.dir;
  writeFileSync(join(dir, 'sked25519.pub'), readFileSync('/work/shared/testdata/ssh-sk-ed25519-yk5nfc-A.pub'));
  writeFileSync(join(dir, 'skecdsa.pub'), `${skEcdsaLine()}\n`);
  const signers: [string, Signer][] = Object.entries(CAS).map(([name, { algorithm }]) => [name, createMemorySigner(algorithm, `${name}/1`)]);

  // Phase 1 (one shell): subject keys, plus OpenSSH CAs that sign with `ssh-keygen -s` for the
  // reverse check.
  const phase1 = await sh(
    `ssh-keygen -q -t ed25519 -N '' -C ed25519@test -f ed25519 &
ssh-keygen -q -t ecdsa -b 256 -N '' -C ecdsa256@test -f ecdsa256 &
ssh-keygen -q -t ecdsa -b 384 -N '' -C ecdsa384@test -f ecdsa384 &
ssh-keygen -q -t rsa -b 2048 -N '' -C rsa2048@test -f rsa2048 &
ssh-keygen -q -t ed25519 -N '' -f ca_ed25519 &
ssh-keygen -q -t ecdsa -b 384 -N '' -f ca_p384 &
ssh-keygen -q -t rsa -b 3072 -N '' -f ca_rsa &
wait
for ca in ca_ed25519 ca_p384 ca_rsa; do
  cp ed25519.pub user_$ca.pub
  date +%s > signed_at_$ca
  ssh-keygen -q -s $ca -I "cross-$ca" -n alice,bob -V +5m -z 4242 -O source-address=198.51.100.0/24 -O force-command=uptime -O extension:note@example.com=hello user_$ca.pub
done
for f in *.pub signed_at_*; do echo "==$f=="; cat "$f"; done`,
    dir,
  );
  const files = sections(phase1);
  for (const name of Object.keys(SUBJECTS)) subjects.set(name, parseSshPublicKey(files.get(`${name}.pub`) ?? ''));
  for (const ca of ['ca_ed25519', 'ca_p384', 'ca_rsa']) {
    crossSigned.set(ca, {
      cert: files.get(`user_${ca}-cert.pub`) ?? '',
      caPub: files.get(`${ca}.pub`) ?? '',
      userPub: files.get('ed25519.pub') ?? '',
      signedAt: BigInt((files.get(`signed_at_${ca}`) ?? '0').trim()),
    });
  }

  // Phase 2: build all 24 certificates and list each with ssh-keygen -L in one shell.
  let index = 0;
  for (const [caName, signer] of signers) {
    const caFingerprint = sshPublicKeyFromKeyObject(signer.publicKey).fingerprint;
    for (const subjectName of Object.keys(SUBJECTS)) {
      const subject = subjects.get(subjectName);
      if (subject === undefined) throw new Error(`subject ${subjectName} missing`);
      const params = paramsFor(subject, index);
      const issued = await buildUserCertificate(params, signer);
      const name = `${caName}-${subjectName}`;
      writeFileSync(join(dir, `${name}-cert.pub`), `${issued.line}\n`);
      combos.push({ name, ca: caName, subject: subjectName, params, certType: issued.type, caFingerprint });
      if (name === 'p256-ed25519') {
        const tampered = issued.blob.slice();
        tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 0x01;
        writeFileSync(join(dir, 'flipped-cert.pub'), `${issued.type} ${Buffer.from(tampered).toString('base64')}\n`);
        flipped = { parsedValid: parseCertificate(tampered).signatureValid, listing: '' };
      }
      index++;
    }
  }
  const phase2 = await sh(
    `for f in *-cert.pub; do case "$f" in user_*) continue;; esac; echo "==$f=="; ssh-keygen -L -f "$f" 2>&1 || echo "EXIT $?"; done`,
    dir,
  );
  for (const [file, listing] of sections(phase2)) listings.set(file.replace(/-cert\.pub$/, ''), listing);
  flipped.listing = listings.get('flipped') ?? '';
}, 60_000);

afterAll(() => temp?.cleanup());

interface Listing {
  type?: string;
  publicKey?: string;
  signingCa?: string;
  keyId?: string;
  serial?: string;
  valid?: string;
  principals: string[];
  critical: string[];
  extensions: string[];
}

/** Structure of `ssh-keygen -L` output (ssh-keygen.c do_show_cert). */
function parseListing(text: string): Listing {
  const result: Listing = { principals: [], critical: [], extensions: [] };
  let list: string[] | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const field = /^([A-Za-z ]+): ?(.*)$/.exec(line);
    if (raw.startsWith('        ') && !raw.startsWith('                ') && field !== null) {
      const [, key = '', value = ''] = field;
      list = undefined;
      if (key === 'Type') result.type = value;
      else if (key === 'Public key') result.publicKey = value;
      else if (key === 'Signing CA') result.signingCa = value;
      else if (key === 'Key ID') result.keyId = value;
      else if (key === 'Serial') result.serial = value;
      else if (key === 'Valid') result.valid = value;
      else if (key === 'Principals') list = result.principals;
      else if (key === 'Critical Options') list = value === '(none)' ? undefined : result.critical;
      else if (key === 'Extensions') list = value === '(none)' ? undefined : result.extensions;
    } else if (raw.startsWith('                ') && list !== undefined) {
      list.push(line);
    }
  }
  return result;
}

function stringHex(value: string): string {
  return Buffer.from(new SshWriter().writeString(value).toBytes()).toString('hex');
}

describe('ssh-keygen -L accepts every certificate jitca builds', () => {
  it('built all 24 CA x subject combinations', () => {
    expect(combos).toHaveLength(24);
  });

  it.each(Object.keys(CAS).flatMap((ca) => Object.keys(SUBJECTS).map((subject) => `${ca}-${subject}`)))('%s', (name) => {
    const combo = combos.find((c) => c.name === name);
    if (combo === undefined) throw new Error(`combo ${name} was not built`);
    const listing = listings.get(name) ?? '';
    expect(listing).not.toMatch(/EXIT|invalid|error/i);
    const shown = parseListing(listing);
    const { params } = combo;
    const ca = CAS[combo.ca];
    expect(shown.type).toBe(`${combo.certType} user certificate`);
    expect(shown.publicKey).toBe(`${SUBJECTS[combo.subject]}-CERT ${params.subject.fingerprint}`);
    expect(shown.signingCa).toBe(`${ca?.label} ${combo.caFingerprint} (using ${ca?.sigAlg})`);
    expect(shown.keyId).toBe(`"${params.keyId}"`);
    expect(shown.serial).toBe(String(params.serial));
    expect(shown.valid).toBe(`from ${sshKeygenTime(params.validAfter)} to ${sshKeygenTime(params.validBefore)}`);
    expect(shown.principals).toEqual(params.principals);
    expect(shown.critical).toEqual([
      'force-command /usr/local/bin/jitca-shell --scope payments',
      'source-address 10.0.0.0/8,2001:db8::/32,192.0.2.7',
      'verify-required',
    ]);
    const namespace = params.customExtensions?.['scope-namespace@jitca.dev'] ?? '';
    // Lexical order; custom names are listed by name with their data (ssh-keygen.c show_options).
    expect(shown.extensions).toEqual([
      'approved@jitca.dev UNKNOWN FLAG OPTION',
      'permit-port-forwarding',
      'permit-pty',
      `scope-cluster@jitca.dev UNKNOWN OPTION: ${stringHex('prod-eu-1')} (len 13)`,
      `scope-namespace@jitca.dev UNKNOWN OPTION: ${stringHex(namespace)} (len ${4 + namespace.length})`,
    ]);
  });
});

describe('tampered signature', () => {
  it('parseCertificate reports signatureValid false and ssh-keygen refuses the file', () => {
    expect(flipped.parsedValid).toBe(false);
    expect(flipped.listing).toMatch(/invalid key|EXIT/);
  });
});

describe('certificates signed by ssh-keygen -s parse and verify', () => {
  it.each(['ca_ed25519', 'ca_p384', 'ca_rsa'])('%s', (caName) => {
    const signed = crossSigned.get(caName);
    if (signed === undefined) throw new Error('missing');
    const cert = parseCertificate(signed.cert);
    expect(cert.signatureValid).toBe(true);
    expect(cert.type).toBe('ssh-ed25519-cert-v01@openssh.com');
    expect(cert.certType).toBe('user');
    expect(cert.keyId).toBe(`cross-${caName}`);
    expect(cert.serial).toBe(4242n);
    expect(cert.principals).toEqual(['alice', 'bob']);
    expect(cert.key.fingerprint).toBe(parseSshPublicKey(signed.userPub).fingerprint);
    expect(cert.signatureKey.fingerprint).toBe(parseSshPublicKey(signed.caPub).fingerprint);
    expect(cert.signatureAlgorithm).toBe(
      { ca_ed25519: 'ssh-ed25519', ca_p384: 'ecdsa-sha2-nistp384', ca_rsa: 'rsa-sha2-512' }[caName],
    );
    expect(cert.criticalOptions).toEqual({ forceCommand: 'uptime', sourceAddresses: ['198.51.100.0/24'] });
    expect(cert.unrecognizedCriticalOptions).toEqual([]);
    expect(cert.extensions).toEqual([
      'permit-X11-forwarding',
      'permit-agent-forwarding',
      'permit-port-forwarding',
      'permit-pty',
      'permit-user-rc',
    ]);
    expect(cert.customExtensions).toEqual({ 'note@example.com': 'hello' });
    // -V +5m: valid from (about) a minute before signing until five minutes after.
    expect(cert.validAfter).toBeLessThanOrEqual(signed.signedAt);
    expect(cert.validBefore - signed.signedAt).toBeGreaterThanOrEqual(295n);
    expect(cert.validBefore - signed.signedAt).toBeLessThanOrEqual(305n);
  });
});
