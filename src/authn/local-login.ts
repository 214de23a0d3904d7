import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import type { Signer } from '../keys/signer.ts';
import { sshFingerprint } from '../ssh/public-key.ts';
import { parseArmouredSshSig, verifySshSig } from '../ssh/sshsig.ts';
import type { Store } from '../store/types.ts';
import { checkLocalUserName } from './local-identity-names.ts';
import { issueLocalSession, type LocalSession } from './local-session.ts';

/**
 * Local login (issue 14): the person asks for a challenge for their name, signs it with their SSH
 * key in OpenSSH's SSHSIG format (`ssh-keygen -Y sign -n <namespace>`, or ssh-agent through the
 * helper), and trades the signature for a session token. The challenge is random, single use
 * (spent by the first attempt, whatever its outcome), short-lived and bound to the name it was
 * asked for; the namespace binds the signature to this purpose and this CA (PROTOCOL.sshsig), so
 * a signature the key made for anything else (git commits, another CA) never logs in.
 *
 * Challenges live in the store's auth_challenges table with purpose "login": every replica sees
 * them, and key enrollment's proof of possession can use the same table with its own purpose.
 */

export const LOGIN_PURPOSE = 'login';
const CHALLENGE_BYTES = 32;
/** base64url of CHALLENGE_BYTES: what the routes' schema accepts. */
export const CHALLENGE_PATTERN = '^[A-Za-z0-9_-]{43}$';

export interface LocalLoginContext {
  store: Pick<Store, 'issueAuthChallenge' | 'consumeAuthChallenge' | 'findLocalUser' | 'appendAudit'>;
  /** The session signing key (local-session.ts SESSION_KEY_SLOT), read at each login. */
  sessionSigner: () => Signer;
  clock: Clock;
  namespace: string;
  challengeTtlSeconds: number;
  challengesPerName: number;
  challengesPerAddress: number;
  sessionTtlSeconds: number;
}

export interface LoginChallenge {
  /** What to sign, as text (the message is these ASCII bytes). */
  challenge: string;
  namespace: string;
  expiresAt: Date;
}

/**
 * A challenge for any well-formed name, registered or not: whether a name exists is not told to
 * someone who has not yet proved a key.
 */
export async function issueLoginChallenge(context: LocalLoginContext, name: string, address: string): Promise<LoginChallenge> {
  checkLocalUserName(name);
  const now = context.clock.now();
  const challenge = randomBytes(CHALLENGE_BYTES).toString('base64url');
  const expiresAt = new Date(now + context.challengeTtlSeconds * 1000);
  const outcome = await context.store.issueAuthChallenge(
    { id: challenge, purpose: LOGIN_PURPOSE, name, address, expiresAt: expiresAt.toISOString() },
    { perName: context.challengesPerName, perAddress: context.challengesPerAddress, nowIso: new Date(now).toISOString() },
  );
  if (outcome !== 'issued') {
    const limit = outcome === 'name-full' ? `${context.challengesPerName} per name` : `${context.challengesPerAddress} per address`;
    throw new JitcaError(ErrorCodes.RATE_LIMITED, `too many unanswered login challenges (at most ${limit}); answer one or wait ${context.challengeTtlSeconds}s`, {
      details: { retryAfterSeconds: context.challengeTtlSeconds },
    });
  }
  return { challenge, namespace: context.namespace, expiresAt };
}

export interface SessionRequest {
  name: string;
  challenge: string;
  /** Armoured SSHSIG (`-----BEGIN SSH SIGNATURE-----`) over the challenge text. */
  signature: string;
}

export interface SessionGranted extends LocalSession {
  subject: string;
  groups: string[];
}

/** Verifies the proof, then signs and audits the session; any refusal is a 401 with its code. */
export async function createSessionFromSignature(context: LocalLoginContext, request: SessionRequest): Promise<SessionGranted> {
  checkLocalUserName(request.name);
  const spent = await context.store.consumeAuthChallenge(request.challenge, LOGIN_PURPOSE);
  if (spent === undefined || spent.name !== request.name) {
    throw new JitcaError(ErrorCodes.AUTHN_CHALLENGE, 'the login challenge is unknown, already used, or was asked for another name; ask for a new one', {
      details: { reason: 'unknown' },
    });
  }
  if (Date.parse(spent.expiresAt) <= context.clock.now()) {
    throw new JitcaError(ErrorCodes.AUTHN_CHALLENGE, `the login challenge expired (challenges live ${context.challengeTtlSeconds}s); ask for a new one`, {
      details: { reason: 'expired' },
    });
  }
  const signed = verifySshSig(parseArmouredSshSig(request.signature), {
    namespace: context.namespace,
    message: Buffer.from(request.challenge, 'ascii'),
  });
  const fingerprint = sshFingerprint(signed);
  const user = await context.store.findLocalUser(request.name);
  if (user === undefined || user.fingerprint !== fingerprint) {
    throw new JitcaError(ErrorCodes.AUTHN_LOCAL_USER, `no local user ${request.name} is registered with the key that signed (${fingerprint})`, {
      details: { reason: 'user' },
    });
  }
  const session = await issueLocalSession(context.sessionSigner(), user, context.sessionTtlSeconds, context.clock);
  // Nothing leaves before its record: the session is audited before the token is returned.
  await context.store.appendAudit({
    type: 'user.session',
    actor: user.name,
    data: { fingerprint, expiresAt: session.expiresAt.toISOString() },
  });
  return { ...session, subject: user.name, groups: user.groups };
}
