import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../atomic-file.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { readCertificateSubject } from '../x509/certificate-subject.ts';
import type { ClientConfig } from './client-config.ts';
import type { TokenIdentity } from './token-identity.ts';

/** A certificate and the private key it certifies, as kubectl will present them. */
export interface KubeCredential {
  certificatePem: string;
  privateKeyPem: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
}

/** Whose certificate an entry is: the server, the cluster, who the token named when it was issued, and the operations asked. */
export interface KubeCredentialScope {
  server: string;
  cluster: string;
  identity: TokenIdentity;
  /** The --operation values asked, sorted; absent or empty when none were named. A certificate for others carries other groups. */
  operations?: string[];
}

/**
 * What the cache file holds; dates are read back from the certificate itself, never from here.
 * Version 1 entries named no identity: they are misses, replaced by the next issuance.
 */
interface CacheEntry {
  version: 2;
  server: string;
  cluster: string;
  identity: TokenIdentity;
  /** Absent in entries written before operations existed: the same as none asked. */
  operations?: string[];
  serial: string;
  certificate: string;
  privateKey: string;
}

/**
 * Cluster names become file names and travel to the CA: DNS-label-like only, so "../x" or an
 * empty name can neither escape the cache directory nor reach the policy.
 */
const CLUSTER_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;

/** Errors: ERR_REQUEST_INVALID unless the name is 1-63 letters, digits, '.', '_' or '-' (alphanumeric at both ends). */
export function checkClusterName(cluster: string): string {
  if (!CLUSTER_NAME.test(cluster)) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, 'cluster name must be 1-63 letters, digits, ".", "_" or "-", starting and ending with a letter or digit', {
      details: { allowed: CLUSTER_NAME.source },
    });
  }
  return cluster;
}

/** `<token cache dir>/kube/<cluster>.json`: next to the token, under the same 0700 directory. */
export function kubeCredentialCachePath(config: Pick<ClientConfig, 'tokenCache'>, cluster: string): string {
  return path.join(path.dirname(config.tokenCache), 'kube', `${checkClusterName(cluster)}.json`);
}

/**
 * Refresh when less than max(60 s, 10% of the lifetime) remains: kubectl may hold the answer for a
 * whole command (a long `logs -f` opens new connections), and a certificate that expires mid-way
 * fails the handshake-time authentication with a confusing 401.
 */
export function needsRefresh(credential: Pick<KubeCredential, 'notBefore' | 'notAfter'>, nowMs: number): boolean {
  const lifetime = credential.notAfter.getTime() - credential.notBefore.getTime();
  const margin = Math.max(60_000, lifetime / 10);
  return credential.notAfter.getTime() - nowMs < margin;
}

function sameIdentity(a: TokenIdentity | undefined, b: TokenIdentity): boolean {
  return (
    typeof a === 'object' &&
    a !== null &&
    a.issuer === b.issuer &&
    a.subject === b.subject &&
    Array.isArray(a.groups) &&
    a.groups.length === b.groups.length &&
    a.groups.every((group, i) => group === b.groups[i])
  );
}

function sameList(a: unknown, b: readonly string[]): boolean {
  return Array.isArray(a) && a.length === b.length && a.every((value, i) => value === b[i]);
}

/**
 * The cached credential for this server, cluster and identity, or undefined when there is none or
 * it is not usable (unreadable, another server's, issued while the token named someone else or
 * other groups, a certificate whose CN is not the current subject or that does not go with the
 * key): the caller then simply asks for a new one and overwrites the file.
 */
export function readCachedKubeCredential(file: string, expected: KubeCredentialScope): KubeCredential | undefined {
  let entry: Partial<CacheEntry>;
  try {
    entry = JSON.parse(readFileSync(file, 'utf8')) as Partial<CacheEntry>;
  } catch {
    return undefined;
  }
  if (entry.version !== 2 || entry.server !== expected.server || entry.cluster !== expected.cluster) return undefined;
  if (!sameIdentity(entry.identity, expected.identity)) return undefined;
  if (!sameList(entry.operations ?? [], expected.operations ?? [])) return undefined;
  if (typeof entry.certificate !== 'string' || typeof entry.privateKey !== 'string' || typeof entry.serial !== 'string') return undefined;
  try {
    const certificate = new X509Certificate(entry.certificate);
    if (!certificate.checkPrivateKey(createPrivateKey(entry.privateKey))) return undefined;
    // Whatever the entry says, the certificate is what kubectl presents: it must name this person.
    if (readCertificateSubject(new Uint8Array(certificate.raw)).commonName !== expected.identity.subject) return undefined;
    return {
      certificatePem: entry.certificate,
      privateKeyPem: entry.privateKey,
      serial: entry.serial,
      notBefore: certificate.validFromDate,
      notAfter: certificate.validToDate,
    };
  } catch {
    return undefined;
  }
}

/** Writes the credential 0600 in a 0700 directory, replaced atomically (a concurrent kubectl reads old or new, never half). */
export function writeCachedKubeCredential(file: string, scope: KubeCredentialScope, credential: KubeCredential): void {
  const dir = path.dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode only applies to directories it creates; this one holds private keys.
  chmodSync(dir, 0o700);
  const entry: CacheEntry = {
    version: 2,
    server: scope.server,
    cluster: scope.cluster,
    identity: scope.identity,
    operations: scope.operations ?? [],
    serial: credential.serial,
    certificate: credential.certificatePem,
    privateKey: credential.privateKeyPem,
  };
  writeFileAtomic(file, JSON.stringify(entry), 0o600);
}
