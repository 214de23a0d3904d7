/**
 * `jitca enroll` and `jitca keys list|remove`: the engineer binds a key to themself, with the
 * evidence their hardware gives (PIV attestation certificates, a PIV CSR, or a FIDO attestation
 * made over the CA's challenge), and manages their enrolled keys. A plain key or a PIV slot
 * attestation also brings a signature over the challenge by the key itself (ssh-agent or the key
 * file), since nothing else in it proves the engineer holds the key.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import {
  challengeIdOf,
  enrollPublicKey,
  fetchChallenge,
  listEnrolledKeys,
  removeEnrolledKey,
  skKeygenArguments,
  type EnrollmentEvidence,
} from '../client/key-enrollment.ts';
import { signEnrollmentChallenge } from '../client/possession-signature.ts';
import { terminalSafe } from '../client/terminal-text.ts';
import { evidenceProvesPossession } from '../enrollment/possession-proof.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { parseSshPublicKey } from '../ssh/public-key.ts';
import { session } from './requests.ts';

interface EnrollOptions {
  clientConfig?: string;
  key?: string;
  pivSlot?: string;
  pivF9?: string;
  pivCsr?: string;
  skAttestation?: string;
  challengeFile?: string;
  generateSk?: string;
  verifyRequired?: boolean;
  ecdsa?: boolean;
  resident?: boolean;
}

const MAX_FILE = 64 * 1024;

function readText(file: string, option: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, `cannot read ${option} ${file}`, { cause: error });
  }
  if (bytes.length > MAX_FILE) throw new JitcaError(ErrorCodes.INPUT_TOO_LARGE, `${option} ${file} is larger than ${MAX_FILE} bytes`);
  return bytes.toString('utf8');
}

/** The evidence the options name, or undefined for a plain (software) key; checks they make sense together. */
export function evidenceFrom(options: EnrollOptions): { evidence?: EnrollmentEvidence; challengeFromFile?: string } {
  const kinds = [options.pivSlot !== undefined || options.pivF9 !== undefined, options.pivCsr !== undefined, options.skAttestation !== undefined].filter(Boolean);
  if (kinds.length > 1) throw new JitcaError(ErrorCodes.REQUEST_INVALID, 'give one kind of evidence: --piv-slot with --piv-f9, --piv-csr, or --sk-attestation');
  if (options.pivSlot !== undefined || options.pivF9 !== undefined) {
    if (options.pivSlot === undefined || options.pivF9 === undefined) throw new JitcaError(ErrorCodes.REQUEST_INVALID, '--piv-slot and --piv-f9 go together');
    return { evidence: { kind: 'piv', slotCertificate: readText(options.pivSlot, '--piv-slot'), f9Certificate: readText(options.pivF9, '--piv-f9') } };
  }
  if (options.pivCsr !== undefined) return { evidence: { kind: 'piv-csr', csr: readText(options.pivCsr, '--piv-csr') } };
  if (options.skAttestation !== undefined) {
    // The attestation signs the challenge it was made with: that challenge is the one to answer.
    if (options.challengeFile === undefined) throw new JitcaError(ErrorCodes.REQUEST_INVALID, '--sk-attestation needs --challenge-file, the challenge ssh-keygen was given');
    const attestation = readFileSync(options.skAttestation);
    return { evidence: { kind: 'fido', attestation: attestation.toString('base64') }, challengeFromFile: challengeIdOf(readFileSync(options.challengeFile)) };
  }
  return {};
}

export function registerEnroll(program: Command): void {
  program
    .command('enroll')
    .description('enroll a public key as yours (plain, PIV-attested, or a FIDO key made with the CA\'s challenge)')
    .option('--client-config <file>', 'helper configuration (default ~/.config/jitca/client.json)')
    .option('--key <file.pub>', 'the public key to enroll; signed for through ssh-agent, or with the private key beside it')
    .option('--piv-slot <file.pem>', "PIV: the slot's attestation certificate (ykman piv keys attest SLOT FILE)")
    .option('--piv-f9 <file.pem>', "PIV: the device's f9 certificate (ykman piv certificates export f9 FILE)")
    .option('--piv-csr <file.pem>', 'PIV: a certificate request carrying the attestation (yubico-piv-tool)')
    .option('--sk-attestation <file>', 'FIDO: the attestation ssh-keygen wrote (-O write-attestation=)')
    .option('--challenge-file <file>', 'FIDO: the challenge ssh-keygen was given (-O challenge=)')
    .option('--generate-sk <file>', 'FIDO: fetch a challenge, make a new sk key at <file> with ssh-keygen and enroll it')
    .option('--verify-required', 'with --generate-sk: the key requires PIN or biometric at each use')
    .option('--ecdsa', 'with --generate-sk: ecdsa-sk instead of ed25519-sk')
    .option('--resident', 'with --generate-sk: keep the key handle on the authenticator')
    .action(async (options: EnrollOptions) => {
      const api = await session(options);
      let reply;
      if (options.generateSk !== undefined) {
        if (options.key !== undefined || options.skAttestation !== undefined) throw new JitcaError(ErrorCodes.REQUEST_INVALID, '--generate-sk makes the key and its attestation; leave out --key and --sk-attestation');
        reply = await generateAndEnroll(api, { ...options, generateSk: options.generateSk });
      } else {
        if (options.key === undefined) throw new JitcaError(ErrorCodes.REQUEST_INVALID, 'name the public key with --key FILE.pub (or make a FIDO key with --generate-sk FILE)');
        const { evidence, challengeFromFile } = evidenceFrom(options);
        const publicKey = readText(options.key, '--key').trim();
        if (evidenceProvesPossession(evidence?.kind)) {
          reply = await enrollPublicKey(api, publicKey, challengeFromFile ?? (await fetchChallenge(api)).id, { ...(evidence === undefined ? {} : { attestation: evidence }) });
        } else {
          const challenge = await fetchChallenge(api);
          const signature = await signEnrollmentChallenge(parseSshPublicKey(publicKey), challenge.bytes, {
            ...(process.env['SSH_AUTH_SOCK'] === undefined ? {} : { agentSocket: process.env['SSH_AUTH_SOCK'] }),
            ...(options.key.endsWith('.pub') ? { privateKeyFile: options.key.slice(0, -'.pub'.length) } : {}),
          });
          reply = await enrollPublicKey(api, publicKey, challenge.id, { ...(evidence === undefined ? {} : { attestation: evidence }), signature });
        }
      }
      process.stdout.write(`${terminalSafe(keyLine(reply), 2000)}\n`);
    });

}

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('your enrolled keys (key admins: anyone\'s)');
  keys
    .command('list')
    .option('--client-config <file>', 'helper configuration (default ~/.config/jitca/client.json)')
    .option('--all', "key admins: everyone's keys")
    .option('--owner <name>', "key admins: this person's keys")
    .action(async (options: { clientConfig?: string; all?: boolean; owner?: string }) => {
      const listed = await listEnrolledKeys(await session(options), { ...(options.all === true ? { all: true } : {}), ...(options.owner === undefined ? {} : { owner: options.owner }) });
      for (const key of listed) process.stdout.write(`${terminalSafe(keyLine(key), 2000)}\n`);
      if (listed.length === 0) process.stderr.write('jitca: no enrolled keys\n');
    });
  keys
    .command('remove <id>')
    .option('--client-config <file>', 'helper configuration (default ~/.config/jitca/client.json)')
    .action(async (id: string, options: { clientConfig?: string }) => {
      await removeEnrolledKey(await session(options), id);
      process.stdout.write(`removed ${id}\n`);
    });
}

async function generateAndEnroll(api: Awaited<ReturnType<typeof session>>, options: EnrollOptions & { generateSk: string }) {
  const challenge = await fetchChallenge(api);
  const dir = mkdtempSync(path.join(tmpdir(), 'jitca-enroll-'));
  try {
    const challengeFile = path.join(dir, 'challenge');
    const attestationFile = path.join(dir, 'attestation');
    writeFileSync(challengeFile, challenge.bytes, { mode: 0o600 });
    const argv = skKeygenArguments({ keyFile: options.generateSk, challengeFile, attestationFile, verifyRequired: options.verifyRequired, ecdsa: options.ecdsa, resident: options.resident });
    // Interactive: the authenticator asks for a touch (and a PIN); ssh-keygen talks to the terminal.
    const run = spawnSync('ssh-keygen', argv, { stdio: 'inherit' });
    if (run.status !== 0) throw new JitcaError(ErrorCodes.REQUEST_INVALID, `ssh-keygen ${argv.join(' ')} failed (exit ${run.status ?? run.signal}); is the security key plugged in?`);
    const attestation = readFileSync(attestationFile).toString('base64');
    return await enrollPublicKey(api, readText(`${options.generateSk}.pub`, '--generate-sk').trim(), challenge.id, { attestation: { kind: 'fido', attestation } });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function keyLine(key: Record<string, unknown>): string {
  const facts = ['kind', 'attested', 'serial', 'firmware', 'pinPolicy', 'touchPolicy']
    .filter((name) => key[name] !== undefined)
    .map((name) => `${name}=${String(key[name])}`);
  const flags = key['flags'] as { up?: boolean; uv?: boolean } | undefined;
  if (flags !== undefined) facts.push(`up=${String(flags.up)} uv=${String(flags.uv)}`);
  return `${String(key['id'])} ${String(key['owner'])} ${String(key['fingerprint'])} ${facts.join(' ')} enrolled ${String(key['enrolledAt'])}`;
}
