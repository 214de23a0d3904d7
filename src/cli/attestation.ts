import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { readAttestationCertificate } from '../attestation/attestation-certificate.ts';
import type { AttestationFacts } from '../attestation/attestation-facts.ts';
import { verifyFidoAttestation } from '../attestation/fido-attestation.ts';
import { parseGivenPublicKey, type GivenPublicKey } from '../attestation/given-public-key.ts';
import { verifyPivAttestation } from '../attestation/piv-attestation.ts';
import { verifyPivCsrAttestation } from '../attestation/piv-csr-attestation.ts';
import { loadAttestationTrust } from '../attestation/shipped-roots.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { collect } from './common.ts';

interface VerifyOptions {
  pivSlot?: string;
  pivF9?: string;
  csr?: string;
  skAttestation?: string;
  challenge?: string;
  pubkey?: string;
  root: string[];
  intermediate: string[];
}

/** Local input files are small; a larger one is a wrong path (a disk image, a log), not an attestation. */
const MAX_INPUT_BYTES = 64 * 1024;

export function registerAttestation(program: Command): void {
  program
    .command('attestation')
    .description('hardware key attestation, checked locally without a server')
    .command('verify')
    .description('verify a YubiKey PIV or FIDO (ssh-sk) attestation and print what it proves as one JSON object')
    .option('--piv-slot <file>', 'the slot attestation certificate (ykman piv keys attest), with --piv-f9')
    .option('--piv-f9 <file>', "the device's f9 certificate (ykman piv certificates export f9)")
    .option('--csr <file>', 'a CSR carrying its slot and f9 certificates in extensions 41482.3.11 (or .3.1) and .3.2')
    .option('--sk-attestation <file>', 'the file ssh-keygen -O write-attestation wrote, with --challenge and --pubkey')
    .option('--challenge <file>', 'the challenge file given to ssh-keygen -O challenge=')
    .option('--pubkey <key>', 'the key the attestation must be about: a file, or the authorized_keys line or PEM public key itself')
    .option('--root <file>', 'also trust the roots in this PEM file (repeatable)', collect, [])
    .option('--intermediate <file>', 'also use the intermediates in this PEM file (repeatable)', collect, [])
    .action((options: VerifyOptions) => {
      const facts = verify(options, new Date());
      process.stdout.write(`${JSON.stringify(inOrder(facts))}\n`);
    });
}

function verify(options: VerifyOptions, now: Date): AttestationFacts {
  // The command does not know which kind a file is for; both sets get it.
  const { root: roots, intermediate: intermediates } = options;
  const trust = loadAttestationTrust({ pivRoots: roots, pivIntermediates: intermediates, fidoRoots: roots, fidoIntermediates: intermediates });
  const expectedKey = options.pubkey === undefined ? undefined : givenKey(options.pubkey);
  const modes = [options.pivSlot ?? options.pivF9, options.csr, options.skAttestation].filter((mode) => mode !== undefined);
  if (modes.length !== 1) throw usage('give exactly one of --piv-slot with --piv-f9, --csr, or --sk-attestation with --challenge and --pubkey');
  if (options.csr !== undefined) return verifyPivCsrAttestation(read(options.csr, '--csr'), trust.piv, now, expectedKey);
  if (options.skAttestation !== undefined) {
    if (options.challenge === undefined || expectedKey === undefined) throw usage('--sk-attestation needs --challenge and --pubkey');
    if (expectedKey.form !== 'ssh') throw usage('--pubkey for --sk-attestation must be the sk-* key line (its .pub file)');
    const input = { blob: read(options.skAttestation, '--sk-attestation'), challenge: read(options.challenge, '--challenge'), sshKey: expectedKey.ssh };
    return verifyFidoAttestation(input, trust.fido, now);
  }
  if (options.pivSlot === undefined || options.pivF9 === undefined) throw usage('--piv-slot and --piv-f9 go together');
  const slot = readAttestationCertificate(read(options.pivSlot, '--piv-slot'), options.pivSlot);
  const f9 = readAttestationCertificate(read(options.pivF9, '--piv-f9'), options.pivF9);
  return verifyPivAttestation({ slot, f9, ...(expectedKey === undefined ? {} : { expectedKey }) }, trust.piv, now);
}

/** A key line has a space, a PEM starts with its BEGIN line; anything else names a file. */
function givenKey(value: string): GivenPublicKey {
  const literal = value.trimStart().startsWith('-----BEGIN') || /\s/.test(value.trim());
  return parseGivenPublicKey(literal ? value : read(value, '--pubkey').toString('utf8'));
}

function read(file: string, option: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw usage(`cannot read ${option} file ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (bytes.length > MAX_INPUT_BYTES) throw new JitcaError(ErrorCodes.INPUT_TOO_LARGE, `${option} file is larger than ${MAX_INPUT_BYTES} bytes`);
  return bytes;
}

/** The field order, whichever verifier built the object. */
function inOrder(facts: AttestationFacts): AttestationFacts {
  const { kind, attested, root, serial, firmware, pinPolicy, touchPolicy, formFactor, flags, publicKey } = facts;
  return JSON.parse(JSON.stringify({ kind, attested, root, serial, firmware, pinPolicy, touchPolicy, formFactor, flags, publicKey })) as AttestationFacts;
}

function usage(message: string): JitcaError {
  return new JitcaError(ErrorCodes.REQUEST_INVALID, message);
}
