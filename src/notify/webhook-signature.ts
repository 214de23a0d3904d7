import { createHmac } from 'node:crypto';

/** The header a signed (json) webhook carries: `t=<unix seconds>,v1=<hex HMAC-SHA256>`. */
export const SIGNATURE_HEADER = 'jitca-signature';

/**
 * Stripe's scheme (GitHub's X-Hub-Signature-256 signs the body alone): the MAC covers
 * `<t>.<body>`, so a receiver that refuses a `t` older than a few minutes cannot be fed a
 * recorded delivery again later, and the body cannot be moved under another timestamp. The
 * receiver recomputes it over the raw body it read and compares in constant time.
 */
export function webhookSignature(secret: Buffer, unixSeconds: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.`).update(body).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}
