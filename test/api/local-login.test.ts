import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addLocalUser, removeLocalUser } from '../../src/authn/local-users.ts';
import { fixedClock } from '../../src/clock.ts';
import { localLogin } from '../../src/client/local-login.ts';
import { sshsigThroughAgent } from '../../src/client/ssh-agent-sign.ts';
import { ErrorCodes } from '../../src/errors.ts';
import { parseSshPublicKey } from '../../src/ssh/public-key.ts';
import { SK_FLAG_USER_PRESENT } from '../../src/ssh/sk-signature.ts';
import { createApiFixture, type ApiFixture } from '../support/api-fixture.ts';
import { codeOfAsync } from '../support/error-codes.ts';
import { fakeSecurityKey } from '../support/fake-security-key.ts';
import { makeTempDir, sections, sh } from '../ssh/ssh-keygen.ts';

/**
 * Local login through the real API: challenges signed by the real `ssh-keygen -Y sign` (checked
 * by `ssh-keygen -Y verify` too), by a real ssh-agent, and by a played security key; the session
 * token then issues a certificate like an OIDC token. Every refusal is a 401 with its code and
 * writes no certificate.
 */

const NAMESPACE = 'jitca-login@jitca';
const clock = fixedClock(Date.now());
const sk = fakeSecurityKey('ed25519');
let api: ApiFixture;
let tmp: ReturnType<typeof makeTempDir>;
let agent: ChildProcess | undefined;
let agentSocket: string;
let pubs: Map<string, string>;

beforeAll(async () => {
  api = await createApiFixture({ issuanceClock: clock });
  tmp = makeTempDir('local-login');
  agentSocket = join(tmp.dir, 'agent.sock');
  agent = spawn('ssh-agent', ['-D', '-a', agentSocket], { stdio: 'ignore' });
  pubs = sections(
    await sh(
      ['lena:-t ed25519', 'pat:-t ecdsa -b 256', 'stranger:-t ed25519', 'agentkey:-t ed25519']
        .map((spec) => spec.split(':'))
        .map(([name, args]) => `ssh-keygen -q ${args} -N '' -C ${name} -f ${name}\necho ==${name}==; cat ${name}.pub`)
        .join('\n'),
      tmp.dir,
    ),
  );
  for (let i = 0; i < 100 && !existsSync(agentSocket); i++) await sleep(50);
  await sh(`SSH_AUTH_SOCK=${agentSocket} ssh-add -q agentkey 2>/dev/null`, tmp.dir);
  const store = api.ca.runtime.store;
  await addLocalUser(store, { name: 'lena', groups: ['oncall-payments'], publicKey: pub('lena'), actor: 'local:admin' });
  await addLocalUser(store, { name: 'pat', groups: ['oncall-payments'], publicKey: pub('pat'), actor: 'local:admin' });
  await addLocalUser(store, { name: 'ada', groups: ['oncall-payments'], publicKey: pub('agentkey'), actor: 'local:admin' });
  await addLocalUser(store, { name: 'sam', groups: ['oncall-payments'], publicKey: sk.line, actor: 'local:admin' });
});

afterAll(async () => {
  agent?.kill();
  tmp?.cleanup();
  await api?.close();
});

function pub(name: string): string {
  return (pubs.get(name) ?? '').trim();
}

async function challengeFor(name: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const reply = await api.app.inject({ method: 'POST', url: '/v1/auth/challenge', payload: { name } });
  return { status: reply.statusCode, body: reply.json() };
}

async function freshChallenge(name: string): Promise<string> {
  const { status, body } = await challengeFor(name);
  expect(status).toBe(200);
  expect(body['namespace']).toBe(NAMESPACE);
  return body['challenge'] as string;
}

/** The real ssh-keygen signing a challenge with a key file, as a person would by hand. */
async function keygenSign(keyName: string, challenge: string, namespace = NAMESPACE): Promise<string> {
  writeFileSync(join(tmp.dir, 'challenge'), challenge);
  await sh(`rm -f challenge.sig; ssh-keygen -q -Y sign -f ${keyName} -n ${namespace} challenge`, tmp.dir);
  return readFileSync(join(tmp.dir, 'challenge.sig'), 'utf8');
}

async function session(name: string, challenge: string, signature: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const reply = await api.app.inject({ method: 'POST', url: '/v1/auth/session', payload: { name, challenge, signature } });
  return { status: reply.statusCode, body: reply.json() };
}

async function loginWithFile(name: string, keyName: string): Promise<string> {
  const challenge = await freshChallenge(name);
  const granted = await session(name, challenge, await keygenSign(keyName, challenge));
  expect(granted.status).toBe(200);
  return granted.body['accessToken'] as string;
}

async function issue(token: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const reply = await api.app.inject({
    method: 'POST',
    url: '/v1/ssh/certificates',
    headers: { authorization: `Bearer ${token}` },
    payload: { publicKey: pub('stranger'), role: 'oncall-payments', reason: 'local login test' },
  });
  return { status: reply.statusCode, body: reply.json() };
}

describe('local login', () => {
  it('ssh-keygen -Y sign: the signature ssh-keygen -Y verify accepts logs in, and the session token issues a certificate', async () => {
    const challenge = await freshChallenge('lena');
    const signature = await keygenSign('lena', challenge);
    // The oracle: OpenSSH itself accepts what jitca is about to accept.
    writeFileSync(join(tmp.dir, 'allowed'), `lena ${pub('lena')}\n`);
    expect((await sh(`ssh-keygen -Y verify -f allowed -I lena -n ${NAMESPACE} -s challenge.sig < challenge >/dev/null && echo ok`, tmp.dir)).trim()).toBe('ok');

    const granted = await session('lena', challenge, signature);
    expect(granted.status).toBe(200);
    expect(granted.body).toMatchObject({ tokenType: 'Bearer', expiresIn: 900, subject: 'lena', groups: ['oncall-payments'] });
    const issued = await issue(granted.body['accessToken'] as string);
    expect(issued.status).toBe(201);
    const audit = await api.ca.runtime.store.listAudit({ limit: 10_000 });
    expect(audit.find((record) => record.type === 'user.session' && record.actor === 'lena')?.data).toMatchObject({ fingerprint: parseSshPublicKey(pub('lena')).fingerprint });
    expect(audit.at(-1)).toMatchObject({ type: 'ssh.issued', actor: 'lena' });
  });

  it('an ECDSA P-256 key logs in', async () => {
    expect((await issue(await loginWithFile('pat', 'pat'))).status).toBe(201);
  });

  it('a session token gets a Kubernetes client certificate for the local user, as kube-credential asks for it', async () => {
    const token = await loginWithFile('pat', 'pat');
    const key = join(tmp.dir, 'kube.key');
    execFileSync('openssl', ['genpkey', '-algorithm', 'Ed25519', '-out', key]);
    const csr = execFileSync('openssl', ['req', '-new', '-key', key, '-subj', '/CN=pat'], { encoding: 'utf8' });
    const reply = await api.app.inject({
      method: 'POST',
      url: '/v1/x509/certificates',
      headers: { authorization: `Bearer ${token}` },
      payload: { csr, ttl: '10m', scope: { cluster: 'prod', namespace: 'payments' } },
    });
    expect(reply.statusCode).toBe(201);
    const subject = execFileSync('openssl', ['x509', '-noout', '-subject'], { input: reply.json().certificate, encoding: 'utf8' });
    expect(subject).toMatch(/subject=O = jit:oncall:payments, CN = pat/);
  });

  it('the SSH gateway can carry a local session token as it carries an OIDC one', async () => {
    const token = await loginWithFile('pat', 'pat');
    const reply = await api.app.inject({
      method: 'POST',
      url: '/v1/ssh/certificates',
      headers: { authorization: `Bearer ${api.gatewayToken}`, 'x-jitca-on-behalf-of': token },
      payload: { publicKey: pub('stranger'), role: 'oncall-payments', reason: 'through the gateway' },
    });
    expect(reply.statusCode).toBe(201);
    // The gateway is the actor, the local user the certificate's subject.
    expect((await api.ca.runtime.store.listAudit({ limit: 10_000 })).at(-1)).toMatchObject({ type: 'ssh.issued', actor: 'jitca-ssh-gateway', subject: 'pat' });
  });

  it('a real ssh-agent signs the challenge (the key never leaves it)', async () => {
    const challenge = await freshChallenge('ada');
    const blob = parseSshPublicKey(pub('agentkey')).blob;
    const signature = await sshsigThroughAgent(agentSocket, blob, NAMESPACE, Buffer.from(challenge, 'ascii'));
    const granted = await session('ada', challenge, signature);
    expect(granted.status).toBe(200);
    expect((await issue(granted.body['accessToken'] as string)).status).toBe(201);
  });

  it('a security key logs in when touched, and is refused without user presence', async () => {
    const touched = await freshChallenge('sam');
    expect((await session('sam', touched, sk.sign(SK_FLAG_USER_PRESENT, NAMESPACE, Buffer.from(touched)))).status).toBe(200);
    const untouched = await freshChallenge('sam');
    const refused = await session('sam', untouched, sk.sign(0, NAMESPACE, Buffer.from(untouched)));
    expect([refused.status, refused.body['code']]).toEqual([401, ErrorCodes.AUTHN_SIGNATURE]);
  });
});

describe('the helper (jitca login --local) over HTTP', () => {
  it('signs through ssh-agent when it holds the key, and --agent refuses a key the agent does not hold', async () => {
    const address = await api.app.listen({ host: '127.0.0.1', port: 0 });
    const config = { server: address, tokenCache: join(tmp.dir, 'token.json') };
    const viaAgent = await localLogin(config, { name: 'ada', keyFile: join(tmp.dir, 'agentkey'), signWith: 'auto', agentSocket });
    expect(viaAgent).toMatchObject({ subject: 'ada', groups: ['oncall-payments'], signedWith: 'agent', expiresIn: 900 });
    expect((await issue(viaAgent.accessToken)).status).toBe(201);
    const notHeld = await codeOfAsync(localLogin(config, { name: 'pat', keyFile: join(tmp.dir, 'pat'), signWith: 'agent', agentSocket }));
    expect(notHeld).toBe(ErrorCodes.REQUEST_INVALID);
  });
});

describe('local login refusals (401, nothing issued)', () => {
  async function refused(name: string, challenge: string, signature: string): Promise<unknown> {
    const before = api.rowCounts();
    const answer = await session(name, challenge, signature);
    expect(api.rowCounts()).toEqual(before);
    expect(answer.body['accessToken']).toBeUndefined();
    return [answer.status, answer.body['code']];
  }

  it('a signature over another challenge', async () => {
    const asked = await freshChallenge('lena');
    const other = await freshChallenge('lena');
    expect(await refused('lena', asked, await keygenSign('lena', other))).toEqual([401, ErrorCodes.AUTHN_SIGNATURE]);
  });

  it('a replayed challenge: the first answer spent it', async () => {
    const challenge = await freshChallenge('lena');
    const signature = await keygenSign('lena', challenge);
    expect((await session('lena', challenge, signature)).status).toBe(200);
    expect(await refused('lena', challenge, signature)).toEqual([401, ErrorCodes.AUTHN_CHALLENGE]);
  });

  it('an expired challenge', async () => {
    const challenge = await freshChallenge('lena');
    const signature = await keygenSign('lena', challenge);
    clock.advance(121_000);
    expect(await refused('lena', challenge, signature)).toEqual([401, ErrorCodes.AUTHN_CHALLENGE]);
  });

  it('a challenge asked for another name', async () => {
    const challenge = await freshChallenge('pat');
    expect(await refused('lena', challenge, await keygenSign('lena', challenge))).toEqual([401, ErrorCodes.AUTHN_CHALLENGE]);
  });

  it('the wrong namespace', async () => {
    const challenge = await freshChallenge('lena');
    expect(await refused('lena', challenge, await keygenSign('lena', challenge, 'git'))).toEqual([401, ErrorCodes.AUTHN_SIGNATURE]);
  });

  it('a key that is not the user\'s, and a name nobody registered: the same answer', async () => {
    const challenge = await freshChallenge('lena');
    expect(await refused('lena', challenge, await keygenSign('stranger', challenge))).toEqual([401, ErrorCodes.AUTHN_LOCAL_USER]);
    const nobody = await freshChallenge('nobody');
    expect(await refused('nobody', nobody, await keygenSign('stranger', nobody))).toEqual([401, ErrorCodes.AUTHN_LOCAL_USER]);
  });

  it('a malformed signature and a malformed name: refused with their codes', async () => {
    const challenge = await freshChallenge('lena');
    expect(await refused('lena', challenge, 'not a signature')).toEqual([401, ErrorCodes.AUTHN_MALFORMED]);
    expect((await challengeFor('Lena;rm')).body['code']).toBe(ErrorCodes.REQUEST_INVALID);
  });

  it('unanswered challenges are bounded per name (429)', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await challengeFor('flood')).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
  });
});

describe('session tokens', () => {
  it('expire after the configured lifetime (fake clock)', async () => {
    const token = await loginWithFile('pat', 'pat');
    clock.advance(14 * 60_000);
    expect((await issue(token)).status).toBe(201);
    clock.advance(2 * 60_000);
    const expired = await issue(token);
    expect([expired.status, expired.body['code']]).toEqual([401, ErrorCodes.AUTHN_EXPIRED]);
  });

  it('a removed user\'s token stops working at once, and they cannot log in again', async () => {
    const token = await loginWithFile('lena', 'lena');
    const challenge = await freshChallenge('lena');
    const signature = await keygenSign('lena', challenge);
    await removeLocalUser(api.ca.runtime.store, 'lena', 'local:admin');
    const after = await issue(token);
    expect([after.status, after.body['code']]).toEqual([401, ErrorCodes.AUTHN_LOCAL_USER]);
    expect((await session('lena', challenge, signature)).body['code']).toBe(ErrorCodes.AUTHN_LOCAL_USER);
  });

  it('an OIDC token still works beside them', async () => {
    expect((await issue(api.tokens.alice)).status).toBe(201);
  });
});
