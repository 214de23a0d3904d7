import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../../test/support/sshd.ts';
import { benchConnectionLimits, benchPolicy } from '../references.ts';
import { spawnTracked, type ServerProcess } from './processes.ts';

/**
 * A fresh `jitca serve` configured as bench/api.ts configures it (the bench policy, logLevel warn,
 * no rate limit in the way, plain HTTP on loopback), with the SSH user CA key of the given
 * algorithm in a new embedded SoftHSM2 token. `jitca init` runs as its own process: SoftHSM2
 * takes one configuration per process, and each round's server has its own token.
 */
export interface JitcaOptions {
  dir: string;
  keyAlgorithm: 'ed25519' | 'ecdsa-p256';
  issuer: string;
  jwksUri: string;
  audience: string;
}

export interface JitcaServer extends ServerProcess {
  url: string;
}

const JITCA_BIN = path.resolve(import.meta.dirname, '../../bin/jitca');

export async function startJitca(options: JitcaOptions): Promise<JitcaServer> {
  const { dir } = options;
  writeFileSync(path.join(dir, 'policy.json'), JSON.stringify(benchPolicy));
  const port = await freePort();
  const configFile = path.join(dir, 'config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      oidc: { issuer: options.issuer, audience: options.audience, jwksUri: options.jwksUri },
      ssh: { keyAlgorithm: options.keyAlgorithm },
      server: { port, rateLimitPerMinute: 1_000_000, logLevel: 'warn', ...benchConnectionLimits },
    }),
  );
  const args = ['--config', configFile, '--data-dir', dir];
  execFileSync(JITCA_BIN, [...args, 'init'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
  const url = `http://127.0.0.1:${port}`;
  const server = spawnTracked(`jitca (${options.keyAlgorithm})`, JITCA_BIN, [...args, 'serve'], process.env);
  try {
    await server.waitUntil(() => fetch(`${url}/readyz`).then((response) => response.ok, () => false), 30);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return { ...server, url };
}
