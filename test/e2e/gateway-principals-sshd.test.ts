import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildUserCertificate } from '../../src/ssh/certificate.ts';
import { encodeKrl } from '../../src/ssh/krl.ts';
import { formatAuthorizedKeysLine, parseSshPublicKey, sshPublicKeyFromKeyObject } from '../../src/ssh/public-key.ts';
import { createMemorySigner } from '../support/memory-signer.ts';
import { startSshd, type SshdHandle } from '../support/sshd.ts';
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

  async function certificateFile(name: string, serial: bigint, shape: { extensions: string[]; jitcaGrant?: boolean }): Promise<string> {
    const issued = await buildUserCertificate(
      {
        subject: parseSshPublicKey(key.publicKey),
        serial,
        keyId: 'alice@example.com',
        principals: ['oncall-payments'],
        validAfter: BigInt(Math.floor(Date.now() / 1000) - 60),
        validBefore: BigInt(Math.floor(Date.now() / 1000) + 600),
        extensions: shape.extensions,
        customExtensions: shape.jitcaGrant === false ? {} : { [`role@${DOMAIN}`]: 'payments-debug', [`approval@${DOMAIN}`]: 'req-1' },
      },
      ca,
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
    writeFileSync(session, '#!/bin/sh\necho "session $*"\necho "asked=$SSH_ORIGINAL_COMMAND"\necho "tty=$(tty)"\n', { mode: 0o755 });
    const principals = path.join(hooks, 'principals');
    writeFileSync(
      principals,
      [
        '#!/bin/sh',
        `exec ${JITCA} gateway principals --trusted-ca-keys ${caFile} --revoked-keys ${krlFile} --allow root=oncall-payments --extension-domain ${DOMAIN} --session-command ${session} "$@"`,
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    sshd = await startSshd({ principalsCommand: { command: `${principals} %u %i %s %F %k`, user: 'nobody' } });
    sshd.setTrustedCaKeys(readFileSync(caFile, 'utf8'));
  });

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

  it('refuses forwarding: restrict is on every line', async () => {
    const certificate = await certificateFile('forward', 4244n, { extensions: ['permit-pty', 'permit-port-forwarding'] });
    const result = sshd.login({ key: key.keyPath, certificate, sshOptions: ['-o', 'ExitOnForwardFailure=yes', '-R', '0:127.0.0.1:9'] });
    expect(result.status).toBe(255);
    expect(result.stderr).toMatch(/remote port forwarding failed/i);
  });

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
});
