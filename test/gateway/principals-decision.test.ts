import { generateKeyPairSync } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { forwardDestinationFor } from '../../src/gateway/forward-port.ts';
import { decidePrincipals, type GatewayTrust, type PrincipalsQuery } from '../../src/gateway/principals-decision.ts';
import { buildUserCertificate } from '../../src/ssh/certificate.ts';
import { parseCertificate, type ParsedSshCertificate } from '../../src/ssh/certificate-parse.ts';
import { sshFingerprint, sshPublicKeyFromKeyObject } from '../../src/ssh/public-key.ts';
import { createMemorySigner } from '../support/memory-signer.ts';

const NOW = 1_800_000_000n;
const DOMAIN = 'jitca.dev';
const SESSION = '/usr/local/bin/jitca gateway session';

const ca = createMemorySigner({ kind: 'ed25519' }, 'jitca-ssh-user/1');
const otherCa = createMemorySigner({ kind: 'ed25519' }, 'other/1');
const caFingerprint = sshFingerprint(sshPublicKeyFromKeyObject(ca.publicKey).blob);
const subject = sshPublicKeyFromKeyObject(generateKeyPairSync('ed25519').publicKey);

interface CertificateShape {
  serial?: bigint;
  principals?: string[];
  validAfter?: bigint;
  validBefore?: bigint;
  extensions?: string[];
  customExtensions?: Record<string, string>;
}

async function certificate(shape: CertificateShape = {}, signer = ca): Promise<ParsedSshCertificate> {
  const issued = await buildUserCertificate(
    {
      subject,
      serial: shape.serial ?? 4242n,
      keyId: 'alice@example.com',
      principals: shape.principals ?? ['oncall-payments'],
      validAfter: shape.validAfter ?? NOW - 60n,
      validBefore: shape.validBefore ?? NOW + 900n,
      extensions: shape.extensions ?? ['permit-pty'],
      customExtensions: shape.customExtensions ?? { [`role@${DOMAIN}`]: 'payments-debug', [`approval@${DOMAIN}`]: 'req-1' },
    },
    signer,
  );
  return parseCertificate(issued.blob);
}

function queryFor(cert: ParsedSshCertificate, account = 'debug'): PrincipalsQuery {
  return { account, keyId: cert.keyId, serial: cert.serial.toString(), caFingerprint: sshFingerprint(cert.signatureKey.blob) };
}

function trust(overrides: Partial<GatewayTrust> = {}): GatewayTrust {
  return {
    trustedCaFingerprints: new Set([caFingerprint]),
    revokedSerials: new Map(),
    accountPrincipals: new Map([['debug', new Set(['oncall-payments'])]]),
    extensionDomain: DOMAIN,
    sessionCommand: SESSION,
    ...overrides,
  };
}

describe('gateway principals: the lines sshd gets', () => {
  let live: ParsedSshCertificate;
  beforeAll(async () => {
    live = await certificate();
  });

  it('gives a live jitca grant one restricted line per allowed principal, with its expiry and the forced session for its serial', () => {
    expect(decidePrincipals(queryFor(live), live, trust(), NOW)).toEqual({
      allow: true,
      // NOW + 900 = 2027-01-15T08:15:00Z
      lines: [`restrict,expiry-time="20270115081500Z",pty,command="${SESSION} --serial 4242" oncall-payments`],
    });
  });

  it('leaves pty out when the certificate does not permit one', async () => {
    const cert = await certificate({ extensions: [] });
    const verdict = decidePrincipals(queryFor(cert), cert, trust(), NOW);
    expect(verdict).toEqual({ allow: true, lines: [`restrict,expiry-time="20270115081500Z",command="${SESSION} --serial 4242" oncall-payments`] });
  });

  it('gives a port-forward grant on one pod forwarding to its one gateway-local port, and no other grant any forwarding', async () => {
    const grant = { [`role@${DOMAIN}`]: 'payments-debug', [`approval@${DOMAIN}`]: 'req-1', [`operations@${DOMAIN}`]: 'view-logs,port-forward', [`scope-pod@${DOMAIN}`]: 'api-0' };
    const forwarding = await certificate({ extensions: ['permit-port-forwarding'], customExtensions: grant });
    expect(decidePrincipals(queryFor(forwarding), forwarding, trust(), NOW)).toEqual({
      allow: true,
      lines: [`restrict,expiry-time="20270115081500Z",port-forwarding,permitopen="127.0.16.${1 + (0x92 % 254)}:40000",command="${SESSION} --serial 4242" oncall-payments`],
    });
    // 4242 = 0x1092: address 127.0.16.(1 + 0x92 % 254), port 40000 + (4242 >> 24) % 20000.
    expect(forwardDestinationFor(4242n)).toEqual({ host: '127.0.16.147', port: 40_000 });
    // Serials that agree in their low 24 bits still differ in the port, and the other way round.
    expect(forwardDestinationFor(4242n + (1n << 24n))).toEqual({ host: '127.0.16.147', port: 40_001 });
    expect(forwardDestinationFor(4243n)).toEqual({ host: '127.0.16.148', port: 40_000 });
    expect(forwardDestinationFor(0xffffffn).host).toBe('127.255.255.2');
    const { [`scope-pod@${DOMAIN}`]: _pod, ...noPod } = grant;
    for (const shape of [
      { extensions: ['permit-port-forwarding'], customExtensions: { ...grant, [`operations@${DOMAIN}`]: 'view-logs' } },
      { extensions: ['permit-port-forwarding'], customExtensions: noPod },
      { extensions: ['permit-port-forwarding'], customExtensions: { ...grant, [`scope-pod@${DOMAIN}`]: '*' } },
      { extensions: [], customExtensions: grant },
    ]) {
      const cert = await certificate(shape);
      const verdict = decidePrincipals(queryFor(cert), cert, trust(), NOW);
      expect(verdict.allow && verdict.lines[0]).toMatch(/^restrict,expiry-time="\d+Z",command=/);
    }
  });

  it('prints only the principals the account allows, never the others the certificate names', async () => {
    const cert = await certificate({ principals: ['oncall-payments', 'root', 'oncall-search'] });
    const verdict = decidePrincipals(queryFor(cert), cert, trust({ accountPrincipals: new Map([['debug', new Set(['oncall-search', 'oncall-payments'])]]) }), NOW);
    expect(verdict.allow && verdict.lines.map((line) => line.split(' ').at(-1))).toEqual(['oncall-payments', 'oncall-search']);
  });
});

describe('gateway principals: refusals, each by its rule', () => {
  const cases: Array<[string, () => Promise<{ cert: ParsedSshCertificate; query?: Partial<PrincipalsQuery>; trust?: Partial<GatewayTrust>; now?: bigint }>]> = [
    ['signature', async () => {
      const good = await certificate();
      const blob = good.blob.slice();
      blob[blob.length - 1]! ^= 0x01; // the last byte of the Ed25519 signature
      return { cert: parseCertificate(blob) };
    }],
    ['not-a-user-certificate', async () => ({ cert: { ...(await certificate()), certType: 'host' } })],
    ['sshd-mismatch', async () => ({ cert: await certificate(), query: { serial: '4243' } })],
    ['sshd-mismatch', async () => ({ cert: await certificate(), query: { keyId: 'mallory' } })],
    ['sshd-mismatch', async () => ({ cert: await certificate(), query: { caFingerprint: 'SHA256:AAAA' } })],
    ['ca-untrusted', async () => ({ cert: await certificate({}, otherCa) })],
    ['ca-untrusted', async () => ({ cert: await certificate(), trust: { trustedCaFingerprints: new Set() } })],
    ['revoked', async () => ({ cert: await certificate(), trust: { revokedSerials: new Map([[caFingerprint, new Set([4242n])]]) } })],
    ['not-yet-valid', async () => ({ cert: await certificate({ validAfter: NOW + 10n }) })],
    ['expired', async () => ({ cert: await certificate(), now: NOW + 900n })],
    ['no-expiry', async () => ({ cert: await certificate({ validBefore: (1n << 64n) - 1n }) })],
    ['unknown-critical-option', async () => ({ cert: { ...(await certificate()), unrecognizedCriticalOptions: ['no-touch-required@example.com'] } })],
    ['not-a-jitca-grant', async () => ({ cert: await certificate({ customExtensions: {} }) })],
    ['not-a-jitca-grant', async () => ({ cert: await certificate({ customExtensions: { 'role@other.example': 'x', 'approval@other.example': 'y' } }) })],
    ['principal-not-allowed', async () => ({ cert: await certificate({ principals: ['root'] }) })],
    ['principal-not-allowed', async () => ({ cert: await certificate(), query: { account: 'root' } })],
    // OpenSSH reads an empty principal list as "any principal" (jitca's builder never writes one).
    ['principal-not-allowed', async () => ({ cert: { ...(await certificate()), principals: [] } })],
  ];

  it.each(cases)('%s', async (rule, make) => {
    const { cert, query = {}, trust: trustOverrides = {}, now = NOW } = await make();
    const verdict = decidePrincipals({ ...queryFor(cert), ...query }, cert, trust(trustOverrides), now);
    expect(verdict).toMatchObject({ allow: false, rule });
  });

  it('is one second short of the expiry still live (valid_before is exclusive)', async () => {
    const cert = await certificate();
    expect(decidePrincipals(queryFor(cert), cert, trust(), NOW + 899n).allow).toBe(true);
  });
});
