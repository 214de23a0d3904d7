import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { systemClock, type Clock } from '../clock.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { parseDuration } from '../policy/duration.ts';
import type { ClientConfig } from './client-config.ts';
import { checkClusterName, kubeCredentialCachePath, needsRefresh, readCachedKubeCredential, writeCachedKubeCredential, type KubeCredential } from './kube-credential-cache.ts';
import { generateKubeKeyAndCsr } from './kube-credential-key.ts';
import { requestX509Certificate } from './kube-credential-request.ts';
import { currentToken } from './token-source.ts';

export type { KubeCredential } from './kube-credential-cache.ts';

export interface KubeCredentialOptions {
  /** The policy's cluster scope (and the cache file's name). */
  cluster: string;
  /** Asked lifetime, e.g. "30m"; the role's limits apply on the server. */
  ttl?: string;
  clock?: Clock;
}

export interface ObtainedKubeCredential {
  credential: KubeCredential;
  /** "cache" when a cached certificate was still fresh enough, "issued" when the CA signed a new one. */
  source: 'cache' | 'issued';
  cacheFile: string;
}

/**
 * A client certificate for kubectl: the cached one while it has enough life left (needsRefresh),
 * otherwise a new key, a CSR, and POST /v1/x509/certificates with the engineer's bearer token.
 *
 * Errors: ERR_REQUEST_INVALID for a bad cluster name; ERR_TTL_INVALID for a bad ttl; from
 * currentToken (ERR_LOGIN_REQUIRED); the server's code; ERR_CERTIFICATE_INVALID when the reply is
 * not a certificate for the key this call generated (nothing is cached then).
 */
export async function obtainKubeCredential(config: ClientConfig, options: KubeCredentialOptions): Promise<ObtainedKubeCredential> {
  const cluster = checkClusterName(options.cluster);
  if (options.ttl !== undefined) parseDuration(options.ttl);
  const clock = options.clock ?? systemClock;
  const cacheFile = kubeCredentialCachePath(config, cluster);
  const scope = { server: config.server, cluster };
  const cached = readCachedKubeCredential(cacheFile, scope);
  if (cached !== undefined && !needsRefresh(cached, clock.now())) return { credential: cached, source: 'cache', cacheFile };

  const token = await currentToken(config, clock.now());
  const { privateKeyPem, csrPem } = generateKubeKeyAndCsr();
  const issued = await requestX509Certificate(
    config.server,
    token,
    { csr: csrPem, cluster, ...(options.ttl === undefined ? {} : { ttl: options.ttl }) },
    { ca: config.caFile === undefined ? undefined : readFileSync(config.caFile) },
  );
  const credential = { ...certifiedValidity(issued.certificatePem, privateKeyPem), certificatePem: issued.certificatePem, privateKeyPem, serial: issued.serial };
  writeCachedKubeCredential(cacheFile, scope, credential);
  return { credential, source: 'issued', cacheFile };
}

/** The certificate, not the JSON around it, is what kubectl presents: its own dates count. */
function certifiedValidity(certificatePem: string, privateKeyPem: string): { notBefore: Date; notAfter: Date } {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certificatePem);
  } catch (error) {
    throw new JitcaError(ErrorCodes.CERTIFICATE_INVALID, 'the server answered with something that is not an X.509 certificate', { cause: error });
  }
  if (!certificate.checkPrivateKey(createPrivateKey(privateKeyPem))) {
    throw new JitcaError(ErrorCodes.CERTIFICATE_INVALID, `certificate ${certificate.serialNumber} from the server is not for the key this request sent`);
  }
  return { notBefore: certificate.validFromDate, notAfter: certificate.validToDate };
}
