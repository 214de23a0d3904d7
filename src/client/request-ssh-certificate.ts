import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, JitcaError, isJitcaError } from '../errors.ts';
import { encodeBase64 } from '../ssh/base64.ts';
import { parseCertificate } from '../ssh/certificate.ts';
import { parseSshPublicKey } from '../ssh/public-key.ts';
import { requestJson, type JsonResponse } from './http-json.ts';
import { outcomeLine, withOutcome } from './request-outcome.ts';
import { serverRefusal } from './server-refusal.ts';
import { terminalSafe } from './terminal-text.ts';

export interface SshCertificateAsk {
  publicKey: string;
  role?: string;
  principals?: string[];
  ttl?: string;
  scope?: Record<string, string>;
  commands?: string[];
  operations?: string[];
  reason: string;
}

export interface ReceivedCertificate {
  requestId: string;
  /** "type base64": the certificate re-encoded from its checked blob, without the server's comment. */
  certificate: string;
  serial: string;
  /** From the certificate itself, not the JSON around it: ssh-add -t is set from this. */
  validBefore: Date;
  /** What the server changed from the ask (e.g. "ttl 2h exceeds role r max 30m; capped to 30m"), terminal-safe. */
  notes: string[];
}

/** More notes than any policy evaluation writes: a longer list is not jitca's. */
const MAX_NOTES = 10;

function notesOf(body: Record<string, unknown>): string[] {
  const notes = body['notes'];
  if (!Array.isArray(notes)) return [];
  return notes.filter((note): note is string => typeof note === 'string').slice(0, MAX_NOTES).map((note) => terminalSafe(note, 300));
}

export interface Progress {
  (line: string): void;
}

/** The bearer token to send now: asked again before every poll of a wait (token-source.ts renewingToken). */
export type TokenSupplier = () => Promise<string>;

/**
 * Asks the jitca API for a certificate; when the role needs approval, waits (polling, with a
 * progress line) until it is approved, denied or expires.
 *
 * Errors: the server's code; ERR_CERTIFICATE_INVALID when the reply is not a well-formed, validly
 * signed OpenSSH user certificate for `ask.publicKey` (the caller then writes nothing).
 */
export interface WaitOptions {
  ca?: Buffer;
  progress?: Progress;
  pollIntervalMs?: number;
  maxWaitMs?: number;
  /** Told the request id as soon as the request waits, so the caller can say how to resume it. */
  onPending?: (requestId: string) => void;
  /** The clock the time left is counted on (tests). */
  now?: () => number;
}

/** A jitca request id goes into URL paths and progress lines: a plain token, nothing else. */
const REQUEST_ID = /^[A-Za-z0-9_-]{1,64}$/;

export async function requestSshCertificate(server: string, token: string | TokenSupplier, ask: SshCertificateAsk, options: WaitOptions = {}): Promise<ReceivedCertificate> {
  const tokenNow = supplierOf(token);
  const created = await requestJson(`${server}/v1/ssh/certificates`, { body: ask, headers: { authorization: `Bearer ${await tokenNow()}` }, ca: options.ca });
  if (created.status === 201) return received(created, ask.publicKey);
  if (created.status !== 202) throw serverRefusal(created);
  const requestId = created.body['requestId'];
  if (typeof requestId !== 'string' || !REQUEST_ID.test(requestId)) {
    throw new JitcaError(ErrorCodes.SERVER_REFUSED, 'the server answered 202 without a usable request id');
  }
  // Before the line that tells the engineer it waits: a Ctrl-C from then on says how to resume.
  options.onPending?.(requestId);
  options.progress?.(`request ${requestId} needs approval (${describeApprovers(created.body)}); waiting…`);
  // Just made: approvers have not had a poll interval to act yet.
  return awaitSshCertificate(server, tokenNow, requestId, ask.publicKey, { ...options, pollAtOnce: false });
}

/**
 * Waits for the certificate of a request already made (this run's, or one resumed with
 * `ssh-cert --request-id`): polls until it is issued, denied or expires. Only the requester may
 * collect it (the server checks); the certificate must be for `publicKey`, the key the request
 * was made for, or nothing is written.
 */
export async function awaitSshCertificate(
  server: string,
  token: string | TokenSupplier,
  requestId: string,
  publicKey: string,
  options: WaitOptions & { pollAtOnce?: boolean } = {},
): Promise<ReceivedCertificate> {
  if (!REQUEST_ID.test(requestId)) throw new JitcaError(ErrorCodes.REQUEST_INVALID, 'a request id is letters, digits, _ and - (at most 64)');
  const tokenNow = supplierOf(token);
  const headers = async () => ({ authorization: `Bearer ${await tokenNow()}` });
  const now = options.now ?? Date.now;
  const deadline = now() + (options.maxWaitMs ?? 15 * 60_000);
  const report = reportChanges(options.progress);
  let first = options.pollAtOnce ?? true;
  while (now() < deadline) {
    if (!first) await sleep(options.pollIntervalMs ?? 2000);
    first = false;
    await sleep(options.pollIntervalMs ?? 2000);
    const polled = await requestJson(`${server}/v1/requests/${requestId}/certificate`, { headers: await headers(), ca: options.ca });
    if (polled.status === 200) {
      const certificate = received(polled, publicKey);
      const outcome = await outcomeLine({ server, token: await tokenNow(), ca: options.ca }, requestId);
      if (outcome !== undefined) options.progress?.(outcome);
      return certificate;
    }
    if (polled.status !== 202) throw await withOutcome(serverRefusal(polled), { server, token: await tokenNow(), ca: options.ca }, requestId);
    options.onPending?.(requestId);
    const approvals = Array.isArray(polled.body['approvals']) ? polled.body['approvals'].length : 0;
    report(`request ${requestId}: ${approvals} approval(s) so far; ${timeLeft(polled.body['expiresAt'], now())}`);
  }
  throw new JitcaError(ErrorCodes.REQUEST_NOT_PENDING, `gave up waiting for approval of ${requestId}`);
}

/** A wait can outlive the token it started with: each request asks for the token to send then. */
function supplierOf(token: string | TokenSupplier): TokenSupplier {
  return typeof token === 'string' ? () => Promise.resolve(token) : token;
}

/**
 * "expires in 1h 05m", "in 12m", "in 40s": what the engineer can act on. Whole minutes above one,
 * so the line (rewritten in place on a terminal, a new line elsewhere) changes once a minute.
 */
export function timeLeft(expiresAt: unknown, nowMs: number): string {
  const at = typeof expiresAt === 'string' ? Date.parse(expiresAt) : Number.NaN;
  if (Number.isNaN(at)) return 'expiry unknown';
  const seconds = Math.max(0, Math.round((at - nowMs) / 1000));
  if (seconds < 60) return `expires in ${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60 ? `expires in ${minutes}m` : `expires in ${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, '0')}m`;
}

/** A line repeated every poll says nothing new: the caller hears only when the line changes. */
function reportChanges(progress: Progress | undefined): Progress {
  let last: string | undefined;
  return (line) => {
    if (line === last) return;
    last = line;
    progress?.(line);
  };
}

/**
 * The reply is written over the engineer's -cert.pub and handed to ssh-add: it must be a user
 * certificate (PROTOCOL.certkeys) for exactly the key this request sent, and one line, so a
 * wrong, truncated or hostile answer never replaces a working certificate.
 */
function received(response: JsonResponse, publicKey: string): ReceivedCertificate {
  const text = response.body['certificate'];
  if (typeof text !== 'string') throw new JitcaError(ErrorCodes.CERTIFICATE_INVALID, `the server answered ${response.status} without a certificate`);
  let certificate: ReturnType<typeof parseCertificate>;
  try {
    certificate = parseCertificate(text);
  } catch (error) {
    if (!isJitcaError(error)) throw error;
    throw new JitcaError(ErrorCodes.CERTIFICATE_INVALID, `the server answered with something that is not an OpenSSH certificate (${error.code})`, { cause: error });
  }
  const sent = parseSshPublicKey(publicKey);
  if (certificate.certType !== 'user' || !certificate.signatureValid || !Buffer.from(certificate.key.blob).equals(sent.blob)) {
    throw new JitcaError(
      ErrorCodes.CERTIFICATE_INVALID,
      `certificate ${certificate.serial} from the server is not a validly signed user certificate for the key this request sent (${sent.fingerprint})`,
    );
  }
  return {
    requestId: String(response.body['requestId']),
    certificate: `${certificate.type} ${encodeBase64(certificate.blob)}`,
    serial: certificate.serial.toString(),
    validBefore: new Date(Number(certificate.validBefore) * 1000),
    notes: notesOf(response.body),
  };
}

function describeApprovers(body: Record<string, unknown>): string {
  const groups = Array.isArray(body['approverGroups']) ? body['approverGroups'].join(', ') : 'an approver';
  return terminalSafe(`${String(body['required'] ?? 1)} approval(s) from ${groups}`);
}
