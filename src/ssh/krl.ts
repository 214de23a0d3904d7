import { SshWriter } from './wire.ts';

/**
 * OpenSSH key revocation lists (PROTOCOL.krl), the format sshd's RevokedKeys and `ssh-keygen -Q`
 * read. jitca revokes certificates by serial only: its serials are random 64-bit and unique per
 * CA, and a serial names exactly one certificate, where a key ID could be reused.
 */

/** PROTOCOL.krl §1: "SSHKRL\n\0", then format version 1. */
const KRL_MAGIC = Uint8Array.from(Buffer.from('SSHKRL\n\0', 'latin1'));
const KRL_FORMAT_VERSION = 1;
const KRL_SECTION_CERTIFICATES = 1;
const KRL_SECTION_CERT_SERIAL_LIST = 0x20;

export interface KrlInput {
  /** krl_version: increases with every new list, so hosts can tell newer from older. */
  version: bigint;
  /** generated_date, seconds since the epoch. */
  generatedAt: bigint;
  comment?: string;
  /** One certificates section per CA key (a CA's wire blob, as certificates carry it). */
  certificates: ReadonlyArray<{ caKeyBlob: Uint8Array; serials: readonly bigint[] }>;
}

/**
 * Encodes an unsigned KRL. Serials are written sorted and without duplicates; a CA with no
 * serials gets no section, so a list that revokes nothing is just the header.
 */
export function encodeKrl(input: KrlInput): Uint8Array {
  const writer = new SshWriter()
    .writeRaw(KRL_MAGIC)
    .writeUint32(KRL_FORMAT_VERSION)
    .writeUint64(input.version)
    .writeUint64(input.generatedAt)
    .writeUint64(0n) // flags: none defined
    .writeString(new Uint8Array(0)) // reserved
    .writeString(input.comment ?? '');
  for (const { caKeyBlob, serials } of input.certificates) {
    const sorted = [...new Set(serials)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    if (sorted.length === 0) continue;
    writer.writeRaw(Uint8Array.of(KRL_SECTION_CERTIFICATES)).writeNestedString((section) => {
      section.writeString(caKeyBlob).writeString(new Uint8Array(0)); // ca_key, reserved
      section.writeRaw(Uint8Array.of(KRL_SECTION_CERT_SERIAL_LIST)).writeNestedString((list) => {
        for (const serial of sorted) list.writeUint64(serial);
      });
    });
  }
  return writer.toBytes();
}
