import { createHmac, createPrivateKey, createPublicKey, sign, type JsonWebKey } from 'node:crypto';
import { SignJWT, generateKeyPair, importJWK, type JWK, type JWTPayload } from 'jose';

/**
 * Hand-built tokens an attacker can make without the issuer's private key (or, for
 * signedWithIssuerKey, what a misbehaving issuer could sign). Tokens the real provider can mint
 * come from test/support/oidc-provider.ts instead.
 */

const b64url = (value: string | Buffer): string => Buffer.from(value).toString('base64url');

export function decodePayload(token: string): JWTPayload {
  const [, payload = ''] = token.split('.');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as JWTPayload;
}

/** RFC 7519 §6.1 unsecured JWT: `alg` spelled as given, empty signature. */
export function unsecuredToken(payload: JWTPayload, alg = 'none'): string {
  return `${b64url(JSON.stringify({ alg, typ: 'at+jwt' }))}.${b64url(JSON.stringify(payload))}.`;
}

/**
 * The algorithm-confusion attack: HS256 with the issuer's *public* key (SPKI PEM bytes) as the
 * HMAC secret, which a verifier that lets the token choose the algorithm would accept.
 */
export function hmacWithPublicKey(payload: JWTPayload, issuerPublicJwk: JWK): string {
  const pem = createPublicKey({ key: issuerPublicJwk as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
  const signingInput = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'at+jwt', kid: issuerPublicJwk.kid }))}.${b64url(JSON.stringify(payload))}`;
  return `${signingInput}.${createHmac('sha256', pem).update(signingInput).digest('base64url')}`;
}

/** Signed by a fresh key the issuer never published, under the given `kid` (default: a new one). */
export async function signedWithUnknownKey(payload: JWTPayload, kid = 'attacker-key'): Promise<string> {
  const { privateKey } = await generateKeyPair('RS256');
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid }).sign(privateKey);
}

/** Signed with one of the issuer's own private keys: what a misbehaving issuer could produce. */
export async function signedWithIssuerKey(payload: JWTPayload, privateJwk: JWK, header: Record<string, unknown> = {}): Promise<string> {
  const key = await importJWK(privateJwk, 'RS256');
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: privateJwk.kid, ...header }).sign(key);
}

/**
 * Header and payload given as JSON text and signed RS256 with one of the issuer's own private keys:
 * what JSON.stringify (and so SignJWT or the provider) cannot produce, e.g. a member named twice.
 */
export function signedTextWithIssuerKey(headerJson: string, payloadJson: string, privateJwk: JWK): string {
  const signingInput = `${b64url(headerJson)}.${b64url(payloadJson)}`;
  const key = createPrivateKey({ key: privateJwk as JsonWebKey, format: 'jwk' });
  return `${signingInput}.${sign('sha256', Buffer.from(signingInput), key).toString('base64url')}`;
}

/** The payload segment replaced (claims changed), header and signature kept. */
export function withTamperedPayload(token: string, change: (payload: JWTPayload) => JWTPayload): string {
  const [header = '', payload = '', signature = ''] = token.split('.');
  const changed = change(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as JWTPayload);
  return `${header}.${b64url(JSON.stringify(changed))}.${signature}`;
}

/** The public half of a private JWK (what the issuer's JWKS publishes). */
export function publicJwk(privateJwk: JWK): JWK {
  const pub = createPublicKey({ key: privateJwk as JsonWebKey, format: 'jwk' }).export({ format: 'jwk' });
  return { ...(pub as JWK), kid: privateJwk.kid, alg: 'RS256', use: 'sig' };
}
