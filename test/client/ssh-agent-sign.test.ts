import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAgentIdentities, sshsigThroughAgent } from '../../src/client/ssh-agent-sign.ts';
import { ErrorCodes } from '../../src/errors.ts';
import { parseSshPublicKey } from '../../src/ssh/public-key.ts';
import { parseArmouredSshSig, verifySshSig } from '../../src/ssh/sshsig.ts';
import { makeTempDir, sections, sh } from '../ssh/ssh-keygen.ts';

/**
 * Local login's signature made by a real ssh-agent (the key never leaves it): jitca verifies it
 * and so does `ssh-keygen -Y verify`, the oracle, for each key type the agent holds.
 */

const NAMESPACE = 'jitca-login@example.org';
const MESSAGE = 'challenge-through-the-agent';
const KEYS = { ed25519: '-t ed25519', p256: '-t ecdsa -b 256', rsa: '-t rsa -b 2048' };

let tmp: ReturnType<typeof makeTempDir>;
let agent: ChildProcess | undefined;
let socket: string;
let pubs: Map<string, string>;

beforeAll(async () => {
  tmp = makeTempDir('agent-sign');
  socket = join(tmp.dir, 'agent.sock');
  // -D: in the foreground, so this test holds the process and ends it.
  agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !existsSync(socket); i++) await sleep(50);
  writeFileSync(join(tmp.dir, 'msg'), MESSAGE);
  const script = Object.entries(KEYS)
    .map(([name, args]) => `ssh-keygen -q ${args} -N '' -C ${name} -f ${name}\nSSH_AUTH_SOCK=${socket} ssh-add -q ${name} 2>/dev/null\necho ==${name}==; cat ${name}.pub`)
    .join('\n');
  pubs = sections(await sh(script, tmp.dir));
});

afterAll(() => {
  agent?.kill();
  tmp.cleanup();
});

async function opensshAccepts(armoured: string, publicKeyLine: string): Promise<boolean> {
  writeFileSync(join(tmp.dir, 'agent.sig'), armoured);
  writeFileSync(join(tmp.dir, 'allowed'), `me@example.org ${publicKeyLine.trim()}\n`);
  const result = await sh(
    `if ssh-keygen -Y verify -f allowed -I me@example.org -n ${NAMESPACE} -s agent.sig < msg >/dev/null 2>&1; then echo yes; else echo no; fi`,
    tmp.dir,
  );
  return result.trim() === 'yes';
}

describe('SSHSIG through a real ssh-agent', () => {
  it('lists the keys the agent holds', async () => {
    const listed = await listAgentIdentities(socket);
    expect(listed.map((identity) => identity.comment).sort()).toEqual(Object.keys(KEYS).sort());
  });

  it.each(Object.keys(KEYS))('%s: the signature verifies in jitca and in ssh-keygen -Y verify', async (name) => {
    const line = pubs.get(name) ?? '';
    const blob = parseSshPublicKey(line).blob;
    const armoured = await sshsigThroughAgent(socket, blob, NAMESPACE, Buffer.from(MESSAGE));
    expect(await opensshAccepts(armoured, line)).toBe(true);
    const signer = verifySshSig(parseArmouredSshSig(armoured), { namespace: NAMESPACE, message: Buffer.from(MESSAGE) });
    expect(Buffer.from(signer).equals(Buffer.from(blob))).toBe(true);
  });

  it('a key the agent does not hold is a refusal, not a hang', async () => {
    const { blob } = parseSshPublicKey('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl');
    await expect(sshsigThroughAgent(socket, blob, NAMESPACE, Buffer.from(MESSAGE))).rejects.toMatchObject({
      code: ErrorCodes.REQUEST_INVALID,
    });
  });

  it('no agent on the socket is ERR_REQUEST_INVALID', async () => {
    await expect(listAgentIdentities(join(tmp.dir, 'absent.sock'))).rejects.toMatchObject({ code: ErrorCodes.REQUEST_INVALID });
  });
});
