import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { isJitcaError, type JitcaError } from '../../src/errors.ts';

/** Real openssl(1) (OpenSSL 3.0 on these machines), as a kubectl user or an auditor would run it. */
export interface OpensslResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function openssl(args: readonly string[], input?: string | Uint8Array): OpensslResult {
  const result = spawnSync('openssl', args, { input, encoding: 'utf8', timeout: 20_000 });
  if (result.error !== undefined) throw result.error;
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

export function opensslOk(args: readonly string[], input?: string | Uint8Array): string {
  const result = openssl(args, input);
  if (result.status !== 0) throw new Error(`openssl ${args.join(' ')} failed (${result.status}): ${result.stderr}`);
  return result.stdout;
}

export type TestKeyKind = 'ed25519' | 'p256' | 'p384' | 'rsa2048' | 'rsa1024' | 'secp256k1' | 'dsa';

const GENPKEY_ARGS: Record<Exclude<TestKeyKind, 'dsa'>, string[]> = {
  ed25519: ['-algorithm', 'Ed25519'],
  p256: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  p384: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  rsa2048: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
  rsa1024: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'],
  secp256k1: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:secp256k1'],
};

/** A temp directory of keys and CSRs made with openssl, removed by cleanup(). */
export class OpensslWorkspace {
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'jitca-x509-'));
  #counter = 0;

  file(name: string): string {
    return path.join(this.dir, name);
  }

  /** A private key made by `openssl genpkey` (as the seeds' example does for Ed25519). */
  key(kind: TestKeyKind): string {
    const keyPath = this.file(`${kind}-${(this.#counter += 1)}.key`);
    if (kind === 'dsa') {
      const params = this.file(`dsa-${this.#counter}.param`);
      opensslOk(['genpkey', '-genparam', '-algorithm', 'DSA', '-pkeyopt', 'dsa_paramgen_bits:2048', '-out', params]);
      opensslOk(['genpkey', '-paramfile', params, '-out', keyPath]);
    } else {
      opensslOk(['genpkey', ...GENPKEY_ARGS[kind], '-out', keyPath]);
    }
    return keyPath;
  }

  /** `openssl req -new -key KEY -subj SUBJ [-addext EXT]...`, as PEM text. */
  csr(keyPath: string, subject: string, addext: readonly string[] = []): string {
    const out = this.file(`req-${(this.#counter += 1)}.csr`);
    opensslOk(['req', '-new', '-key', keyPath, '-subj', subject, ...addext.flatMap((ext) => ['-addext', ext]), '-out', out]);
    return readFileSync(out, 'utf8');
  }

  write(name: string, content: string | Uint8Array): string {
    const filePath = this.file(name);
    writeFileSync(filePath, content);
    return filePath;
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function pemToDer(pem: string): Uint8Array {
  return Uint8Array.from(Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64'));
}

export function derToPem(label: string, der: Uint8Array): string {
  const lines = Buffer.from(der).toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** The JitcaError a call throws; fails the test on success or on any other error. */
export function caught(run: () => unknown): JitcaError {
  try {
    run();
  } catch (error) {
    if (isJitcaError(error)) return error;
    throw error;
  }
  throw new Error('expected a JitcaError, but the call succeeded');
}

export async function caughtAsync(run: () => Promise<unknown>): Promise<JitcaError> {
  try {
    await run();
  } catch (error) {
    if (isJitcaError(error)) return error;
    throw error;
  }
  throw new Error('expected a JitcaError, but the call succeeded');
}

export function expectCode(error: JitcaError, code: string): void {
  expect(error.code, error.message).toBe(code);
}
