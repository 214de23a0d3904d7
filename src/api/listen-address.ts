import { isIP } from 'node:net';
import { ErrorCodes, JitcaError } from '../errors.ts';

/** 127.0.0.0/8, ::1 (also IPv4-mapped), and the name "localhost". */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare.toLowerCase() === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) {
    const lower = bare.toLowerCase();
    return lower === '::1' || lower === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(lower);
  }
  return false;
}

/**
 * The API carries bearer tokens in and certificates out: without TLS, anything on the path reads
 * both. Listening in clear is allowed on loopback (the default, and behind a local TLS proxy), or
 * where the operator says TLS ends in front of jitca (server.allowPlaintext). Checked before
 * anything is created or opened.
 */
export function assertListenSafe(host: string, server: { tls?: unknown; allowPlaintext: boolean }): void {
  if (server.tls !== undefined || server.allowPlaintext || isLoopbackHost(host)) return;
  throw new JitcaError(
    ErrorCodes.CONFIG_INVALID,
    `refusing to listen on ${host} without TLS: tokens and certificates would cross the network in clear. ` +
      'Configure server.tls, or set server.allowPlaintext: true where TLS ends in front of jitca (a service mesh, a local TLS proxy)',
    { details: { host } },
  );
}
