import { isIPv4, isIPv6 } from 'node:net';
import { ErrorCodes, JitcaError } from '../errors.ts';

/**
 * The per-identity rate limit (app.ts) runs after authentication, so it never sees a caller whose
 * token fails: 300 bad tokens in 10 s all reached the verifier (issue 12). This limit counts, per
 * client address, the requests that arrived without a credential or whose own credential failed,
 * and refuses every further authenticated request from that address for the rest of the minute,
 * before any token is parsed.
 *
 * The address is the TCP peer's, never a forwarded header: jitca has no notion of a trusted proxy,
 * and a header anyone can send would let a flood pick a fresh "address" per request. Behind a
 * proxy on the same host every caller is loopback; that operator says so with `exemptLoopback`.
 */

export interface AuthFailureLimitOptions {
  /** Failed or credential-less requests allowed per client address per minute. */
  perMinute: number;
  /** Loopback peers are not limited (a TLS proxy or sidecar on the host speaks for everyone). */
  exemptLoopback: boolean;
}

export const AUTH_FAILURE_LIMIT_DEFAULTS: AuthFailureLimitOptions = { perMinute: 30, exemptLoopback: false };

const WINDOW_MS = 60_000;
/** Beyond this many addresses in one window, new ones share one budget: memory stays bounded. */
const MAX_TRACKED = 100_000;
const OVERFLOW = 'overflow';

export interface AuthFailureLimiter {
  /** Throws ERR_RATE_LIMITED (details.retryAfterSeconds) when the address has no failures left. */
  admit(address: string | undefined): void;
  recordFailure(address: string | undefined): void;
}

/**
 * What one client is: an IPv4 address (also when written IPv4-mapped, ::ffff:a.b.c.d), or an IPv6
 * /64, the smallest network a host is usually given; one host can use any address within it.
 */
export function clientKey(address: string | undefined): string {
  if (address === undefined || address.length === 0) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped !== null) return mapped[1] as string;
  if (isIPv4(address)) return address;
  if (!isIPv6(address)) return 'unknown';
  return `${expandIPv6(address).slice(0, 4).join(':')}::/64`;
}

/** 127.0.0.0/8 (also IPv4-mapped) and ::1. */
export function isLoopback(address: string | undefined): boolean {
  if (clientKey(address).startsWith('127.')) return true;
  return address !== undefined && isIPv6(address) && expandIPv6(address).join(':') === '0:0:0:0:0:0:0:1';
}

/** The eight groups of an IPv6 address, without leading zeros (a trailing dotted quad becomes two). */
function expandIPv6(address: string): string[] {
  const withoutZone = address.split('%')[0] as string;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(withoutZone);
  const text = dotted === null
    ? withoutZone
    : `${withoutZone.slice(0, dotted.index)}${((Number(dotted[1]) << 8) | Number(dotted[2])).toString(16)}:${((Number(dotted[3]) << 8) | Number(dotted[4])).toString(16)}`;
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : Array.from({ length: 8 - left.length - right.length }, () => '0');
  return [...left, ...zeros, ...right].map((group) => parseInt(group, 16).toString(16));
}

export function createAuthFailureLimiter(options: AuthFailureLimitOptions, now: () => number = Date.now): AuthFailureLimiter {
  if (!Number.isSafeInteger(options.perMinute) || options.perMinute < 1) {
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, 'the failed-authentication limit must be a positive integer per minute');
  }
  let windowStart = now();
  let failures = new Map<string, number>();

  function roll(at: number): void {
    if (at - windowStart < WINDOW_MS) return;
    windowStart = at - ((at - windowStart) % WINDOW_MS);
    failures = new Map();
  }

  function keyOf(address: string | undefined): string | undefined {
    if (options.exemptLoopback && isLoopback(address)) return undefined;
    const key = clientKey(address);
    return failures.has(key) || failures.size < MAX_TRACKED ? key : OVERFLOW;
  }

  return {
    admit(address) {
      const at = now();
      roll(at);
      const key = keyOf(address);
      if (key === undefined || (failures.get(key) ?? 0) < options.perMinute) return;
      const retryAfterSeconds = Math.max(1, Math.ceil((windowStart + WINDOW_MS - at) / 1000));
      throw new JitcaError(
        ErrorCodes.RATE_LIMITED,
        `more than ${options.perMinute} failed authentications from this address in a minute; retry after ${retryAfterSeconds} s`,
        { retryable: true, details: { reason: 'authentication_failures', limit: options.perMinute, retryAfterSeconds } },
      );
    },
    recordFailure(address) {
      roll(now());
      const key = keyOf(address);
      if (key !== undefined) failures.set(key, (failures.get(key) ?? 0) + 1);
    },
  };
}
