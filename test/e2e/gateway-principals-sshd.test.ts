import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forwardDestinationFor } from '../../src/gateway/forward-port.ts';
import { buildUserCertificate } from '../../src/ssh/certificate.ts';
import { encodeKrl } from '../../src/ssh/krl.ts';
import { formatAuthorizedKeysLine, parseSshPublicKey, sshPublicKeyFromKeyObject } from '../../src/ssh/public-key.ts';
import { createMemorySigner } from '../support/memory-signer.ts';
import { readOnlyCompileCache } from '../support/compile-cache.ts';
import { freePort, startSshd, type SshdHandle } from '../support/sshd.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

const JITCA = path.resolve(import.meta.dirname, '../../bin/jitca');
const DOMAIN = 'jitca.dev';
const isRoot = process.getuid?.() === 0;

/**
 * A real sshd whose only way in is `jitca gateway principals` as its AuthorizedPrincipalsCommand,
 * run as `nobody`, as deploy/gateway configures it. sshd requires that command and every directory
 * above it to be root-owned and not group- or world-writable, so the hooks live in a fresh
 * directory under /run, not /tmp (only root can make one there: the file is skipped otherwise).
 */
describe.skipIf(!isRoot)('the gateway on a real sshd: jitca gateway principals decides who logs in and what runs', () => {
  const ca = createMemorySigner({ kind: 'ed25519' }, 'jitca-ssh-user/1');
  let hooks: string;
  let sshd: SshdHandle;
  let key: TempSshKey;
  let krlFile: string;

  async function certificateFile(
    name: string,
    serial: bigint,
    shape: { extensions: string[]; jitcaGrant?: boolean; grant?: Record<string, string>; signer?: typeof ca; validBefore?: bigint },
  ): Promise<string> {
    const issued = await buildUserCertificate(
      {
        subject: parseSshPublicKey(key.publicKey),
        serial,
        keyId: 'alice@example.com',
        principals: ['oncall-payments'],
        validAfter: BigInt(Math.floor(Date.now() / 1000) - 60),
        validBefore: shape.validBefore ?? BigInt(Math.floor(Date.now() / 1000) + 600),
        extensions: shape.extensions,
        customExtensions: shape.jitcaGrant === false ? {} : { [`role@${DOMAIN}`]: 'payments-debug', [`approval@${DOMAIN}`]: 'req-1', ...shape.grant },
      },
      shape.signer ?? ca,
    );
    const file = path.join(key.dir, `${name}-cert.pub`);
    writeFileSync(file, `${issued.line}\n`);
    return file;
  }

  beforeAll(async () => {
    key = createTempSshKey('jitca-gateway-user-');
    hooks = mkdtempSync('/run/jitca-gateway-');
    chmodSync(hooks, 0o755);
    const caFile = path.join(hooks, 'trusted_user_ca_keys');
    writeFileSync(caFile, `${formatAuthorizedKeysLine(sshPublicKeyFromKeyObject(ca.publicKey), 'jitca:jitca-ssh-user/1')}\n`, { mode: 0o644 });
    // The gateway's own copy of the KRL revokes serial 13; sshd's RevokedKeys (the harness's)
    // stays empty, so a refusal of 13 is the principals command's own check.
    krlFile = path.join(hooks, 'revoked_keys');
    const caBlob = sshPublicKeyFromKeyObject(ca.publicKey).blob;
    writeFileSync(krlFile, encodeKrl({ version: 1n, generatedAt: 0n, certificates: [{ caKeyBlob: caBlob, serials: [13n] }] }), { mode: 0o644 });
    // The forced command stands in for `jitca gateway session`: it shows what sshd ran and with
    // which serial, whether it got a terminal, and what the user asked for.
    const session = path.join(hooks, 'session');
    writeFileSync(session, '#!/bin/sh\necho "session $*"\necho "asked=$SSH_ORIGINAL_COMMAND"\necho "tty=$(tty)"\necho "agent=$SSH_AUTH_SOCK display=$DISPLAY"\n', { mode: 0o755 });
    const compileCache = readOnlyCompileCache(hooks, 'nobody', [['gateway', 'principals', '--help'], ['gateway', 'session', '--help']]);
    const principals = path.join(hooks, 'principals');
    writeFileSync(
      principals,
      [
        '#!/bin/sh',
        `export NODE_COMPILE_CACHE=${compileCache}`,
        `exec ${JITCA} gateway principals --trusted-ca-keys ${caFile} --revoked-keys ${krlFile} --allow root=oncall-payments --extension-domain ${DOMAIN} --session-command ${session} "$@"`,
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    // Forwarding as deploy/gateway/sshd_config sets it (local forwarding only, to loopback only).
    const forwarding = readFileSync(path.resolve(import.meta.dirname, '../../deploy/gateway/sshd_config'), 'utf8')
      .split('\n')
      .filter((line) => /^(AllowTcpForwarding|AllowStreamLocalForwarding|AllowAgentForwarding|X11Forwarding|GatewayPorts|PermitListen|PermitOpen|PermitTunnel) /.test(line));
    expect(forwarding.length).toBeGreaterThanOrEqual(6);
    sshd = await startSshd({ principalsCommand: { command: `${principals} %u %i %s %F %k`, user: 'nobody' }, extraConfig: forwarding });
    sshd.setTrustedCaKeys(readFileSync(caFile, 'utf8'));
  });

  /** A TCP server on host:port answering "echo:" and what it read. */
  function echoServer(host: string, port: number): Promise<Server> {
    const server = createServer((socket) => socket.once('data', (data) => socket.end(`echo:${data.toString()}`)));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve(server));
    });
  }

  /**
   * `ssh -N -L` through the gateway to host:port, then "hello" through the forward: what came back
   * ("" when sshd refused the channel). Bounded: the ssh process is killed after.
   */
  async function throughForward(certificate: string, host: string, target: number): Promise<string> {
    const local = await freePort();
    const ssh = spawn('ssh', ['-N', '-F', '/dev/null', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', `CertificateFile=${certificate}`, '-i', key.keyPath, '-p', String(sshd.port), '-L', `127.0.0.1:${local}:${host}:${target}`, `root@127.0.0.1`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let sshErrors = '';
    ssh.stderr?.on('data', (chunk: Buffer) => (sshErrors += chunk.toString()));
    try {
      // Bounded: up to 30 s for the login (the principals command is a process start as nobody).
      for (let attempt = 0; attempt < 300; attempt++) {
        const answer = await new Promise<string | undefined>((resolve) => {
          const socket = connect(local, '127.0.0.1');
          let text = '';
          socket.once('connect', () => socket.write('hello'));
          socket.on('data', (data) => (text += data.toString()));
          socket.once('close', () => resolve(text));
          socket.once('error', () => resolve(undefined));
          socket.setTimeout(3000, () => socket.destroy());
        });
        if (answer !== undefined) return answer;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`the forward never listened: ${sshErrors} sshd: ${sshd.log().slice(-1500)}`);
    } finally {
      ssh.kill();
    }
  }

  afterAll(async () => {
    await sshd?.stop();
    key?.cleanup();
    if (hooks !== undefined) rmSync(hooks, { recursive: true, force: true });
  });

  it('runs the forced session for the serial sshd read, whatever the user asked for, with a terminal only when the certificate permits one', async () => {
    const withPty = await certificateFile('pty', 4242n, { extensions: ['permit-pty'] });
    const asked = sshd.login({ key: key.keyPath, certificate: withPty, command: 'cat /etc/shadow; sh -i', sshOptions: ['-tt'] });
    expect(asked.stdout).toContain(`session --serial 4242`);
    expect(asked.stdout).toContain('asked=cat /etc/shadow; sh -i');
    expect(asked.stdout).toMatch(/tty=\/dev\/pts\//);

    const withoutPty = await certificateFile('no-pty', 4243n, { extensions: [] });
    expect(sshd.login({ key: key.keyPath, certificate: withoutPty, sshOptions: ['-tt'] }).stderr).toContain('PTY allocation request failed');
    const plain = sshd.login({ key: key.keyPath, certificate: withoutPty });
    expect(plain.stdout).toContain('session --serial 4243');
    expect(plain.stdout).toContain('tty=not a tty');
  });

  it('forwards no agent and no X11, even for a certificate that permits both and a client that asks', async () => {
    const certificate = await certificateFile('agent-x11', 4247n, { extensions: ['permit-agent-forwarding', 'permit-X11-forwarding'] });
    const agentDir = mkdtempSync('/tmp/jitca-agent-');
    const agent = spawnSync('ssh-agent', ['-a', path.join(agentDir, 'sock')], { encoding: 'utf8' });
    try {
      const result = sshd.login({ key: key.keyPath, certificate, sshOptions: ['-A', '-X'], env: { SSH_AUTH_SOCK: path.join(agentDir, 'sock'), DISPLAY: ':0' } });
      expect(result.stdout).toContain('session --serial 4247');
      expect(result.stdout).toContain('agent= display=\n');
    } finally {
      const pid = /SSH_AGENT_PID=(\d+)/.exec(agent.stdout)?.[1];
      if (pid !== undefined) process.kill(Number(pid));
      rmSync(agentDir, { recursive: true, force: true });
    }
  });

  it('refuses forwarding: restrict is on every line', async () => {
    const certificate = await certificateFile('forward', 4244n, { extensions: ['permit-pty', 'permit-port-forwarding'] });
    const result = sshd.login({ key: key.keyPath, certificate, sshOptions: ['-o', 'ExitOnForwardFailure=yes', '-R', '0:127.0.0.1:9'] });
    expect(result.status).toBe(255);
    expect(result.stderr).toMatch(/remote port forwarding failed/i);
  });

  it('a port-forward grant on one pod may forward to its one gateway-local address and nowhere else', async () => {
    const grant = { [`operations@${DOMAIN}`]: 'view-logs,port-forward', [`scope-cluster@${DOMAIN}`]: 'prod', [`scope-namespace@${DOMAIN}`]: 'payments', [`scope-pod@${DOMAIN}`]: 'api-0' };
    const serial = 4246n;
    const allowed = forwardDestinationFor(serial);
    // Stand-ins for what the session's kubectl port-forward would listen on, and another local service.
    const permitted = await echoServer(allowed.host, allowed.port);
    const other = await echoServer('127.0.0.1', allowed.port);
    try {
      const forwarding = await certificateFile('pf', serial, { extensions: ['permit-port-forwarding'], grant });
      expect(await throughForward(forwarding, allowed.host, allowed.port)).toBe('echo:hello');
      // Any other destination, the same port on 127.0.0.1 included: sshd refuses the channel.
      expect(await throughForward(forwarding, '127.0.0.1', allowed.port)).toBe('');
      // Remote forwarding stays refused.
      const remote = sshd.login({ key: key.keyPath, certificate: forwarding, sshOptions: ['-o', 'ExitOnForwardFailure=yes', '-R', '0:127.0.0.1:9'] });
      expect(remote.stderr).toMatch(/remote port forwarding failed/i);
      // Without the operation, without a pod, or without permit-port-forwarding the line is restrict
      // alone (principals-decision.test.ts), which the test above shows sshd enforcing.
    } finally {
      permitted.close();
      other.close();
    }
  }, 90_000);

  it("refuses a certificate the gateway's KRL revokes, and one that is not a jitca grant, though sshd itself would take both", async () => {
    const revoked = await certificateFile('revoked', 13n, { extensions: ['permit-pty'] });
    const refused = sshd.login({ key: key.keyPath, certificate: revoked });
    expect(refused.status).toBe(255);
    expect(refused.stdout).not.toContain('session');
    expect(refused.stderr).toMatch(/Permission denied/);

    const notAGrant = await certificateFile('plain', 4245n, { extensions: ['permit-pty'], jitcaGrant: false });
    const plain = sshd.login({ key: key.keyPath, certificate: notAGrant });
    expect(plain.status).toBe(255);
    expect(plain.stdout).not.toContain('session');
  });

  it('refuses a certificate from another CA, an expired one, and one whose extensions were altered after signing', async () => {
    const other = await certificateFile('other-ca', 4248n, { extensions: ['permit-pty'], signer: createMemorySigner({ kind: 'ed25519' }, 'someone-else/1') });
    const expired = await certificateFile('expired', 4249n, { extensions: ['permit-pty'], validBefore: BigInt(Math.floor(Date.now() / 1000) - 1) });
    // The same grant with its pod changed after signing: the signature no longer covers the bytes.
    const genuine = await certificateFile('genuine', 4250n, { extensions: ['permit-pty'], grant: { [`scope-pod@${DOMAIN}`]: 'api-0' } });
    const [type, blob] = readFileSync(genuine, 'utf8').trim().split(' ') as [string, string];
    const bytes = Buffer.from(blob, 'base64');
    const at = bytes.indexOf(Buffer.from('api-0'));
    expect(at).toBeGreaterThan(0);
    bytes.write('api-1', at);
    const altered = path.join(key.dir, 'altered-cert.pub');
    writeFileSync(altered, `${type} ${bytes.toString('base64')}\n`);
    for (const certificate of [other, expired, altered]) {
      const refused = sshd.login({ key: key.keyPath, certificate });
      expect(refused.status, certificate).toBe(255);
      expect(refused.stdout, certificate).not.toContain('session');
    }
    // The genuine one logs in: the refusals above are the certificates', not the set-up's.
    expect(sshd.login({ key: key.keyPath, certificate: genuine }).stdout).toContain('session --serial 4250');
  });
});
