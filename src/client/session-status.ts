import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseCertificate, type ParsedSshCertificate } from '../ssh/certificate-parse.ts';
import { parseSshPublicKey } from '../ssh/public-key.ts';
import type { ClientConfig } from './client-config.ts';
import { DEFAULT_IDENTITY_CLAIMS, readTokenIdentity, type TokenIdentity } from './token-identity.ts';
import { readCachedToken } from './token-source.ts';

/** One certificate jitca wrote or put in ssh-agent, as `whoami` shows it. */
export interface CertificateSummary {
  /** The file it was read from, or "ssh-agent". */
  where: string;
  serial: bigint;
  keyId: string;
  principals: string[];
  validBefore: Date;
  /** The agent's line for it (public, no secret): logout deletes the agent entry by it. */
  line: string;
}

export interface SessionStatus {
  /** From the stored token's claims, read unverified (token-identity.ts says why that is enough here). */
  identity: TokenIdentity | undefined;
  tokenExpiresAt: Date | undefined;
  onDisk: CertificateSummary[];
  inAgent: CertificateSummary[];
}

/** The names `ssh-cert` writes next to its key: <key>-cert.pub and <key>-<role>-cert.pub. */
function isJitcaCertificateFile(name: string, keyName: string): boolean {
  return name.startsWith(keyName) && name.endsWith('-cert.pub');
}

function summarize(certificate: ParsedSshCertificate, where: string, line: string): CertificateSummary {
  return {
    where,
    serial: certificate.serial,
    keyId: certificate.keyId,
    principals: certificate.principals,
    validBefore: new Date(Number(certificate.validBefore) * 1000),
    line,
  };
}

export function certificatesOnDisk(key: string): CertificateSummary[] {
  const dir = path.dirname(key);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: CertificateSummary[] = [];
  for (const name of names.filter((entry) => isJitcaCertificateFile(entry, path.basename(key))).sort()) {
    const file = path.join(dir, name);
    try {
      const line = readFileSync(file, 'utf8').trim();
      out.push(summarize(parseCertificate(line), file, line));
    } catch {
      // Not a certificate (or unreadable): whoami reports what it can read, it repairs nothing.
    }
  }
  return out;
}

/**
 * jitca's certificates in ssh-agent: those certifying the jitca key, or signed by the CA that
 * signed a certificate jitca wrote. Other certificates in the agent are the engineer's own business.
 */
export function jitcaCertificatesInAgent(key: string, onDisk: readonly CertificateSummary[], env: NodeJS.ProcessEnv = process.env): CertificateSummary[] {
  if ((env['SSH_AUTH_SOCK'] ?? '') === '') return [];
  const listed = spawnSync('ssh-add', ['-L'], { env, encoding: 'utf8', timeout: 10_000 });
  if (listed.status !== 0 || typeof listed.stdout !== 'string') return [];
  const ownKeys = new Set<string>();
  const signers = new Set<string>();
  try {
    ownKeys.add(parseSshPublicKey(readFileSync(`${key}.pub`, 'utf8')).fingerprint);
  } catch {
    // No jitca key yet: only the CA of certificates on disk can name jitca's agent entries.
  }
  for (const summary of onDisk) {
    const certificate = parseCertificate(summary.line);
    ownKeys.add(certificate.key.fingerprint);
    signers.add(certificate.signatureKey.fingerprint);
  }
  const out: CertificateSummary[] = [];
  for (const line of listed.stdout.split('\n').map((entry) => entry.trim())) {
    if (!line.split(' ', 1)[0]!.includes('-cert-v01@openssh.com')) continue;
    try {
      const certificate = parseCertificate(line);
      if (ownKeys.has(certificate.key.fingerprint) || signers.has(certificate.signatureKey.fingerprint)) out.push(summarize(certificate, 'ssh-agent', line));
    } catch {
      // A certificate type this parser does not know is not one jitca issued.
    }
  }
  return out;
}

export function sessionStatus(config: ClientConfig, key: string, env: NodeJS.ProcessEnv = process.env): SessionStatus {
  const cached = readCachedToken(config);
  const claims = { subject: config.subjectClaim ?? DEFAULT_IDENTITY_CLAIMS.subject, groups: config.groupsClaim ?? DEFAULT_IDENTITY_CLAIMS.groups };
  const onDisk = certificatesOnDisk(key);
  return {
    identity: cached === undefined ? undefined : readTokenIdentity(cached.accessToken, claims),
    tokenExpiresAt: cached?.expiresAt,
    onDisk,
    inAgent: jitcaCertificatesInAgent(key, onDisk, env),
  };
}

function validity(validBefore: Date, now: number): string {
  const seconds = Math.floor((validBefore.getTime() - now) / 1000);
  return seconds > 0 ? `valid until ${validBefore.toISOString()} (${seconds}s more)` : `expired ${validBefore.toISOString()}`;
}

/** What `jitca whoami` prints: never the token itself. */
export function sessionStatusText(status: SessionStatus, now = Date.now()): string {
  const lines: string[] = [];
  if (status.tokenExpiresAt === undefined) lines.push('not logged in (no stored token): run `jitca login`');
  else {
    lines.push(`identity: ${status.identity?.subject ?? '(the stored token names no subject)'}`);
    if (status.identity?.issuer) lines.push(`issuer:   ${status.identity.issuer}`);
    lines.push(`groups:   ${status.identity === undefined || status.identity.groups.length === 0 ? '(none)' : status.identity.groups.join(', ')}`);
    lines.push(`token:    ${validity(status.tokenExpiresAt, now)}`);
  }
  const certificates = [...status.onDisk, ...status.inAgent];
  if (certificates.length === 0) lines.push('certificates: none');
  for (const summary of certificates) {
    lines.push(`certificate ${summary.where}: serial ${summary.serial}, key id ${summary.keyId}, principals ${summary.principals.join(',')}, ${validity(summary.validBefore, now)}`);
  }
  return `${lines.join('\n')}\n`;
}
