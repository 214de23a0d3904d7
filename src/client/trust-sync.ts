import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../atomic-file.ts';
import { ErrorCodes, JitcaError, isJitcaError } from '../errors.ts';
import { HOST_NAME_PATTERN } from '../host-report-format.ts';
import { decodeKrl } from '../ssh/krl.ts';
import type { SshPublicKey } from '../ssh/public-key.ts';
import { requestBytes } from './http-json.ts';
import { sshKeysOfTrustFile } from '../ssh/trusted-ca-keys-file.ts';
import { verifyTrustBundle } from './trust-bundle-verify.ts';

/** What a host keeps in step with the CA: sshd's TrustedUserCAKeys and RevokedKeys files. */
export interface TrustSyncTarget {
  kind: 'ssh-user-ca' | 'ssh-krl';
  file: string;
}

export interface TrustSyncOutcome {
  kind: TrustSyncTarget['kind'];
  file: string;
  outcome: 'updated' | 'unchanged';
}

/**
 * Fetches the trust files from the CA and replaces a host's copies only when the content changed,
 * atomically (a temporary file in the same directory, then rename), so sshd never reads half a
 * file. TrustedUserCAKeys comes from GET /v1/trust/bundle.json, a JWS verified against the keys
 * the host's current TrustedUserCAKeys already lists (trust-bundle-verify.ts: trust on first use,
 * pinned afterwards); with it the host reports its name and the CA fingerprints it has installed
 * (X-Jitca-Host, X-Jitca-Installed), which rotation readiness reads. RevokedKeys comes from
 * GET /v1/trust/ssh-krl. A reply that is not what it claims to be (a bundle not signed by a
 * trusted key, a KRL jitca cannot read) is refused and the current file kept: an unreadable
 * RevokedKeys file makes sshd refuse every public-key login, and an empty TrustedUserCAKeys
 * locks everyone out.
 *
 * Errors: ERR_REQUEST_INVALID when a file's directory is missing or not writable or the host name
 * is not one the CA accepts (checked before anything is fetched), ERR_SERVER_UNREACHABLE,
 * ERR_SERVER_REFUSED (not a 200, or an invalid body), ERR_TRUST_BUNDLE_UNTRUSTED; in each case no
 * file was changed.
 */
export async function syncTrustFiles(options: { server: string; targets: readonly TrustSyncTarget[]; ca?: string | Buffer; host?: string }): Promise<TrustSyncOutcome[]> {
  for (const target of options.targets) checkWritable(target.file);
  if (options.host !== undefined && !HOST_NAME_PATTERN.test(options.host)) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, 'the host name must be 1 to 253 letters, digits, dots, hyphens or underscores; pass --host', { details: { field: 'host' } });
  }
  const fetched: Array<{ target: TrustSyncTarget; body: Buffer }> = [];
  // Everything is fetched and checked before anything is written: both files change together or not at all.
  for (const target of options.targets) {
    const body = target.kind === 'ssh-user-ca' ? await fetchVerifiedCaKeys(options, target) : await fetchChecked(options, target);
    fetched.push({ target, body });
  }
  return fetched.map(({ target, body }) => ({ kind: target.kind, file: target.file, outcome: replaceIfChanged(target.file, body) }));
}

async function fetchVerifiedCaKeys(options: { server: string; ca?: string | Buffer; host?: string }, target: TrustSyncTarget): Promise<Buffer> {
  const installed = installedCaKeys(target.file);
  const headers: Record<string, string> =
    options.host === undefined ? {} : { 'x-jitca-host': options.host, 'x-jitca-installed': installed.map((key) => key.fingerprint).join(',') };
  const url = `${options.server.replace(/\/+$/, '')}/v1/trust/bundle.json`;
  const response = await requestBytes(url, { ca: options.ca, headers });
  if (response.status !== 200) {
    throw new JitcaError(ErrorCodes.SERVER_REFUSED, `${url} answered ${response.status}; kept ${target.file} as it is`, { details: { status: response.status } });
  }
  const { trustFile } = await verifyTrustBundle(response.body.toString('utf8'), installed);
  return Buffer.from(trustFile);
}

/** The keys the host trusts now; a file that is missing or lists none means first use. */
function installedCaKeys(file: string): SshPublicKey[] {
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  try {
    return sshKeysOfTrustFile(content);
  } catch (error) {
    // Not trusting the file would mean trusting whatever the network says: refuse instead.
    throw new JitcaError(ErrorCodes.TRUST_BUNDLE_UNTRUSTED, `${file} holds a line that is not an SSH public key; fix or remove it (nothing was installed)`, { cause: error });
  }
}

async function fetchChecked(options: { server: string; ca?: string | Buffer }, target: TrustSyncTarget): Promise<Buffer> {
  const url = `${options.server.replace(/\/+$/, '')}/v1/trust/${target.kind}`;
  const response = await requestBytes(url, { ca: options.ca });
  if (response.status !== 200) {
    throw new JitcaError(ErrorCodes.SERVER_REFUSED, `${url} answered ${response.status}; kept ${target.file} as it is`, {
      details: { status: response.status },
    });
  }
  checkKrl(response.body, url, target.file);
  return response.body;
}

/** The replacement is written next to the file and renamed over it: its directory must take a new file. */
function checkWritable(file: string): void {
  const directory = path.dirname(path.resolve(file));
  let problem: string | undefined;
  try {
    if (!statSync(directory).isDirectory()) problem = 'is not a directory';
    else accessSync(directory, constants.W_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    problem = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not writable by this user' : `cannot be used (${code ?? 'error'})`;
  }
  if (problem !== undefined) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, `cannot write ${file}: its directory ${directory} ${problem}; nothing was fetched or changed`);
  }
}

function checkKrl(body: Buffer, url: string, file: string): void {
  try {
    decodeKrl(body);
  } catch (error) {
    if (!isJitcaError(error)) throw error;
    throw new JitcaError(ErrorCodes.SERVER_REFUSED, `${url} did not return a valid KRL (${error.code}); kept ${file} as it is`, { cause: error });
  }
}

function replaceIfChanged(file: string, body: Buffer): TrustSyncOutcome['outcome'] {
  let current: Buffer | undefined;
  try {
    current = readFileSync(file);
  } catch {
    current = undefined;
  }
  if (current !== undefined && current.equals(body)) return 'unchanged';
  writeFileAtomic(file, body, 0o644);
  return 'updated';
}
