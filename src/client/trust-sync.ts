import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../atomic-file.ts';
import { ErrorCodes, JitcaError, isJitcaError } from '../errors.ts';
import { decodeKrl } from '../ssh/krl.ts';
import { parseSshPublicKey } from '../ssh/public-key.ts';
import { requestBytes } from './http-json.ts';

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
 * Fetches the trust files from the CA (GET /v1/trust/ssh-user-ca and /v1/trust/ssh-krl) and
 * replaces a host's copies only when the content changed, atomically (a temporary file in the
 * same directory, then rename), so sshd never reads half a file. A reply that is not what it
 * claims to be (a CA bundle whose lines are not public keys, or a KRL jitca cannot read) is
 * refused and the current file kept: an unreadable RevokedKeys file makes sshd refuse every
 * public-key login, and an empty TrustedUserCAKeys locks everyone out.
 *
 * Errors: ERR_REQUEST_INVALID when a file's directory is missing or not writable (checked before
 * anything is fetched), ERR_SERVER_UNREACHABLE, ERR_SERVER_REFUSED (not a 200, or an invalid
 * body); in each case no file was changed.
 */
export async function syncTrustFiles(options: { server: string; targets: readonly TrustSyncTarget[]; ca?: string | Buffer }): Promise<TrustSyncOutcome[]> {
  for (const target of options.targets) checkWritable(target.file);
  const fetched: Array<{ target: TrustSyncTarget; body: Buffer }> = [];
  // Everything is fetched and checked before anything is written: both files change together or not at all.
  for (const target of options.targets) {
    const url = `${options.server.replace(/\/+$/, '')}/v1/trust/${target.kind}`;
    const response = await requestBytes(url, { ca: options.ca });
    if (response.status !== 200) {
      throw new JitcaError(ErrorCodes.SERVER_REFUSED, `${url} answered ${response.status}; kept ${target.file} as it is`, {
        details: { status: response.status },
      });
    }
    checkBody(target, response.body, url);
    fetched.push({ target, body: response.body });
  }
  return fetched.map(({ target, body }) => ({ kind: target.kind, file: target.file, outcome: replaceIfChanged(target.file, body) }));
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

function checkBody(target: TrustSyncTarget, body: Buffer, url: string): void {
  try {
    if (target.kind === 'ssh-krl') {
      decodeKrl(body);
      return;
    }
    const lines = body.toString('utf8').split('\n').filter((line) => line.trim() !== '');
    if (lines.length === 0) throw new JitcaError(ErrorCodes.WIRE_INVALID, 'the CA bundle is empty');
    for (const line of lines) parseSshPublicKey(line);
  } catch (error) {
    if (!isJitcaError(error)) throw error;
    throw new JitcaError(ErrorCodes.SERVER_REFUSED, `${url} did not return a valid ${target.kind === 'ssh-krl' ? 'KRL' : 'CA bundle'} (${error.code}); kept ${target.file} as it is`, {
      cause: error,
    });
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
