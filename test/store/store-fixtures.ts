/** Shared builders for the store tests: temp databases and valid entries. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { openStore } from '../../src/store/store.ts';
import type { OpenStoreOptions } from '../../src/store/store.ts';
import type { DecisionEntry, Store } from '../../src/store/types.ts';

export const START_MS = Date.parse('2025-03-01T12:00:00.000Z');

export interface TempStore {
  store: Store;
  dir: string;
  dbPath: string;
  clock: ReturnType<typeof fixedClock>;
}

export function makeTempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'jitca-store-'));
}

export async function openTempStore(
  dir = makeTempDir(),
  options: Partial<Omit<OpenStoreOptions, 'sqlitePath'>> = {},
): Promise<TempStore> {
  const clock = fixedClock(START_MS);
  const dbPath = path.join(dir, 'jitca.db');
  const store = await openStore({ sqlitePath: dbPath, clock, ...options });
  return { store, dir, dbPath, clock };
}

let nextSerial = 1000n;

/** A distinct serial per call, spread over the full unsigned 64-bit range. */
export function freshSerial(): string {
  nextSerial += 1n;
  return (18446744073709551615n - nextSerial * 7919n).toString();
}

export function issuedEntry(requestId: string, serial = freshSerial()): DecisionEntry {
  return {
    request: {
      id: requestId,
      kind: 'ssh-user',
      requester: 'alice@example.com',
      role: 'oncall-payments',
      state: 'issued',
      body: { principals: ['payments'], ttlSeconds: 1800, reason: 'INC-42' },
      decision: { outcome: 'approve', rule: 'oncall-payments' },
      createdAt: '2025-03-01T12:00:00.000Z',
    },
    certificate: {
      serial,
      kind: 'ssh-user',
      identity: 'alice@example.com',
      keyId: `alice@example.com/${requestId}`,
      keyFingerprint: 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU',
      principals: ['payments'],
      scope: { namespace: 'payments', commands: ['kubectl logs'] },
      validAfter: '2025-03-01T11:59:00.000Z',
      validBefore: '2025-03-01T12:30:00.000Z',
      caKeyId: 'ssh-user-ca/1',
      requestId,
      certificate: `ssh-ed25519-cert-v01@openssh.com AAAA${requestId} alice`,
    },
    event: {
      type: 'ssh.issued',
      actor: 'alice@example.com',
      subject: 'alice@example.com',
      requestId,
      data: { serial, principals: ['payments'], rule: 'oncall-payments' },
    },
  };
}

export function deniedEntry(requestId: string): DecisionEntry {
  return {
    request: {
      id: requestId,
      kind: 'x509-client',
      requester: 'mallory@example.com',
      state: 'denied',
      body: { role: 'admin' },
      decision: { outcome: 'deny', rule: 'no-admin' },
      createdAt: '2025-03-01T12:00:00.000Z',
    },
    event: { type: 'x509.denied', actor: 'mallory@example.com', data: { rule: 'no-admin' } },
  };
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * For test files that open one temp store per test: call at the top level (it registers an
 * afterEach that closes and removes every store opened through it), then `await openStore()`
 * inside each test, with openTempStore's options.
 */
export function tempStorePerTest(): (options?: Partial<Omit<OpenStoreOptions, 'sqlitePath'>>) => Promise<TempStore> {
  const opened: TempStore[] = [];
  afterEach(async () => {
    for (const temp of opened.splice(0)) {
      await temp.store.close();
      removeDir(temp.dir);
    }
  });
  return async (options = {}) => {
    const temp = await openTempStore(undefined, options);
    opened.push(temp);
    return temp;
  };
}
