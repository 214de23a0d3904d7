import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ErrorCodes, JitcaError } from '../errors.ts';

/** ssh-add(1): "Exit status is ... 2 if ssh-add is unable to contact the authentication agent." */
const CANNOT_CONTACT_AGENT = 2;

/**
 * `ssh-cert --agent` asks this before it requests anything: a certificate issued (and audited)
 * for an agent that is not there would only fail afterwards, on ssh-add.
 * Errors: ERR_REQUEST_INVALID when SSH_AUTH_SOCK is unset or no agent answers on it.
 */
export function checkSshAgentReachable(env: NodeJS.ProcessEnv = process.env): void {
  const socket = env['SSH_AUTH_SOCK'];
  if (socket === undefined || socket === '') {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, '--agent: SSH_AUTH_SOCK is not set, so there is no ssh-agent to add the certificate to; start one (eval "$(ssh-agent)") or leave out --agent');
  }
  // -l only lists: status 0 (keys) or 1 (no keys) both mean an agent answered.
  const listed = spawnSync('ssh-add', ['-l'], { env, stdio: 'ignore', timeout: 10_000 });
  if (listed.error !== undefined) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, `--agent: ssh-add could not be run (${(listed.error as NodeJS.ErrnoException).code ?? 'error'}); install openssh-client or leave out --agent`);
  }
  if (listed.status === CANNOT_CONTACT_AGENT || listed.status === null) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, `--agent: no ssh-agent answers on SSH_AUTH_SOCK (${socket}); start one (eval "$(ssh-agent)") or leave out --agent`);
  }
}

/**
 * Deletes one identity from ssh-agent by its public line (a certificate line deletes just that
 * certificate). ssh-add -d reads a file, so the public line goes through a private temp directory.
 * Returns whether ssh-add reported success.
 */
export function removeFromSshAgent(publicLine: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const dir = mkdtempSync(path.join(tmpdir(), 'jitca-agent-'));
  try {
    const file = path.join(dir, 'identity.pub');
    writeFileSync(file, `${publicLine}\n`, { mode: 0o600 });
    return spawnSync('ssh-add', ['-d', file], { env, stdio: 'ignore', timeout: 10_000 }).status === 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
