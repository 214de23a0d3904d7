import { ErrorCodes, JitcaError } from '../errors.ts';
import { readBoundedBody } from './bounded-response.ts';
import { trustedFetchUrl } from './jwt-verifier-config.ts';

const MAX_DISCOVERY_BYTES = 256 * 1024;

/**
 * Fetches the issuer's discovery document and returns its `jwks_uri`. OIDC Discovery 1.0 §4: the
 * document lives at the issuer with any trailing "/" removed plus "/.well-known/openid-configuration";
 * §4.3: its `issuer` must be identical to the configured one, or the document is not the issuer's.
 */
export async function discoverJwksUri(issuer: string, timeoutMs = 5000): Promise<string> {
  trustedFetchUrl('issuer', issuer);
  const location = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  let body: Uint8Array | undefined;
  try {
    const response = await fetch(location, { redirect: 'error', signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
    if (response.status !== 200) {
      throw new JitcaError(ErrorCodes.AUTHN_UNAVAILABLE, `the issuer's discovery document answered HTTP ${response.status}`, { retryable: true });
    }
    // Read up to the cap and no further: a body that streams on is refused, not buffered.
    body = await readBoundedBody(response, MAX_DISCOVERY_BYTES);
  } catch (error) {
    if (error instanceof JitcaError) throw error;
    throw new JitcaError(ErrorCodes.AUTHN_UNAVAILABLE, 'the issuer\'s discovery document could not be fetched', { retryable: true, cause: error });
  }
  if (body === undefined) {
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, `the issuer's discovery document is larger than ${MAX_DISCOVERY_BYTES} bytes`);
  }
  let document: unknown;
  try {
    document = JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, 'the issuer\'s discovery document is not JSON');
  }
  if (typeof document !== 'object' || document === null) {
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, 'the issuer\'s discovery document is not a JSON object');
  }
  const { issuer: published, jwks_uri: jwksUri } = document as { issuer?: unknown; jwks_uri?: unknown };
  if (published !== issuer) {
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, 'the discovery document names a different issuer than the one configured', {
      details: { configured: issuer, published: typeof published === 'string' ? published : null },
    });
  }
  if (typeof jwksUri !== 'string') {
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, 'the discovery document has no jwks_uri');
  }
  trustedFetchUrl('jwks_uri', jwksUri);
  return jwksUri;
}
