import { connect } from 'node:net';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { decodePublicKeyBlob } from '../ssh/public-key.ts';
import { armourSshSig, sshsigSignedData } from '../ssh/sshsig.ts';
import { SshReader, SshWriter } from '../ssh/wire.ts';

/**
 * The two ssh-agent requests local login needs (draft-miller-ssh-agent §3.4, §3.6): list the
 * agent's keys and sign with one. The key never leaves the agent; jitca sends the SSHSIG signed
 * data (PROTOCOL.sshsig) and armours the agent's signature as `ssh-keygen -Y sign` would.
 */

const SSH_AGENT_FAILURE = 5;
const SSH_AGENTC_REQUEST_IDENTITIES = 11;
const SSH_AGENT_IDENTITIES_ANSWER = 12;
const SSH_AGENTC_SIGN_REQUEST = 13;
const SSH_AGENT_SIGN_RESPONSE = 14;
/** draft-miller-ssh-agent §3.6.1: rsa-sha2-512, what ssh-keygen -Y sign asks for RSA keys. */
const SSH_AGENT_RSA_SHA2_512 = 4;
/** An agent's answer is a key list or one signature; 256 KiB bounds what a hostile socket sends. */
const MAX_AGENT_MESSAGE = 256 * 1024;
/** sk keys wait for a touch, so the wait is generous, yet bounded. */
const AGENT_TIMEOUT_MS = 60_000;

export interface AgentIdentity {
  blob: Uint8Array;
  comment: string;
}

export async function listAgentIdentities(socketPath: string): Promise<AgentIdentity[]> {
  const reply = await agentRequest(socketPath, Uint8Array.of(SSH_AGENTC_REQUEST_IDENTITIES));
  const reader = expectReply(reply, SSH_AGENT_IDENTITIES_ANSWER, 'list keys');
  const count = reader.readUint32();
  const identities: AgentIdentity[] = [];
  for (let i = 0; i < count; i++) {
    const blob = reader.readString();
    identities.push({ blob, comment: Buffer.from(reader.readString()).toString('utf8') });
  }
  reader.ensureEnd('agent key list');
  return identities;
}

/** An armoured SSHSIG over `message` in `namespace`, made by the agent's key `keyBlob`. */
export async function sshsigThroughAgent(
  socketPath: string,
  keyBlob: Uint8Array,
  namespace: string,
  message: Uint8Array,
): Promise<string> {
  const { material } = decodePublicKeyBlob(keyBlob);
  const request = new SshWriter(512)
    .writeRaw(Uint8Array.of(SSH_AGENTC_SIGN_REQUEST))
    .writeString(keyBlob)
    .writeString(sshsigSignedData(namespace, message))
    .writeUint32(material.kind === 'rsa' ? SSH_AGENT_RSA_SHA2_512 : 0)
    .toBytes();
  const reader = expectReply(await agentRequest(socketPath, request), SSH_AGENT_SIGN_RESPONSE, 'sign');
  const signature = reader.readString();
  reader.ensureEnd('agent signature');
  return armourSshSig({ publicKeyBlob: keyBlob, namespace, signature });
}

function expectReply(reply: Uint8Array, type: number, what: string): SshReader {
  if (reply[0] === SSH_AGENT_FAILURE) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, `ssh-agent refused to ${what} (is the key loaded, was the security key touched?)`);
  }
  if (reply[0] !== type) throw new JitcaError(ErrorCodes.WIRE_INVALID, `ssh-agent answered ${what} with message type ${reply[0]}`);
  return new SshReader(reply.subarray(1));
}

/** One request, one framed reply (uint32 length, then the message) on a fresh connection. */
function agentRequest(socketPath: string, message: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    const chunks: Buffer[] = [];
    let received = 0;
    const fail = (error: JitcaError): void => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(AGENT_TIMEOUT_MS, () => fail(new JitcaError(ErrorCodes.REQUEST_INVALID, 'ssh-agent did not answer in time')));
    socket.on('error', (error: NodeJS.ErrnoException) =>
      fail(new JitcaError(ErrorCodes.REQUEST_INVALID, `no ssh-agent answers on SSH_AUTH_SOCK (${error.code ?? 'error'})`)),
    );
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      const buffered = Buffer.concat(chunks);
      if (buffered.length < 4) return;
      const length = buffered.readUInt32BE(0);
      if (length === 0 || length > MAX_AGENT_MESSAGE) {
        fail(new JitcaError(ErrorCodes.WIRE_INVALID, `ssh-agent sent a ${length}-byte message; at most ${MAX_AGENT_MESSAGE} are accepted`));
        return;
      }
      if (received >= 4 + length) {
        socket.end();
        resolve(new Uint8Array(buffered.subarray(4, 4 + length)));
      }
    });
    socket.on('connect', () => socket.write(new SshWriter(message.length + 4).writeString(message).toBytes()));
  });
}
