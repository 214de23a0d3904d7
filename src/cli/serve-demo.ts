import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../atomic-file.ts';
import { addLocalUser } from '../authn/local-users.ts';
import type { CaRuntime } from '../ca-runtime.ts';
import type { ClientConfig } from '../client/client-config.ts';
import { localLogin } from '../client/local-login.ts';
import { requestSshCertificate } from '../client/request-ssh-certificate.ts';
import { cacheToken } from '../client/token-source.ts';
import { isJitcaError } from '../errors.ts';
import { ensurePrivateDirectory, PRIVATE_FILE_MODE } from '../private-files.ts';
import { parseSshPublicKey } from '../ssh/public-key.ts';

/** The demo person: a normal local identity in the starting policy's on-call group. */
const DEMO_USER = 'demo';
const DEMO_GROUP = 'oncall-payments';
const DEMO_ROLE = 'oncall-payments';

/**
 * `serve --demo`, once the API listens: the whole path an engineer takes, with nothing bypassed.
 * A demo key (made in the private <dataDir>/demo), a local user bound to it (audited like any
 * `jitca users add`), the helper's local login over HTTP (ssh-keygen -Y sign, the session token
 * cached as `jitca login` caches it), a certificate issued by the API for that session, and the
 * commands to do the same by hand and to log in to an sshd that trusts this CA.
 */
export async function runServeDemo(runtime: CaRuntime, server: string, out: (text: string) => void): Promise<void> {
  const dir = path.join(runtime.config.dataDir, 'demo');
  ensurePrivateDirectory(dir);
  const keyPath = path.join(dir, 'id_ed25519');
  if (!existsSync(keyPath)) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'jitca-demo', '-f', keyPath]);
  const publicKey = readFileSync(`${keyPath}.pub`, 'utf8').trim();
  const existing = await runtime.store.findLocalUser(DEMO_USER);
  if (existing === undefined) {
    await addLocalUser(runtime.store, { name: DEMO_USER, groups: [DEMO_GROUP], publicKey, actor: 'system:serve-demo' });
    out(`demo: registered local user ${DEMO_USER} (group ${DEMO_GROUP}) with the key ${keyPath}\n`);
  } else if (existing.fingerprint !== parseSshPublicKey(publicKey).fingerprint) {
    out(`demo: local user ${DEMO_USER} exists with another key; not touched (jitca users remove ${DEMO_USER} to start over)\n`);
    return;
  }
  const clientConfigPath = path.join(dir, 'client.json');
  const client: ClientConfig = { server, tokenCache: path.join(dir, 'token.json') };
  writeFileAtomic(clientConfigPath, `${JSON.stringify(client, null, 2)}\n`, PRIVATE_FILE_MODE);
  try {
    const session = await localLogin(client, { name: DEMO_USER, keyFile: keyPath, signWith: 'file', agentSocket: undefined });
    cacheToken(client, session.accessToken, session.expiresIn);
    const issued = await requestSshCertificate(server, session.accessToken, { publicKey, role: DEMO_ROLE, ttl: '5m', reason: 'jitca serve --demo' });
    const certPath = `${keyPath}-cert.pub`;
    writeFileAtomic(certPath, `${issued.certificate}\n`, PRIVATE_FILE_MODE);
    out(`demo: logged in as ${DEMO_USER} over ${server} and issued ${certPath} (serial ${issued.serial})\n`);
    out(execFileSync('ssh-keygen', ['-L', '-f', certPath], { encoding: 'utf8' }));
  } catch (error) {
    // The CA keeps serving: a policy without the demo's role is the operator's choice, not a fault.
    out(`demo: the API did not issue the demo certificate: ${isJitcaError(error) ? `${error.code} ${error.message}` : String(error)}\n`);
    return;
  }
  const jitca = process.argv[1] ?? 'jitca';
  out(
    [
      'demo: the same by hand, and an SSH login with the certificate:',
      `  ${jitca} login --local --user ${DEMO_USER} --key ${keyPath} --client-config ${clientConfigPath}`,
      `  ${jitca} ssh-cert --role ${DEMO_ROLE} --key ${keyPath} --client-config ${clientConfigPath} --reason "first login"`,
      `  # on the SSH host: curl ${server}/v1/trust/ssh-user-ca > /etc/ssh/jitca_user_ca.pub, and in sshd_config`,
      '  #   TrustedUserCAKeys /etc/ssh/jitca_user_ca.pub',
      `  #   AuthorizedPrincipalsFile /etc/ssh/principals/%u   (the account's file lists ${DEMO_ROLE}), then:`,
      `  ssh -i ${keyPath} -o CertificateFile=${keyPath}-cert.pub <account>@localhost`,
      '',
    ].join('\n'),
  );
}
