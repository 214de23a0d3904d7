/**
 * Strict CIDR parsing for the source-address critical option (OpenSSH PROTOCOL.certkeys: "Addresses
 * are specified in CIDR format (nn.nn.nn.nn/nn or hhhh::hhhh/nn)").
 *
 * Stricter than sshd on purpose, never looser: sshd's addr_pton_cidr (addr.c) already refuses host
 * bits set below the mask and characters outside "0-9a-fA-F.:/"; here the prefix length is also
 * required (a bare address is ambiguous in a reviewed policy) and IPv4 octets may not have leading
 * zeros (inet_aton would read "010" as octal 8).
 */

export interface Cidr {
  family: 4 | 6;
  /** Network address, 4 or 16 bytes, host bits zero. */
  bytes: Uint8Array;
  prefix: number;
}

export type CidrParseResult = { ok: true; cidr: Cidr } | { ok: false; reason: string };

/** INET6_ADDRSTRLEN + "/128", the longest entry sshd accepts in a source-address list. */
const MAX_CIDR_LENGTH = 49;
const IPV4_OCTET = /^(?:0|[1-9][0-9]{0,2})$/;
const PREFIX_DIGITS = /^(?:0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

export function parseCidr(text: string): CidrParseResult {
  if (typeof text !== 'string') return fail('must be a string');
  if (text.length === 0) return fail('is empty');
  if (text.length > MAX_CIDR_LENGTH) return fail(`is longer than ${MAX_CIDR_LENGTH} characters`);
  const slash = text.indexOf('/');
  if (slash < 0) return fail('needs a prefix length, e.g. 203.0.113.7/32 or 2001:db8::/48');
  const addressText = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  if (!PREFIX_DIGITS.test(prefixText)) return fail(`has prefix length "${prefixText}"; expected a decimal number`);
  const prefix = Number(prefixText);

  const family: 4 | 6 = addressText.includes(':') ? 6 : 4;
  const bytes = family === 4 ? parseIpv4(addressText) : parseIpv6(addressText);
  if (bytes === undefined) {
    return fail(family === 4 ? 'is not a dotted-quad IPv4 address' : 'is not an IPv6 address');
  }
  const maxPrefix = family === 4 ? 32 : 128;
  if (prefix > maxPrefix) return fail(`has prefix length ${prefix}; IPv${family} allows 0..${maxPrefix}`);
  if (!hostBitsZero(bytes, prefix)) {
    return fail(`has host bits set below /${prefix}; write the network address (sshd refuses this too)`);
  }
  return { ok: true, cidr: { family, bytes, prefix } };
}

export function isCidr(text: unknown): boolean {
  return typeof text === 'string' && parseCidr(text).ok;
}

/** True when every address in `inner` is also in `outer`. Families never mix (no v4-mapped magic). */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  if (outer.family !== inner.family || inner.prefix < outer.prefix) return false;
  return prefixBitsEqual(outer.bytes, inner.bytes, outer.prefix);
}

/** True when `inner` parses and lies inside at least one of `outers` (unparseable outers match nothing). */
export function cidrWithinAny(inner: string, outers: readonly string[]): boolean {
  const parsedInner = parseCidr(inner);
  if (!parsedInner.ok) return false;
  return outers.some((outer) => {
    const parsedOuter = parseCidr(outer);
    return parsedOuter.ok && cidrContains(parsedOuter.cidr, parsedInner.cidr);
  });
}

function fail(reason: string): CidrParseResult {
  return { ok: false, reason };
}

function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (const [index, part] of parts.entries()) {
    if (!IPV4_OCTET.test(part)) return undefined;
    const value = Number(part);
    if (value > 255) return undefined;
    bytes[index] = value;
  }
  return bytes;
}

/** RFC 4291 §2.2 text forms: eight groups, one "::" for a run of zero groups, dotted IPv4 tail. */
function parseIpv6(text: string): Uint8Array | undefined {
  const doubleColon = text.indexOf('::');
  if (doubleColon >= 0 && text.indexOf('::', doubleColon + 1) >= 0) return undefined;
  const headText = doubleColon >= 0 ? text.slice(0, doubleColon) : text;
  const tailText = doubleColon >= 0 ? text.slice(doubleColon + 2) : '';
  const head = headText === '' ? [] : headText.split(':');
  const tail = tailText === '' ? [] : tailText.split(':');

  // A dotted IPv4 address may stand for the last two groups only (RFC 4291 §2.2 form 3).
  const groups: number[] = [];
  const all = [...head, ...tail];
  const last = all[all.length - 1];
  let embedded: Uint8Array | undefined;
  if (last !== undefined && last.includes('.')) {
    // Only as the very last thing written: "1.2.3.4::" puts it before the zero run.
    if (doubleColon >= 0 && tail.length === 0) return undefined;
    embedded = parseIpv4(last);
    if (embedded === undefined) return undefined;
    if (doubleColon >= 0) tail.pop();
    else head.pop();
  }
  const hexGroups = (parts: string[]): number[] | undefined => {
    const out: number[] = [];
    for (const part of parts) {
      if (!HEX_GROUP.test(part)) return undefined;
      out.push(parseInt(part, 16));
    }
    return out;
  };
  const headGroups = hexGroups(head);
  const tailGroups = hexGroups(tail);
  if (headGroups === undefined || tailGroups === undefined) return undefined;
  const embeddedGroups = embedded === undefined ? [] : [(embedded[0]! << 8) | embedded[1]!, (embedded[2]! << 8) | embedded[3]!];
  const explicit = headGroups.length + tailGroups.length + embeddedGroups.length;
  if (doubleColon >= 0) {
    // "::" stands for one or more zero groups, so at most seven may be written out.
    if (explicit > 7) return undefined;
    groups.push(...headGroups, ...new Array<number>(8 - explicit).fill(0), ...tailGroups, ...embeddedGroups);
  } else {
    if (explicit !== 8) return undefined;
    groups.push(...headGroups, ...embeddedGroups);
  }
  const bytes = new Uint8Array(16);
  for (const [index, group] of groups.entries()) {
    bytes[index * 2] = group >> 8;
    bytes[index * 2 + 1] = group & 0xff;
  }
  return bytes;
}

function hostBitsZero(bytes: Uint8Array, prefix: number): boolean {
  for (let bit = prefix; bit < bytes.length * 8; bit++) {
    if (((bytes[bit >> 3]! >> (7 - (bit & 7))) & 1) !== 0) return false;
  }
  return true;
}

function prefixBitsEqual(a: Uint8Array, b: Uint8Array, prefix: number): boolean {
  for (let bit = 0; bit < prefix; bit++) {
    const mask = 1 << (7 - (bit & 7));
    if ((a[bit >> 3]! & mask) !== (b[bit >> 3]! & mask)) return false;
  }
  return true;
}
