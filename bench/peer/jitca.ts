import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../../test/support/sshd.ts';
import { benchConnectionLimits, benchPolicy } from '../references.ts';
import { answersOk } from './probe.ts';
import { spawnTracked, type ServerProcess } from './processes.ts';

/**
 * A fresh `jitca serve` configured as bench/api.ts configures it (the bench policy, logLevel warn,
 * no rate limit in the way, plain HTTP on loopback), with the SSH user CA key of the given
 * algorithm in a new embedded SoftHSM2 token. With `tls`, it serves HTTPS with a throwaway P-256
 * certificate for 127.0.0.1, as step-ca must (it has no plain-HTTP API). `jitca init` runs as its own process: SoftHSM2
 * takes one configuration per process, and each round's server has its own token.
 */
export interface JitcaOptions {
  dir: string;
  keyAlgorithm: 'ed25519' | 'ecdsa-p256';
  issuer: string;
  jwksUri: string;
  audience: string;
  tls: boolean;
  /** The checkout to run (its bin/jitca); default this one. */
  checkout?: string;
}

export interface JitcaServer extends ServerProcess {
  url: string;
  /** The certificate to verify it with, when it serves HTTPS. */
  ca?: string;
}

const THIS_CHECKOUT = path.resolve(import.meta.dirname, '../..');

export async function startJitca(options: JitcaOptions): Promise<JitcaServer> {
  const { dir } = options;
  writeFileSync(path.join(dir, 'policy.json'), JSON.stringify(benchPolicy));
  const port = await freePort();
  const configFile = path.join(dir, 'config.json');
  const tls = options.tls ? selfSignedCertificate(dir) : undefined;
  writeFileSync(
    configFile,
    JSON.stringify({
      oidc: { issuer: options.issuer, audience: options.audience, jwksUri: options.jwksUri },
      ssh: { keyAlgorithm: options.keyAlgorithm },
      server: { port, rateLimitPerMinute: 1_000_000, logLevel: 'warn', ...benchConnectionLimits, ...(tls && { tls: { certFile: tls.certFile, keyFile: tls.keyFile } }) },
    }),
  );
  const args = ['--config', configFile, '--data-dir', dir];
  const jitcaBin = path.join(options.checkout ?? THIS_CHECKOUT, 'bin/jitca');
  execFileSync(jitcaBin, [...args, 'init'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const ca = tls && readFileSync(tls.certFile, 'utf8');
  const server = spawnTracked(`jitca (${options.keyAlgorithm})`, jitcaBin, [...args, 'serve'], process.env);
  try {
    await server.waitUntil(() => answersOk(`${url}/readyz`, ca), 30);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return { ...server, url, ...(ca && { ca }) };
}

function selfSignedCertificate(dir: string): { certFile: string; keyFile: string } {
  const certFile = path.join(dir, 'tls.crt');
  const keyFile = path.join(dir, 'tls.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-subj', '/CN=127.0.0.1', '-days', '2', '-addext', 'subjectAltName = IP:127.0.0.1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  return { certFile, keyFile };
}
