import { isIPv4, isIPv6 } from 'node:net';

/**
 * One entry of the source-address critical option (PROTOCOL.certkeys "Critical options": CIDR
 * nn.nn.nn.nn/nn or hhhh::hhhh/nn). Mirrors OpenSSH's addr_match_cidr_list/addr_pton_cidr: only the
 * characters 0-9 a-f A-F . : / are allowed, a bare address means a /32 or /128, and host bits
 * below the mask must be zero ("Inconsistent mask length" otherwise, which makes sshd refuse the
 * whole certificate).
 *
 * Returns undefined when the entry is acceptable, else the reason it is not.
 */
export function cidrProblem(entry: string): string | undefined {
  // INET6_ADDRSTRLEN (46) + "/128", OpenSSH's own length cap.
  if (entry.length === 0 || entry.length > 49 || !/^[0-9a-fA-F.:/]+$/.test(entry)) {
    return 'only digits, hex letters, ".", ":" and "/" are allowed';
  }
  const parts = entry.split('/');
  if (parts.length > 2) return 'more than one "/"';
  const [address = '', maskText] = parts;
  let bytes: Uint8Array;
  if (isIPv4(address)) bytes = ipv4Bytes(address);
  else if (isIPv6(address)) bytes = ipv6Bytes(address);
  else return 'not an IPv4 or IPv6 address';
  const maxBits = bytes.length * 8;
  let prefix = maxBits;
  if (maskText !== undefined) {
    if (!/^[0-9]{1,3}$/.test(maskText)) return 'mask length must be a decimal number';
    prefix = Number(maskText);
    if (prefix > maxBits) return `mask length exceeds ${maxBits}`;
  }
  for (let bit = prefix; bit < maxBits; bit++) {
    if (((bytes[bit >> 3] ?? 0) & (0x80 >> (bit & 7))) !== 0) return 'host bits are set below the mask length';
  }
  return undefined;
}

function ipv4Bytes(address: string): Uint8Array {
  return Uint8Array.from(address.split('.').map((octet) => Number(octet)));
}

/** Expands a syntactically valid IPv6 address (already checked by isIPv6) to 16 bytes. */
function ipv6Bytes(address: string): Uint8Array {
  let text = address;
  if (text.includes('.')) {
    // Embedded IPv4 tail (::ffff:192.0.2.1) becomes two hex groups.
    const cut = text.lastIndexOf(':');
    const v4 = ipv4Bytes(text.slice(cut + 1));
    const high = (((v4[0] ?? 0) << 8) | (v4[1] ?? 0)).toString(16);
    const low = (((v4[2] ?? 0) << 8) | (v4[3] ?? 0)).toString(16);
    text = `${text.slice(0, cut + 1)}${high}:${low}`;
  }
  const halves = text.split('::');
  const left = halves[0] ? halves[0].split(':') : [];
  const right = halves[1] ? halves[1].split(':') : [];
  const groups =
    halves.length === 2 ? [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  const bytes = new Uint8Array(16);
  groups.forEach((group, index) => {
    const value = parseInt(group, 16);
    bytes[index * 2] = value >> 8;
    bytes[index * 2 + 1] = value & 0xff;
  });
  return bytes;
}
