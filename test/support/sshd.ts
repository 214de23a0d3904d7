import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';

export interface SshdHandle {
  port: number;
  dir: string;
  /** The account logins go to: the user running the tests (sshd can only switch to others as root). */
  user: string;
  setTrustedCaKeys(lines: string): void;
  setPrincipals(user: string, principals: string[]): void;
  /** sshd's RevokedKeys file (a KRL), read at every authentication. Starts empty. */
  readonly revokedKeysFile: string;
  /** What sshd has written to stderr so far (LogLevel VERBOSE): why it refused a login. */
  log(): string;
  /** `env`: added to ssh's environment (a security key provider's settings, SSH_ASKPASS for its PIN). */
  login(options: { key: string; certificate: string; command?: string; sshOptions?: string[]; env?: NodeJS.ProcessEnv }): LoginResult;
  stop(): Promise<void>;
}

export interface LoginResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * An sshd trusting `bundle` (TrustedUserCAKeys lines, as `jitca bundle --format sshd` prints them)
 * for `principals` on the test user's account, and a fresh Ed25519 key (private key path) to log in with.
 */
export async function startSshdTrusting(bundle: string, principals: string[] = ['oncall-payments']): Promise<{ sshd: SshdHandle; key: string }> {
  const sshd = await startSshd();
  sshd.setTrustedCaKeys(bundle);
  sshd.setPrincipals(sshd.user, principals);
  const key = path.join(sshd.dir, 'id_ed25519');
  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  return { sshd, key };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * A real OpenSSH sshd on 127.0.0.1 with its own config: TrustedUserCAKeys and
 * AuthorizedPrincipalsFile only (no authorized_keys, no passwords), so the only way in is a
 * certificate from a trusted CA naming an allowed principal.
 */
export interface SshdOptions {
  /**
   * AuthorizedPrincipalsCommand instead of the principals file: an absolute, root-owned program
   * with its arguments (sshd's %-tokens), run as `user`.
   */
  principalsCommand?: { command: string; user: string };
  /** More sshd_config lines (e.g. a deployed configuration's forwarding settings). */
  extraConfig?: readonly string[];
}

export async function startSshd(options: SshdOptions = {}): Promise<SshdHandle> {
  const dir = mkdtempSync(path.join(tmpdir(), 'jitca-sshd-'));
  chmodSync(dir, 0o755);
  const user = userInfo().username;
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const hostKey = path.join(dir, 'host_ed25519');
  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  const caFile = path.join(dir, 'trusted_user_ca_keys');
  writeFileSync(caFile, '');
  const revokedKeysFile = path.join(dir, 'revoked_keys');
  writeFileSync(revokedKeysFile, '');
  mkdirSync(path.join(dir, 'principals'));
  const port = await freePort();
  const config = path.join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      'AuthorizedKeysFile none',
      `TrustedUserCAKeys ${caFile}`,
      `RevokedKeys ${revokedKeysFile}`,
      ...(options.principalsCommand === undefined
        ? [`AuthorizedPrincipalsFile ${path.join(dir, 'principals')}/%u`]
        : [`AuthorizedPrincipalsCommand ${options.principalsCommand.command}`, `AuthorizedPrincipalsCommandUser ${options.principalsCommand.user}`]),
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      'LogLevel VERBOSE',
      ...(options.extraConfig ?? []),
      '',
    ].join('\n'),
  );
  const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sshd did not start: ${log}`)), 10_000);
    child.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('Server listening')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sshd exited ${code}: ${log}`));
    });
  });
  return {
    port,
    dir,
    user,
    setTrustedCaKeys: (lines) => writeFileSync(caFile, lines),
    setPrincipals: (account, principals) => writeFileSync(path.join(dir, 'principals', account), `${principals.join('\n')}\n`),
    revokedKeysFile,
    log: () => log,
    login: ({ key, certificate, command = 'echo jitca-login-ok', sshOptions = [], env = {} }) => {
      const result = spawnSync(
        'ssh',
        [
          '-F', '/dev/null',
          '-o', 'BatchMode=yes',
          '-o', 'IdentitiesOnly=yes',
          '-o', 'IdentityAgent=none',
          '-o', 'StrictHostKeyChecking=no',
          '-o', 'UserKnownHostsFile=/dev/null',
          '-o', 'LogLevel=ERROR',
          '-o', 'ConnectTimeout=5',
          '-o', `CertificateFile=${certificate}`,
          '-i', key,
          ...sshOptions,
          '-p', String(port),
          `${user}@127.0.0.1`,
          command,
        ],
        { encoding: 'utf8', timeout: 15_000, env: { ...process.env, ...env } },
      );
      return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    },
    stop: async () => {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr}`);
}
