import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../../test/support/sshd.ts';
import { answersOk } from './probe.ts';
import { spawnTracked, type ServerProcess } from './processes.ts';

/**
 * A fresh step-ca 0.19 (built by scripts/build-step-ca) configured as PEER-NOTES describes, to do
 * the same work per SSH certificate as jitca:
 *   - its SSH user CA key is ECDSA P-256 generated inside a new SoftHSM2 token (same library as
 *     jitca's), used through its pkcs11 KMS (it cannot sign with Ed25519 there);
 *   - the X.509 intermediate it needs to start (and to sign its own TLS certificate) is a second
 *     P-256 key in that token, certified by a throwaway root made with openssl;
 *   - one OIDC provisioner with SSH enabled, trusting the bench's issuer (RS256 ID tokens);
 *   - badger v2 (the `step ca init` default: synchronous value log, each token recorded as used);
 *   - no `logger` section: no per-request log, as jitca runs at logLevel warn.
 * HTTPS only: step-ca has no plain-HTTP API.
 */
export interface StepCaOptions {
  binary: string;
  /** An empty directory this server owns (token, keys, ca.json, database). */
  dir: string;
  /** The OIDC issuer (its /.well-known/openid-configuration is fetched at start). */
  issuer: string;
  /** The provisioner's client ID: the `aud` its ID tokens must carry. */
  clientId: string;
}

export interface StepCaServer extends ServerProcess {
  url: string;
  /** The root that step-ca's own TLS certificate chains to. */
  ca: string;
}

const MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const TOKEN_LABEL = 'step-ca';
const SSH_USER_KEY = { id: '01', label: 'ssh-user-ca' };
const INTERMEDIATE_KEY = { id: '02', label: 'x509-intermediate' };

export async function startStepCa(options: StepCaOptions): Promise<StepCaServer> {
  const { dir } = options;
  const hsmDir = path.join(dir, 'hsm');
  mkdirSync(path.join(hsmDir, 'tokens'), { recursive: true });
  const softhsmConf = path.join(hsmDir, 'softhsm2.conf');
  writeFileSync(softhsmConf, `directories.tokendir = ${path.join(hsmDir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  const env = { ...process.env, SOFTHSM2_CONF: softhsmConf };
  // A throwaway token for one run: its PINs on a command line and in ca.json harm nothing.
  const pin = randomBytes(12).toString('hex');
  const run = (command: string, args: string[]): void => void execFileSync(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  run('softhsm2-util', ['--init-token', '--free', '--label', TOKEN_LABEL, '--so-pin', randomBytes(12).toString('hex'), '--pin', pin]);
  const token = ['--module', MODULE, '--token-label', TOKEN_LABEL, '--login', '--pin', pin];
  for (const key of [SSH_USER_KEY, INTERMEDIATE_KEY]) {
    run('pkcs11-tool', [...token, '--keypairgen', '--key-type', 'EC:prime256v1', '--id', key.id, '--label', key.label]);
  }
  const certificates = issueCertificates(dir, token, run);

  const port = await freePort();
  const caJson = path.join(dir, 'ca.json');
  const keyUri = (key: { id: string; label: string }) => `pkcs11:id=${key.id};object=${key.label}`;
  writeFileSync(
    caJson,
    JSON.stringify({
      root: certificates.root,
      crt: certificates.intermediate,
      key: keyUri(INTERMEDIATE_KEY),
      kms: { type: 'pkcs11', uri: `pkcs11:module-path=${MODULE};token=${TOKEN_LABEL}?pin-value=${pin}` },
      address: `127.0.0.1:${port}`,
      dnsNames: ['127.0.0.1'],
      ssh: { userKey: keyUri(SSH_USER_KEY) },
      db: { type: 'badgerv2', dataSource: path.join(dir, 'db') },
      authority: {
        provisioners: [
          {
            type: 'OIDC',
            name: 'bench',
            clientID: options.clientId,
            clientSecret: 'unused',
            configurationEndpoint: `${options.issuer}/.well-known/openid-configuration`,
            claims: { enableSSHCA: true },
          },
        ],
      },
      tls: { cipherSuites: ['TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'], minVersion: 1.2, maxVersion: 1.3 },
    }),
  );

  const url = `https://127.0.0.1:${port}`;
  const ca = readFileSync(certificates.root, 'utf8');
  const server = spawnTracked('step-ca', options.binary, [caJson], env);
  try {
    await server.waitUntil(() => answersOk(`${url}/health`, ca), 30);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return { ...server, url, ca };
}

/** A root (file key, openssl) and an intermediate certificate for the token's X.509 key. */
function issueCertificates(dir: string, token: string[], run: (command: string, args: string[]) => void): { root: string; intermediate: string } {
  const file = (name: string) => path.join(dir, name);
  run('pkcs11-tool', [...token, '--read-object', '--type', 'pubkey', '--id', INTERMEDIATE_KEY.id, '--output-file', file('intermediate.pub.der')]);
  run('openssl', ['pkey', '-pubin', '-inform', 'DER', '-in', file('intermediate.pub.der'), '-out', file('intermediate.pub.pem')]);
  writeFileSync(file('ca.ext'), '[intermediate]\nbasicConstraints = critical, CA:TRUE, pathlen:0\nkeyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n');
  run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', file('root.key'), '-out', file('root.crt'), '-subj', '/CN=bench step-ca root', '-days', '2', '-addext', 'basicConstraints = critical, CA:TRUE', '-addext', 'keyUsage = critical, keyCertSign, cRLSign']);
  run('openssl', ['x509', '-new', '-subj', '/CN=bench step-ca intermediate', '-force_pubkey', file('intermediate.pub.pem'), '-CA', file('root.crt'), '-CAkey', file('root.key'), '-days', '2', '-extfile', file('ca.ext'), '-extensions', 'intermediate', '-out', file('intermediate.crt')]);
  return { root: file('root.crt'), intermediate: file('intermediate.crt') };
}
