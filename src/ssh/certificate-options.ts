import { ErrorCodes, JitcaError } from '../errors.ts';
import { cidrProblem } from './cidr.ts';
import { SshReader, SshWriter } from './wire.ts';

/**
 * Critical options and extensions (PROTOCOL.certkeys "Critical options" and "Extensions"): each
 * section is a string holding a sequence of
 *   string name
 *   string data
 * lexically ordered by name, each name at most once. Flags have empty data; valued options carry
 * string(value) inside data (so force-command's data is uint32 length + command).
 */

export const STANDARD_EXTENSIONS = [
  'no-touch-required',
  'permit-X11-forwarding',
  'permit-agent-forwarding',
  'permit-port-forwarding',
  'permit-pty',
  'permit-user-rc',
] as const;

export type StandardExtension = (typeof STANDARD_EXTENSIONS)[number];

export interface CertificateCriticalOptions {
  /** sshd runs only this command, whatever the client asks for. */
  forceCommand?: string;
  /** CIDR list; sshd accepts the certificate only from these source addresses. */
  sourceAddresses?: string[];
  /** FIDO keys must assert user verification (PIN or biometric), OpenSSH 8.9+. */
  verifyRequired?: boolean;
}

/** One name/data pair exactly as on the wire. */
export interface SshCertificateOption {
  name: string;
  data: Uint8Array;
}

/** Custom names carry the author's domain (PROTOCOL.certkeys: "my-option@example.com"). */
const CUSTOM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const MAX_NAME_LENGTH = 256;

export function isCustomOptionName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && CUSTOM_NAME.test(name);
}

function isStandardExtension(name: string): name is StandardExtension {
  return (STANDARD_EXTENSIONS as readonly string[]).includes(name);
}

/** C0 controls and DEL: NUL truncates C strings, newlines forge log lines. */
export function hasControlCharacter(text: string): boolean {
  return /[\u0000-\u001f\u007f]/.test(text);
}

function invalid(message: string): JitcaError {
  return new JitcaError(ErrorCodes.REQUEST_INVALID, message);
}

/**
 * An option on its way into a certificate: a flag (no value, empty data) or a valued option whose
 * data is string(value). Written straight into the certificate by writeOptionList, so no
 * intermediate buffer is built per option.
 */
export interface OptionToEncode {
  name: string;
  value?: string;
}

/** Validates builder input and returns the critical options in wire order. */
export function criticalOptionsToList(options: CertificateCriticalOptions | undefined): OptionToEncode[] {
  const list: OptionToEncode[] = [];
  if (options === undefined) return list;
  if (options.forceCommand !== undefined) {
    if (typeof options.forceCommand !== 'string' || options.forceCommand.length === 0 || options.forceCommand.includes('\0')) {
      throw invalid('forceCommand must be a non-empty string without NUL');
    }
    list.push({ name: 'force-command', value: options.forceCommand });
  }
  if (options.sourceAddresses !== undefined) {
    const problem = sourceAddressListProblem(options.sourceAddresses);
    if (problem !== undefined) throw invalid(`sourceAddresses: ${problem}`);
    list.push({ name: 'source-address', value: options.sourceAddresses.join(',') });
  }
  if (options.verifyRequired !== undefined && typeof options.verifyRequired !== 'boolean') {
    throw invalid('verifyRequired must be a boolean');
  }
  if (options.verifyRequired === true) list.push({ name: 'verify-required' });
  return sortOptions(list);
}

/** Validates builder input and returns the extensions in wire order. */
export function extensionsToList(
  extensions: readonly string[],
  customExtensions: Readonly<Record<string, string>> | undefined,
): OptionToEncode[] {
  if (!Array.isArray(extensions)) throw invalid('extensions must be an array of names');
  const list: OptionToEncode[] = [];
  for (const name of extensions) {
    if (typeof name !== 'string' || !(isStandardExtension(name) || isCustomOptionName(name))) {
      throw invalid(
        `extension ${JSON.stringify(String(name).slice(0, 64))} is neither standard (${STANDARD_EXTENSIONS.join(', ')}) nor a custom name@domain`,
      );
    }
    list.push({ name });
  }
  if (customExtensions !== undefined) {
    for (const name of Object.keys(customExtensions)) {
      const value = customExtensions[name];
      if (!isCustomOptionName(name)) {
        throw invalid(`custom extension name ${JSON.stringify(name.slice(0, 64))} must look like name@domain`);
      }
      if (typeof value !== 'string' || value.includes('\0')) {
        throw invalid(`custom extension ${name} must have a string value without NUL`);
      }
      list.push({ name, value });
    }
  }
  return sortOptions(list);
}

/** Sorts `list` in place into wire order and refuses duplicates. */
function sortOptions(list: OptionToEncode[]): OptionToEncode[] {
  // Byte order, as OpenSSH's strcmp; names are ASCII so UTF-16 code unit order is the same.
  list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (let i = 1; i < list.length; i++) {
    if (list[i]?.name === list[i - 1]?.name) throw invalid(`option ${list[i]?.name ?? ''} appears twice`);
  }
  return list;
}

/** The section body: concatenated (string name, string data) pairs, already sorted. */
export function writeOptionList(writer: SshWriter, list: readonly OptionToEncode[]): void {
  for (const option of list) {
    writer.writeString(option.name);
    const value = option.value;
    if (value === undefined) writer.writeUint32(0);
    else writer.writeNestedString((data) => data.writeString(value));
  }
}

/** The section body as its own byte string (see writeOptionList). */
export function encodeOptionList(list: readonly OptionToEncode[]): Uint8Array {
  const writer = new SshWriter();
  writeOptionList(writer, list);
  return writer.toBytes();
}

/** Strict decoding of a section: names printable ASCII, strictly increasing, no duplicates. */
export function decodeOptionList(section: Uint8Array, what: string): SshCertificateOption[] {
  const reader = new SshReader(section);
  const list: SshCertificateOption[] = [];
  let previous: string | undefined;
  while (reader.remaining > 0) {
    const nameBytes = reader.readString();
    if (nameBytes.length === 0 || nameBytes.length > MAX_NAME_LENGTH || nameBytes.some((b) => b < 0x21 || b > 0x7e)) {
      throw new JitcaError(ErrorCodes.WIRE_INVALID, `${what} name is empty, too long or not printable ASCII`);
    }
    const name = Buffer.from(nameBytes).toString('latin1');
    if (previous !== undefined && !(previous < name)) {
      throw new JitcaError(
        ErrorCodes.WIRE_INVALID,
        `${what} are not in lexical order without duplicates (${previous} then ${name})`,
      );
    }
    previous = name;
    list.push({ name, data: reader.readString() });
  }
  return list;
}

/**
 * Reads data that must be exactly one string (valued options). Returns undefined when the data is
 * not shaped that way, so callers decide whether that is an error (critical) or ignorable (extension).
 */
export function decodeStringData(data: Uint8Array): string | undefined {
  try {
    const reader = new SshReader(data);
    const value = reader.readStringUtf8();
    reader.ensureEnd();
    return value;
  } catch {
    return undefined;
  }
}

export interface DecodedCriticalOptions {
  criticalOptions: CertificateCriticalOptions;
  /** Names this parser does not know; a verifier must refuse the certificate (PROTOCOL.certkeys). */
  unrecognized: string[];
}

export function decodeCriticalOptions(list: readonly SshCertificateOption[]): DecodedCriticalOptions {
  const criticalOptions: CertificateCriticalOptions = {};
  const unrecognized: string[] = [];
  for (const { name, data } of list) {
    switch (name) {
      case 'force-command': {
        const value = decodeStringData(data);
        if (value === undefined) throw wireInvalid('force-command data is not a single string');
        criticalOptions.forceCommand = value;
        break;
      }
      case 'source-address': {
        const value = decodeStringData(data);
        if (value === undefined) throw wireInvalid('source-address data is not a single string');
        const addresses = value.split(',');
        const problem = sourceAddressListProblem(addresses);
        if (problem !== undefined) throw wireInvalid(`source-address: ${problem}`);
        criticalOptions.sourceAddresses = addresses;
        break;
      }
      case 'verify-required':
        if (data.length !== 0) throw wireInvalid('verify-required is a flag and must have empty data');
        criticalOptions.verifyRequired = true;
        break;
      default:
        unrecognized.push(name);
    }
  }
  return { criticalOptions, unrecognized };
}

export interface DecodedExtensions {
  /** Flag extensions (empty data), wire order. */
  extensions: string[];
  /** Extensions whose data is one string, e.g. custom name@domain values. */
  customExtensions: Record<string, string>;
}

export function decodeExtensions(list: readonly SshCertificateOption[]): DecodedExtensions {
  const extensions: string[] = [];
  const customExtensions: Record<string, string> = {};
  for (const { name, data } of list) {
    if (data.length === 0) {
      extensions.push(name);
      continue;
    }
    // Unknown extensions may be ignored (PROTOCOL.certkeys), so odd data stays only in the raw list.
    const value = decodeStringData(data);
    // defineProperty: a hostile name such as "__proto__" must stay an ordinary key.
    if (value !== undefined) {
      Object.defineProperty(customExtensions, name, { value, enumerable: true, writable: true, configurable: true });
    }
  }
  return { extensions, customExtensions };
}

function sourceAddressListProblem(addresses: unknown): string | undefined {
  if (!Array.isArray(addresses) || addresses.length === 0) return 'must be a non-empty list of CIDR blocks';
  for (const entry of addresses) {
    if (typeof entry !== 'string') return 'entries must be strings';
    const problem = cidrProblem(entry);
    if (problem !== undefined) return `${JSON.stringify(entry.slice(0, 64))}: ${problem}`;
  }
  return undefined;
}

function wireInvalid(message: string): JitcaError {
  return new JitcaError(ErrorCodes.WIRE_INVALID, message);
}
