import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * The software FIDO authenticator in test/support/sk-dummy/ (OpenSSH 9.2p1's regress sk-dummy,
 * adapted: see its PROVENANCE.md), built with cc against libcrypto into the temp directory once
 * per source hash, so every test file and run after the first reuses the shared object.
 * ssh-keygen -w, ssh -o SecurityKeyProvider= and SSH_SK_PROVIDER load it by absolute path.
 */
const SOURCES = path.resolve(import.meta.dirname, 'sk-dummy');

export function skDummyProvider(): string {
  const hash = createHash('sha256');
  for (const name of ['sk-dummy.c', 'sk-api.h']) hash.update(readFileSync(path.join(SOURCES, name)));
  const dir = path.join(tmpdir(), `jitca-sk-dummy-${hash.digest('hex').slice(0, 16)}`);
  const library = path.join(dir, 'sk-dummy.so');
  if (existsSync(library)) return library;
  mkdirSync(dir, { recursive: true });
  // Built beside its final name and renamed: a concurrent test file never loads half a file.
  const partial = path.join(dir, `sk-dummy.${process.pid}.so`);
  const cc = spawnSync('cc', ['-shared', '-fPIC', '-O2', '-Wall', '-Wextra', '-Werror', '-o', partial, path.join(SOURCES, 'sk-dummy.c'), '-lcrypto'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (cc.status !== 0) throw new Error(`building sk-dummy.so failed (is gcc and libssl-dev installed? scripts/setup): ${cc.stderr || cc.error?.message}`);
  renameSync(partial, library);
  return library;
}

/** Environment that makes sk-dummy attest enrollments with this test attestation key (PEM) and certificate (DER files). */
export function skDummyAttestationEnv(keyFile: string, certificateFile: string): NodeJS.ProcessEnv {
  return { SK_DUMMY_ATTESTATION_KEY: keyFile, SK_DUMMY_ATTESTATION_CERT: certificateFile };
}
