import { ErrorCodes, JitcaError } from '../errors.ts';

/** OpenSSL's verify results (X509_V_ERR_*) as Node names them: the server's chain is not trusted. */
const UNTRUSTED = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
]);
const EXPIRED = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);
const TRUST_HINT = 'set "caFile" in client.json (for trust-sync: --server-ca) to the PEM of the CA that signed the server\'s certificate';

/**
 * Why the helper could not talk to a server, in words that say what to do. TLS failures are
 * ERR_SERVER_TLS (the same request fails again until the URL or the trusted CA changes), not
 * ERR_SERVER_UNREACHABLE with Node's own hint (which suggests --use-system-ca, a Node flag).
 * `https://` to a plain-HTTP port surfaces from OpenSSL as "wrong version number".
 */
export function connectionFailure(target: URL, error: Error): JitcaError {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  const tls = (message: string): JitcaError => new JitcaError(ErrorCodes.SERVER_TLS, message, { cause: error, details: { tlsError: code } });
  if (UNTRUSTED.has(code)) return tls(`the TLS certificate of ${target.origin} is not signed by a CA this helper trusts (${code}): ${TRUST_HINT}`);
  if (EXPIRED.has(code)) return tls(`the TLS certificate of ${target.origin} is outside its validity period (${code}): the server must renew it, or this machine's clock is wrong`);
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return tls(`the TLS certificate of ${target.origin} is not for ${target.hostname}: use a server URL with a name the certificate lists (${code})`);
  }
  if (target.protocol === 'https:' && /wrong version number|packet length too long|record layer failure/i.test(error.message)) {
    return tls(`${target.origin} does not answer TLS: it looks like a plain-HTTP server; use http:// if it has no TLS (only on loopback), or the port that serves TLS`);
  }
  return new JitcaError(ErrorCodes.SERVER_UNREACHABLE, `cannot reach ${target.origin}: ${error.message}`, { retryable: true, cause: error });
}
