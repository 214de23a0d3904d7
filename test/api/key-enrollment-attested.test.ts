/**
 * Enrollment through the real attestation verifiers (hardwareAttestationVerifier, as serve wires
 * it), against roots the test makes: a FIDO enrollment answering the API's own challenge, one
 * answering another challenge, one without user verification, and a PIV slot + f9 pair, whose
 * possession signature a real ssh-agent makes (as it would through the PIV token's PKCS#11 module).
 */
import { spawn, type ChildProcess, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signEnrollmentChallenge } from '../../src/client/possession-signature.ts';
import { fixedClock } from '../../src/clock.ts';
import { hardwareAttestationVerifier } from '../../src/enrollment/hardware-attestation-verifier.ts';
import { formatAuthorizedKeysLine, parseSshPublicKey, sshPublicKeyFromKeyObject } from '../../src/ssh/public-key.ts';
import { createApiFixture, type ApiFixture } from '../support/api-fixture.ts';
import { enroll as authenticatorEnroll, pivChain, testAuthenticator, type PivChain, type TestAuthenticator } from '../support/attestation-builder.ts';
import { enrollmentPolicy as policy } from '../support/enrollment-fixture.ts';
import { opensslOk } from '../x509/openssl.ts';
import { createPublicKey, type KeyObject } from 'node:crypto';

const UP = 0x01;
const UV = 0x04;
const AT = 0x40;

function pem(der: Uint8Array): string {
  return `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`;
}

describe('key enrollment through the real attestation verifiers', () => {
  let api: ApiFixture;
  let authenticator: TestAuthenticator;
  let piv: PivChain;
  /** A second device, for the CSR test: its slot key is not the one the slot-attestation test enrolls. */
  let pivForCsr: PivChain;
  let agent: ChildProcess | undefined;
  let agentDir: string;
  const agentSocket = (): string => path.join(agentDir, 'agent.sock');
  const clock = fixedClock(Date.now());

  /** Puts a private key into the test's ssh-agent, as ssh-add -s would put a PIV slot's. */
  const addToAgent = (key: KeyObject, name: string): void => {
    const file = path.join(agentDir, name);
    writeFileSync(file, key.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    execFileSync('ssh-add', ['-q', file], { env: { ...process.env, SSH_AUTH_SOCK: agentSocket() }, stdio: 'ignore' });
    rmSync(file);
  };

  beforeAll(async () => {
    authenticator = await testAuthenticator();
    piv = await pivChain();
    pivForCsr = await pivChain();
    const trust = {
      fido: { roots: [authenticator.root.certificate], intermediates: [] },
      // The test chain runs slot -> f9 -> intermediate -> root, as firmware 5.7.4+ does: the device does not send the intermediate.
      piv: { roots: [piv.root.certificate, pivForCsr.root.certificate], intermediates: [piv.intermediate.certificate, pivForCsr.intermediate.certificate] },
    };
    api = await createApiFixture({ policy, issuanceClock: clock, attestationVerifier: hardwareAttestationVerifier(trust, () => new Date(clock.now())) });
    agentDir = mkdtempSync(path.join(tmpdir(), 'jitca-enroll-agent-'));
    // -D: in the foreground, so this test holds the process and ends it.
    agent = spawn('ssh-agent', ['-D', '-a', agentSocket()], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !existsSync(agentSocket()); i++) await sleep(50);
  });
  afterAll(async () => {
    agent?.kill();
    await api?.close();
    if (agentDir !== undefined) rmSync(agentDir, { recursive: true, force: true });
  });

  const as = (who: keyof ApiFixture['tokens']) => ({ authorization: `Bearer ${api.tokens[who]}` });
  const challenge = async (who: keyof ApiFixture['tokens']): Promise<string> =>
    (await api.app.inject({ method: 'POST', url: '/v1/keys/challenge', headers: as(who) })).json<{ challenge: string }>().challenge;
  const enroll = (who: keyof ApiFixture['tokens'], payload: Record<string, unknown>) => api.app.inject({ method: 'POST', url: '/v1/keys', headers: as(who), payload });
  const issue = (who: keyof ApiFixture['tokens'], publicKey: string, role: string) =>
    api.app.inject({ method: 'POST', url: '/v1/ssh/certificates', headers: as(who), payload: { publicKey, role, ttl: '5m', reason: 'INC-20' } });

  it('a FIDO key made against the API challenge enrolls as attested, and a role requiring attested UV keys certifies it', async () => {
    const id = await challenge('dave');
    const made = authenticatorEnroll(authenticator, { challenge: Buffer.from(id, 'base64url'), flags: UP | UV | AT });
    const enrolled = await enroll('dave', { publicKey: made.publicKeyLine, challenge: id, attestation: { kind: 'fido', attestation: Buffer.from(made.blob).toString('base64') } });
    expect(enrolled.statusCode).toBe(201);
    expect(enrolled.json()).toMatchObject({ kind: 'fido', attested: true, root: expect.stringContaining('Test FIDO Root'), flags: { up: true, uv: true } });
    expect((await issue('dave', made.publicKeyLine, 'fido-uv')).statusCode).toBe(201);
  });

  it('refuses an attestation over another challenge, and enrolls nothing', async () => {
    const id = await challenge('dave');
    const made = authenticatorEnroll(authenticator, { challenge: Buffer.alloc(32, 9), flags: UP | UV | AT });
    const refused = await enroll('dave', { publicKey: made.publicKeyLine, challenge: id, attestation: { kind: 'fido', attestation: Buffer.from(made.blob).toString('base64') } });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().code).toBe('ERR_ATTESTATION_CHALLENGE');
    const mine = (await api.app.inject({ method: 'GET', url: '/v1/keys', headers: as('dave') })).json<{ keys: Array<{ publicKey: string }> }>();
    expect(JSON.stringify(mine)).not.toContain(made.publicKeyLine.split(' ')[1]);
  });

  it('a key made without user verification enrolls, and the UV role refuses it naming key.user-verification', async () => {
    const id = await challenge('dave');
    const made = authenticatorEnroll(authenticator, { challenge: Buffer.from(id, 'base64url'), flags: UP | AT });
    const enrolled = await enroll('dave', { publicKey: made.publicKeyLine, challenge: id, attestation: { kind: 'fido', attestation: Buffer.from(made.blob).toString('base64') } });
    expect(enrolled.json()).toMatchObject({ attested: true, flags: { up: true, uv: false } });
    const refused = await issue('dave', made.publicKeyLine, 'fido-uv');
    expect(refused.statusCode).toBe(403);
    expect(refused.json().details.rule).toBe('key.user-verification');
  });

  it('a PIV slot key enrolls with the facts its slot certificate states and a signature from the agent; without the signature, or another key with the same evidence, it is refused', async () => {
    addToAgent(piv.slotKey, 'slot');
    const slotKey = formatAuthorizedKeysLine(sshPublicKeyFromKeyObject(createPublicKey(piv.slotKey)));
    const evidence = { kind: 'piv', slotCertificate: pem(piv.slot.der), f9Certificate: pem(piv.device.certificate.der) };
    const signedBy = async (publicKey: string, id: string) =>
      signEnrollmentChallenge(parseSshPublicKey(publicKey), Buffer.from(id, 'base64url'), { agentSocket: agentSocket() });

    // The slot attestation is the device's, for anyone who asks: alone it proves no one holds the key.
    const unsigned = await enroll('alice', { publicKey: slotKey, challenge: await challenge('alice'), attestation: evidence });
    expect([unsigned.statusCode, unsigned.json().code]).toEqual([400, 'ERR_KEY_POSSESSION_MISSING']);

    const id = await challenge('dave');
    const enrolled = await enroll('dave', { publicKey: slotKey, challenge: id, attestation: evidence, signature: await signedBy(slotKey, id) });
    expect(enrolled.statusCode, enrolled.body).toBe(201);
    expect(enrolled.json()).toMatchObject({ kind: 'piv', attested: true, serial: 31000001, firmware: '5.7.4', pinPolicy: 'always', touchPolicy: 'always' });

    const otherSlotKey = (await pivChain()).slotKey;
    addToAgent(otherSlotKey, 'other');
    const other = formatAuthorizedKeysLine(sshPublicKeyFromKeyObject(createPublicKey(otherSlotKey)));
    const otherId = await challenge('dave');
    const refused = await enroll('dave', { publicKey: other, challenge: otherId, attestation: evidence, signature: await signedBy(other, otherId) });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().code).toBe('ERR_ATTESTATION_KEY_MISMATCH');
  });

  it('a PIV CSR enrolls only with the slot key\'s signature over the challenge: a copied CSR replayed alone is refused', async () => {
    const chain = pivForCsr;
    const keyFile = path.join(agentDir, 'csr-key.pem');
    writeFileSync(keyFile, chain.slotKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const hex = (der: Uint8Array) => Buffer.from(der).toString('hex');
    // As yubico-piv-tool makes it: signed by the slot key, the attestation in Yubico's extensions.
    const csr = opensslOk(['req', '-new', '-key', keyFile, '-subj', '/CN=alice', '-addext', `1.3.6.1.4.1.41482.3.11=DER:${hex(chain.slot.der)}`, '-addext', `1.3.6.1.4.1.41482.3.2=DER:${hex(chain.device.certificate.der)}`]);
    rmSync(keyFile);
    const slotKey = formatAuthorizedKeysLine(sshPublicKeyFromKeyObject(createPublicKey(chain.slotKey)));
    const evidence = { kind: 'piv-csr', csr };

    // The CSR was signed once, at some time, for anyone: whoever holds a copy is not the key's holder.
    const replayed = await enroll('alice', { publicKey: slotKey, challenge: await challenge('alice'), attestation: evidence });
    expect([replayed.statusCode, replayed.json().code]).toEqual([400, 'ERR_KEY_POSSESSION_MISSING']);
    expect((await api.app.inject({ url: '/v1/keys', headers: as('alice') })).json().keys).not.toContainEqual(expect.objectContaining({ publicKey: slotKey }));

    addToAgent(chain.slotKey, 'csr-slot');
    const id = await challenge('dave');
    const signature = await signEnrollmentChallenge(parseSshPublicKey(slotKey), Buffer.from(id, 'base64url'), { agentSocket: agentSocket() });
    const enrolled = await enroll('dave', { publicKey: slotKey, challenge: id, attestation: evidence, signature });
    expect(enrolled.statusCode, enrolled.body).toBe(201);
    expect(enrolled.json()).toMatchObject({ kind: 'piv', attested: true, serial: 31000001, publicKey: slotKey });
  });
});
