import { createPrivateKey, randomUUID, sign, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';

/**
 * Single-use RS256 ID tokens for step-ca's OIDC provisioner, signed with the bench issuer's own key
 * (the one its JWKS publishes), so step-ca verifies them exactly as tokens the issuer handed out.
 * step-ca records each token and refuses one it has seen, so every request needs its own: they are
 * minted before a phase, off the clock (about 1 ms of RSA each on this machine).
 */
export interface IdTokenMinter {
  /** `count` distinct tokens, round-robin over `emails`, valid for an hour from now. */
  mint(count: number): string[];
}

export function idTokenMinter(options: { signingKey: JWK; issuer: string; audience: string; emails: string[] }): IdTokenMinter {
  const key: KeyObject = createPrivateKey({ key: options.signingKey as import('node:crypto').JsonWebKey, format: 'jwk' });
  const header = base64url({ alg: 'RS256', typ: 'JWT', kid: options.signingKey.kid });
  return {
    mint(count) {
      const now = Math.floor(Date.now() / 1000);
      const tokens: string[] = [];
      for (let i = 0; i < count; i++) {
        const email = options.emails[i % options.emails.length]!;
        const payload = base64url({
          iss: options.issuer,
          aud: options.audience,
          sub: email,
          email,
          email_verified: true,
          iat: now,
          nbf: now - 60,
          exp: now + 3600,
          jti: randomUUID(),
        });
        const signature = sign('sha256', Buffer.from(`${header}.${payload}`), key).toString('base64url');
        tokens.push(`${header}.${payload}.${signature}`);
      }
      return tokens;
    },
  };
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
