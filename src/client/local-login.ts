import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { parseSshPublicKey } from '../ssh/public-key.ts';
import type { ClientConfig } from './client-config.ts';
import { requestJson } from './http-json.ts';
import { serverRefusal } from './server-refusal.ts';
import { listAgentIdentities, sshsigThroughAgent } from './ssh-agent-sign.ts';

/**
 * `jitca login --local`: ask the CA for a challenge, sign it with the person's registered SSH key
 * (through ssh-agent, so the key never leaves it, or with `ssh-keygen -Y sign` over a key file),
 * and trade the signature for a session token, which is then cached like an OIDC token.
 */

export interface LocalLoginOptions {
  /** The local user name registered with `jitca users add`. */
  name: string;
  /** The private key file; its public half is `${keyFile}.pub`. */
  keyFile: string;
  /** 'agent': only through ssh-agent; 'file': only ssh-keygen with the file; 'auto': the agent when it holds the key. */
  signWith: 'agent' | 'file' | 'auto';
  /** SSH_AUTH_SOCK. */
  agentSocket: string | undefined;
}

export interface LocalLoginResult {
  accessToken: string;
  expiresIn: number;
  subject: string;
  groups: string[];
  /** How the challenge was signed. */
  signedWith: 'agent' | 'file';
}

const BEARER_TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
/** A session is at most a day (config bound); longer is not jitca's answer. */
const MAX_EXPIRES_IN = 86_400;

export async function localLogin(config: ClientConfig, options: LocalLoginOptions): Promise<LocalLoginResult> {
  const ca = config.caFile === undefined ? undefined : readFileSync(config.caFile);
  const asked = await requestJson(`${config.server}/v1/auth/challenge`, { body: { name: options.name }, ca });
  if (asked.status !== 200) throw serverRefusal(asked);
  const challenge = asked.body['challenge'];
  const namespace = asked.body['namespace'];
  if (typeof challenge !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(challenge) || typeof namespace !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/.test(namespace)) {
    throw new JitcaError(ErrorCodes.SERVER_REFUSED, 'the server\'s login challenge is not a jitca challenge');
  }
  const { signature, signedWith } = await sign(options, namespace, challenge);
  const session = await requestJson(`${config.server}/v1/auth/session`, { body: { name: options.name, challenge, signature }, ca });
  if (session.status !== 200) throw serverRefusal(session);
  const accessToken = session.body['accessToken'];
  const expiresIn = session.body['expiresIn'];
  if (typeof accessToken !== 'string' || !BEARER_TOKEN.test(accessToken) || typeof expiresIn !== 'number' || !Number.isSafeInteger(expiresIn) || expiresIn < 1 || expiresIn > MAX_EXPIRES_IN) {
    throw new JitcaError(ErrorCodes.SERVER_REFUSED, 'the server\'s session answer is not a jitca session token');
  }
  const groups = Array.isArray(session.body['groups']) ? session.body['groups'].filter((group): group is string => typeof group === 'string') : [];
  return { accessToken, expiresIn, subject: String(session.body['subject'] ?? options.name), groups, signedWith };
}

async function sign(options: LocalLoginOptions, namespace: string, challenge: string): Promise<{ signature: string; signedWith: 'agent' | 'file' }> {
  const message = Buffer.from(challenge, 'ascii');
  if (options.signWith !== 'file') {
    const blob = publicKeyBlob(`${options.keyFile}.pub`);
    if (options.agentSocket !== undefined && options.agentSocket !== '') {
      const held = (await listAgentIdentities(options.agentSocket).catch((error: unknown) => {
        if (options.signWith === 'agent') throw error;
        return [];
      })).some((identity) => Buffer.from(identity.blob).equals(blob));
      if (held) return { signature: await sshsigThroughAgent(options.agentSocket, blob, namespace, message), signedWith: 'agent' };
    }
    if (options.signWith === 'agent') {
      throw new JitcaError(ErrorCodes.REQUEST_INVALID, `ssh-agent (SSH_AUTH_SOCK) does not hold ${options.keyFile}: ssh-add it, or log in with the key file`);
    }
  }
  return { signature: await sshKeygenSign(options.keyFile, namespace, message), signedWith: 'file' };
}

function publicKeyBlob(file: string): Buffer {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, `cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'}): name your login key with --key`);
  }
  return Buffer.from(parseSshPublicKey(text.trim()).blob);
}

/** `ssh-keygen -Y sign` over stdin writes the armoured signature to stdout; it asks for a passphrase on the terminal itself. */
function sshKeygenSign(keyFile: string, namespace: string, message: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('ssh-keygen', ['-q', '-Y', 'sign', '-f', keyFile, '-n', namespace], { timeout: 120_000, maxBuffer: 64 * 1024 }, (error, stdout, stderr) => {
      if (error !== null) {
        reject(new JitcaError(ErrorCodes.REQUEST_INVALID, `ssh-keygen -Y sign with ${keyFile} failed: ${String(stderr).trim().slice(0, 300) || error.message}`));
        return;
      }
      resolve(String(stdout));
    });
    child.stdin?.end(message);
  });
}
