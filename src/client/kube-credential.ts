import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { systemClock, type Clock } from '../clock.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { parseDuration } from '../policy/duration.ts';
import type { ClientConfig } from './client-config.ts';
import { checkClusterName, kubeCredentialCachePath, needsRefresh, readCachedKubeCredential, writeCachedKubeCredential, type KubeCredential } from './kube-credential-cache.ts';
import { generateKubeKeyAndCsr } from './kube-credential-key.ts';
import { requestX509Certificate } from './kube-credential-request.ts';
import { readCertificateSubject } from '../x509/certificate-subject.ts';
import { readTokenIdentity, type TokenIdentity } from './token-identity.ts';
import { currentToken } from './token-source.ts';

export type { KubeCredential } from './kube-credential-cache.ts';

export interface KubeCredentialOptions {
  /** The policy's cluster scope (and the cache file's name). */
  cluster: string;
  /** Asked lifetime, e.g. "30m"; the role's limits apply on the server. */
  ttl?: string;
  /** The operations needed (--operation); absent: the least the role allows. */
  operations?: string[];
  clock?: Clock;
}

export interface ObtainedKubeCredential {
  credential: KubeCredential;
  /** "cache" when a cached certificate was still fresh enough, "issued" when the CA signed a new one. */
  source: 'cache' | 'issued';
  cacheFile: string;
}

/**
 * A client certificate for kubectl: the cached one while it has enough life left (needsRefresh)
 * and was issued to whom the current token names, otherwise a new key, a CSR, and
 * POST /v1/x509/certificates with the engineer's bearer token. The token is read first, every
 * time: a client.json switched to another identity (another token command, another IdP account)
 * must never be handed the previous person's certificate.
 *
 * Errors: ERR_REQUEST_INVALID for a bad cluster name; ERR_TTL_INVALID for a bad ttl; from
 * currentToken (ERR_LOGIN_REQUIRED); the server's code; ERR_CERTIFICATE_INVALID when the reply is
 * not a certificate for the key this call generated, or its CN is not the token's subject
 * (nothing is cached then).
 */
export async function obtainKubeCredential(config: ClientConfig, options: KubeCredentialOptions): Promise<ObtainedKubeCredential> {
  const cluster = checkClusterName(options.cluster);
  if (options.ttl !== undefined) parseDuration(options.ttl);
  const clock = options.clock ?? systemClock;
  const cacheFile = kubeCredentialCachePath(config, cluster);
  const token = await currentToken(config, clock.now());
  // Unverified (token-identity.ts): a cache key only. A token it cannot read is the server's to refuse.
  const identity = readTokenIdentity(token, { subject: config.subjectClaim ?? 'sub', groups: config.groupsClaim ?? 'groups' });
  const operations = [...new Set(options.operations ?? [])].sort();
  const scope = identity === undefined ? undefined : { server: config.server, cluster, identity, operations };
  const cached = scope === undefined ? undefined : readCachedKubeCredential(cacheFile, scope);
  if (cached !== undefined && !needsRefresh(cached, clock.now())) return { credential: cached, source: 'cache', cacheFile };

  const { privateKeyPem, csrPem } = generateKubeKeyAndCsr();
  const issued = await requestX509Certificate(
    config.server,
    token,
    { csr: csrPem, cluster, ...(options.ttl === undefined ? {} : { ttl: options.ttl }), ...(operations.length === 0 ? {} : { operations }) },
    { ca: config.caFile === undefined ? undefined : readFileSync(config.caFile) },
  );
  const credential = {
    ...certifiedValidity(issued.certificatePem, privateKeyPem, identity),
    certificatePem: issued.certificatePem,
    privateKeyPem,
    serial: issued.serial,
  };
  if (scope !== undefined) writeCachedKubeCredential(cacheFile, scope, credential);
  return { credential, source: 'issued', cacheFile };
}

/** The certificate, not the JSON around it, is what kubectl presents: its own dates and CN count. */
function certifiedValidity(certificatePem: string, privateKeyPem: string, identity: TokenIdentity | undefined): { notBefore: Date; notAfter: Date } {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certificatePem);
  } catch (error) {
    throw new JitcaError(ErrorCodes.CERTIFICATE_INVALID, 'the server answered with something that is not an X.509 certificate', { cause: error });
  }
  if (!certificate.checkPrivateKey(createPrivateKey(privateKeyPem))) {
    throw new JitcaError(ErrorCodes.CERTIFICATE_INVALID, `certificate ${certificate.serialNumber} from the server is not for the key this request sent`);
  }
  const commonName = readCertificateSubject(new Uint8Array(certificate.raw)).commonName;
  if (identity === undefined || commonName !== identity.subject) {
    throw new JitcaError(
      ErrorCodes.CERTIFICATE_INVALID,
      `certificate ${certificate.serialNumber} from the server is not for the subject the token names; if the server takes the user from another claim than "sub", set "subjectClaim" in client.json to it`,
    );
  }
  return { notBefore: certificate.validFromDate, notAfter: certificate.validToDate };
}
