import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { writeFileAtomic } from '../atomic-file.ts';
import { ErrorCodes, JitcaError, isJitcaError } from '../errors.ts';
import type { ClientConfig } from './client-config.ts';
import { refreshAccessToken } from './token-refresh.ts';

const run = promisify(execFile);

interface CachedToken {
  accessToken: string;
  expiresAt: string;
  /** From a device login that asked for offline_access: renews the access token without a browser. */
  refreshToken?: string;
}

/** A token is used only if it stays valid this much longer: a slow approval must not outlive it. */
const MIN_REMAINING_MS = 60_000;

/** Caches the token (and the refresh token, if any) 0600 in a 0700 directory, replaced atomically. */
export function cacheToken(config: ClientConfig, accessToken: string, expiresInSeconds: number, now = Date.now(), refreshToken?: string): void {
  const dir = path.dirname(config.tokenCache);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const entry: CachedToken = { accessToken, expiresAt: new Date(now + expiresInSeconds * 1000).toISOString(), ...(refreshToken === undefined ? {} : { refreshToken }) };
  writeFileAtomic(config.tokenCache, JSON.stringify(entry), 0o600);
}

/** The cached token and when it expires, expired or not; undefined when there is none (whoami). */
export function readCachedToken(config: ClientConfig): { accessToken: string; expiresAt: Date } | undefined {
  try {
    const cached = JSON.parse(readFileSync(config.tokenCache, 'utf8')) as CachedToken;
    const expiresAt = new Date(cached.expiresAt);
    if (typeof cached.accessToken !== 'string' || Number.isNaN(expiresAt.getTime())) return undefined;
    return { accessToken: cached.accessToken, expiresAt };
  } catch {
    return undefined;
  }
}

/** `jitca logout`: true when there was a cached token to forget. */
export function forgetToken(config: ClientConfig): boolean {
  const had = readCachedToken(config) !== undefined;
  rmSync(config.tokenCache, { force: true });
  return had;
}

/** The bearer token for the jitca API: from the token command, or the cache `jitca login` filled. */
export async function currentToken(config: ClientConfig, now = Date.now()): Promise<string> {
  if (config.tokenCommand !== undefined) {
    const [command, ...args] = config.tokenCommand;
    const { stdout } = await run(command!, args, { timeout: 30_000, maxBuffer: 64 * 1024 });
    const token = stdout.trim();
    if (token === '') throw new JitcaError(ErrorCodes.LOGIN_REQUIRED, `token command ${command} printed no token`);
    return token;
  }
  let cached: CachedToken;
  try {
    cached = JSON.parse(readFileSync(config.tokenCache, 'utf8')) as CachedToken;
  } catch {
    throw new JitcaError(ErrorCodes.LOGIN_REQUIRED, 'no cached token: run `jitca login` first');
  }
  if (typeof cached.accessToken === 'string' && Date.parse(cached.expiresAt) - now > MIN_REMAINING_MS) return cached.accessToken;
  if (typeof cached.refreshToken !== 'string') {
    throw new JitcaError(ErrorCodes.LOGIN_REQUIRED, 'the cached token has expired: run `jitca login` again');
  }
  return refreshCached(config, cached.refreshToken, now);
}

/**
 * A new access token for an expiring cached one, from its refresh token; cached with the provider's
 * rotated refresh token when it sends one. A refused refresh token is dropped from the cache, so
 * the next command asks for `jitca login` at once instead of trying it again.
 */
async function refreshCached(config: ClientConfig, refreshToken: string, now: number): Promise<string> {
  let refreshed;
  try {
    refreshed = await refreshAccessToken(config, refreshToken);
  } catch (error) {
    if (isJitcaError(error, ErrorCodes.LOGIN_REQUIRED)) rmSync(config.tokenCache, { force: true });
    throw error;
  }
  cacheToken(config, refreshed.accessToken, refreshed.expiresIn, now, refreshed.refreshToken ?? refreshToken);
  return refreshed.accessToken;
}

/**
 * The token for each request of a long wait (ssh-cert waiting for approval): asked again every
 * time, so the wait outlives the token it started with. With a token command that is a fresh token
 * per poll; with `jitca login`'s cache it is what the cache holds now, so a `jitca login` in another
 * terminal renews a waiting helper, and a refresh token from the device login renews it by itself
 * as it nears expiry. When none gives a usable token (the cache expired, the provider is down or
 * refused the refresh, nobody logged in again), the last one is sent and the server says whether it
 * still holds.
 */
export function renewingToken(config: ClientConfig, first: string): () => Promise<string> {
  let last = first;
  return async () => {
    try {
      last = await currentToken(config);
    } catch (error) {
      if (!isJitcaError(error) || !RENEWAL_FAILURES.has(error.code)) throw error;
    }
    return last;
  };
}

/** A renewal that fails this way leaves the wait going on the token it has. */
const RENEWAL_FAILURES: ReadonlySet<string> = new Set([ErrorCodes.LOGIN_REQUIRED, ErrorCodes.SERVER_UNREACHABLE, ErrorCodes.SERVER_REFUSED]);
