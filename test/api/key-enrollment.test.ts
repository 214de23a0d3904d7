/**
 * POST /v1/keys/challenge, POST /v1/keys, GET /v1/keys, DELETE /v1/keys/{id}, and issuance for
 * roles that require an enrolled or attested key, through the real app (SoftHSM2, SQLite, OIDC).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { parseSshPublicKey } from '../../src/ssh/public-key.ts';
import { createApiFixture, type ApiFixture } from '../support/api-fixture.ts';
import { enrollmentPolicy as policy, fidoFactsVerifier, possessionSignature, skKeyLine } from '../support/enrollment-fixture.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

describe('key enrollment API', () => {
  let api: ApiFixture;
  let keys: TempSshKey[];
  const clock = fixedClock(Date.now());

  beforeAll(async () => {
    api = await createApiFixture({ policy, issuanceClock: clock, attestationVerifier: fidoFactsVerifier });
    keys = [0, 1, 2, 3, 4, 5, 6].map(() => createTempSshKey('jitca-enroll-'));
  });
  afterAll(async () => {
    await api?.close();
    for (const key of keys ?? []) key.cleanup();
  });

  const as = (who: keyof ApiFixture['tokens']) => ({ authorization: `Bearer ${api.tokens[who]}` });
  const challenge = async (who: keyof ApiFixture['tokens']): Promise<string> => {
    const response = await api.app.inject({ method: 'POST', url: '/v1/keys/challenge', headers: as(who) });
    expect(response.statusCode).toBe(200);
    return response.json<{ challenge: string }>().challenge;
  };
  const enroll = (who: keyof ApiFixture['tokens'], payload: Record<string, unknown>) =>
    api.app.inject({ method: 'POST', url: '/v1/keys', headers: as(who), payload });
  /** The body for enrolling `key` with challenge `id`, signed by the key as `jitca enroll` signs it. */
  const signed = (key: TempSshKey, id: string) => ({ publicKey: key.publicKey, challenge: id, signature: possessionSignature(key.keyPath, id) });
  const enrolledRows = (): number => {
    const db = new Database(api.ca.config.store.sqlitePath, { readonly: true });
    try {
      return (db.prepare('select count(*) as n from enrolled_keys').get() as { n: number }).n;
    } finally {
      db.close();
    }
  };
  const unchanged = () => ({ ...api.rowCounts(), enrolled: enrolledRows() });
  const issue = (who: keyof ApiFixture['tokens'], publicKey: string, role: string) =>
    api.app.inject({ method: 'POST', url: '/v1/ssh/certificates', headers: as(who), payload: { publicKey, role, ttl: '5m', reason: 'INC-20' } });

  it('a challenge is single use, bound to the caller, and expires; a refused enrollment writes nothing', async () => {
    const mine = await challenge('dave');
    expect(mine).toMatch(/^[A-Za-z0-9_-]{43}$/);

    // Someone else's challenge is refused, and stays usable by its owner.
    let before = unchanged();
    const stolen = await enroll('alice', signed(keys[0]!, mine));
    expect([stolen.statusCode, stolen.json().code]).toEqual([400, 'ERR_CHALLENGE_INVALID']);
    expect(unchanged()).toEqual(before);

    const first = await enroll('dave', signed(keys[0]!, mine));
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({ owner: 'dave', kind: 'software', attested: false, fingerprint: parseSshPublicKey(keys[0]!.publicKey).fingerprint });
    const audit = (await api.ca.runtime.store.listAudit({ limit: 1000 })).filter((record) => record.type === 'key.enrolled');
    expect(audit.map((record) => [record.actor, record.data['id']])).toEqual([['dave', first.json().id]]);

    // Replayed.
    before = unchanged();
    const replay = await enroll('dave', signed(keys[1]!, mine));
    expect([replay.statusCode, replay.json().code]).toEqual([400, 'ERR_CHALLENGE_INVALID']);
    // Expired (5 minutes).
    const late = await challenge('dave');
    clock.advance(5 * 60 * 1000 + 1);
    const expired = await enroll('dave', signed(keys[1]!, late));
    expect([expired.statusCode, expired.json().code]).toEqual([400, 'ERR_CHALLENGE_INVALID']);
    // Never issued.
    const unknown = await enroll('dave', signed(keys[1]!, 'A'.repeat(43)));
    expect([unknown.statusCode, unknown.json().code]).toEqual([400, 'ERR_CHALLENGE_INVALID']);
    expect(unchanged()).toEqual(before);
  });

  it('one key, one person: the same key again is refused for its owner and for anyone else; hostile bodies write nothing', async () => {
    const before = unchanged();
    const again = await enroll('dave', signed(keys[0]!, await challenge('dave')));
    expect([again.statusCode, again.json().code]).toEqual([409, 'ERR_KEY_ALREADY_ENROLLED']);
    // Someone who holds the key too (a shared key) still cannot make it theirs.
    const other = await enroll('alice', signed(keys[0]!, await challenge('alice')));
    expect([other.statusCode, other.json().code]).toEqual([409, 'ERR_KEY_ENROLLED_ELSEWHERE']);
    const malformed = await enroll('dave', { publicKey: 'ssh-ed25519 AAAAnope', challenge: await challenge('dave') });
    expect([malformed.statusCode, malformed.json().code]).toEqual([400, 'ERR_WIRE_TRUNCATED']);
    const extra = await enroll('dave', { ...signed(keys[1]!, await challenge('dave')), owner: 'alice' });
    expect([extra.statusCode, extra.json().code]).toEqual([400, 'ERR_REQUEST_INVALID']);
    // PIV evidence: no PIV verifier is wired in this app.
    const piv = await enroll('dave', { ...signed(keys[1]!, await challenge('dave')), attestation: { kind: 'piv', slotCertificate: 'x', f9Certificate: 'y' } });
    expect([piv.statusCode, piv.json().code]).toEqual([400, 'ERR_ATTESTATION_UNSUPPORTED']);
    const gateway = await api.app.inject({ method: 'POST', url: '/v1/keys/challenge', headers: { authorization: `Bearer ${api.gatewayToken}`, 'x-jitca-on-behalf-of': 'dave' } });
    expect(gateway.statusCode).toBeGreaterThanOrEqual(400);
    expect(unchanged()).toEqual(before);
  });

  it('lists own keys; key admins list anyone\'s; others may not', async () => {
    expect((await enroll('alice', signed(keys[2]!, await challenge('alice')))).statusCode).toBe(201);
    const list = (who: keyof ApiFixture['tokens'], query = '') => api.app.inject({ method: 'GET', url: `/v1/keys${query}`, headers: as(who) });
    expect((await list('alice')).json().keys.map((key: { owner: string }) => key.owner)).toEqual(['alice']);
    expect((await list('dave')).json().keys.map((key: { owner: string }) => key.owner)).toEqual(['dave']);
    expect((await list('bob', '?all=true')).json().keys.map((key: { owner: string }) => key.owner).sort()).toEqual(['alice', 'dave']);
    expect((await list('bob', '?owner=alice')).json().keys).toHaveLength(1);
    const refused = await list('alice', '?owner=dave');
    expect([refused.statusCode, refused.json().code, refused.json().details.rule]).toEqual([403, 'ERR_POLICY_DENIED', 'keys.not-admin']);
  });

  it('removal: the owner or a key admin, audited in the same transaction; an outsider gets 404 and removes nothing', async () => {
    const alicesKey = (await api.app.inject({ method: 'GET', url: '/v1/keys', headers: as('alice') })).json().keys[0];
    const before = unchanged();
    const outsider = await api.app.inject({ method: 'DELETE', url: `/v1/keys/${alicesKey.id}`, headers: as('dave') });
    expect([outsider.statusCode, outsider.json().code]).toEqual([404, 'ERR_ENROLLED_KEY_NOT_FOUND']);
    expect(unchanged()).toEqual(before);
    const byAdmin = await api.app.inject({ method: 'DELETE', url: `/v1/keys/${alicesKey.id}`, headers: as('bob') });
    expect(byAdmin.json()).toEqual({ id: alicesKey.id, removed: true });
    expect(enrolledRows()).toBe(before.enrolled - 1);
    const removal = (await api.ca.runtime.store.listAudit({ limit: 1000 })).filter((record) => record.type === 'key.removed');
    expect(removal.map((record) => [record.actor, record.subject, record.data['id'], record.data['by']])).toEqual([['bob', 'alice', alicesKey.id, 'key-admin']]);
    const twice = await api.app.inject({ method: 'DELETE', url: `/v1/keys/${alicesKey.id}`, headers: as('bob') });
    expect(twice.statusCode).toBe(404);
  });

  it('a role requiring enrollment issues for the enrolled key and refuses a plain unenrolled one, naming key.enrolled', async () => {
    const enrolled = await issue('dave', keys[0]!.publicKey, 'enrolled-only');
    expect(enrolled.statusCode, enrolled.body).toBe(201);
    const plain = await issue('dave', keys[3]!.publicKey, 'enrolled-only');
    expect([plain.statusCode, plain.json().code, plain.json().details.rule]).toEqual([403, 'ERR_POLICY_DENIED', 'key.enrolled']);
    // Enrolled but not attested: refused by the FIDO role.
    const software = await issue('dave', keys[0]!.publicKey, 'fido-uv');
    expect([software.statusCode, software.json().details.rule]).toEqual([403, 'key.attested']);
  });

  it('an sk key enrolled with FIDO facts gets a certificate with verify-required, as ssh-keygen -L shows it', async () => {
    const sk = skKeyLine(keys[4]!.publicKey);
    const enrolled = await enroll('dave', { publicKey: sk, challenge: await challenge('dave'), attestation: { kind: 'fido', attestation: 'dmVyaWZpZWQ=' } });
    expect(enrolled.json()).toMatchObject({ kind: 'fido', attested: true, flags: { up: true, uv: true } });
    const issued = await issue('dave', sk, 'fido-uv');
    expect(issued.statusCode).toBe(201);
    const file = path.join(keys[4]!.dir, 'sk-cert.pub');
    writeFileSync(file, `${issued.json().certificate}\n`);
    const shown = execFileSync('ssh-keygen', ['-L', '-f', file], { encoding: 'utf8' });
    expect(shown).toMatch(/Critical Options:\s*\n\s*verify-required/);
  });

  it('a plain key enrolls only with a signature over the challenge by that key; each refusal spends its challenge and writes nothing', async () => {
    // Alice tries to enroll dave's public key (public keys are public) to block him from enrolling it.
    const [daves, alices] = [keys[5]!, keys[6]!];
    const before = unchanged();
    const refusal = async (payload: Record<string, unknown>) => {
      const response = await enroll('alice', payload);
      return [response.statusCode, response.json().code, response.json().details?.field];
    };

    const missingId = await challenge('alice');
    expect(await refusal({ publicKey: daves.publicKey, challenge: missingId })).toEqual([400, 'ERR_KEY_POSSESSION_MISSING', 'signature']);
    // Signed by her own key, not the one being enrolled.
    let id = await challenge('alice');
    expect(await refusal({ publicKey: daves.publicKey, challenge: id, signature: possessionSignature(alices.keyPath, id) })).toEqual([400, 'ERR_KEY_POSSESSION_INVALID', 'signature']);
    // A signature dave made, over his own challenge: not over hers.
    const davesId = await challenge('dave');
    const davesSignature = possessionSignature(daves.keyPath, davesId);
    expect(await refusal({ publicKey: daves.publicKey, challenge: await challenge('alice'), signature: davesSignature })).toEqual([400, 'ERR_KEY_POSSESSION_INVALID', 'signature']);
    // Over her challenge by dave's key, but in another namespace (a login signature dave was tricked into).
    id = await challenge('alice');
    expect(await refusal({ publicKey: daves.publicKey, challenge: id, signature: possessionSignature(daves.keyPath, id, 'jitca-login@jitca.dev') })).toEqual([400, 'ERR_KEY_POSSESSION_INVALID', 'signature']);
    expect(await refusal({ publicKey: daves.publicKey, challenge: await challenge('alice'), signature: 'not an SSH signature' })).toEqual([400, 'ERR_KEY_POSSESSION_INVALID', 'signature']);
    // A refused enrollment spent its challenge: even the right signature over it is refused now.
    expect(await refusal({ publicKey: alices.publicKey, challenge: missingId, signature: possessionSignature(alices.keyPath, missingId) })).toEqual([400, 'ERR_CHALLENGE_INVALID', undefined]);
    expect(unchanged()).toEqual(before);

    // Dave, who holds the key, enrolls it; the same body again is a replay of a spent challenge.
    const body = { publicKey: daves.publicKey, challenge: davesId, signature: davesSignature };
    const enrolled = await enroll('dave', body);
    expect([enrolled.statusCode, enrolled.json().owner, enrolled.json().kind]).toEqual([201, 'dave', 'software']);
    const replayed = await enroll('dave', body);
    expect([replayed.statusCode, replayed.json().code]).toEqual([400, 'ERR_CHALLENGE_INVALID']);
  });
});
