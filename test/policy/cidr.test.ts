import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cidrContains, cidrWithinAny, isCidr, parseCidr, type Cidr } from '../../src/policy/cidr.ts';

function parsed(text: string): Cidr {
  const result = parseCidr(text);
  if (!result.ok) throw new Error(`${text}: ${result.reason}`);
  return result.cidr;
}

describe('parseCidr accepts what sshd accepts in source-address', () => {
  it.each([
    ['10.0.0.0/8', 4, 8],
    ['203.0.113.7/32', 4, 32],
    ['0.0.0.0/0', 4, 0],
    ['192.168.100.0/22', 4, 22],
    ['2001:db8::/32', 6, 32],
    ['2001:DB8:40::/48', 6, 48],
    ['::/0', 6, 0],
    ['::1/128', 6, 128],
    ['fe80::/10', 6, 10],
    ['1:2:3:4:5:6:7:8/128', 6, 128],
    ['::ffff:10.0.0.0/104', 6, 104],
    ['64:ff9b::192.0.2.33/128', 6, 128],
    ['1::/16', 6, 16],
  ])('%s', (text, family, prefix) => {
    const cidr = parsed(text);
    expect(cidr.family).toBe(family);
    expect(cidr.prefix).toBe(prefix);
  });

  it('decodes the network bytes', () => {
    expect([...parsed('10.40.0.0/16').bytes]).toEqual([10, 40, 0, 0]);
    expect([...parsed('2001:db8::1/128').bytes]).toEqual([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect([...parsed('::ffff:1.2.3.4/128').bytes].slice(10)).toEqual([0xff, 0xff, 1, 2, 3, 4]);
  });
});

describe('parseCidr refuses anything ambiguous or malformed', () => {
  it.each([
    ['10.0.0.1', 'bare address: prefix required'],
    ['10.0.0.1/8', 'host bits set'],
    ['2001:db8::1/32', 'IPv6 host bits set'],
    ['10.0.0.0/33', 'prefix too long'],
    ['::/129', 'IPv6 prefix too long'],
    ['10.0.0.0/08', 'leading zero in prefix'],
    ['10.0.0.0/', 'empty prefix'],
    ['10.0.0.0/-1', 'negative prefix'],
    ['010.0.0.0/8', 'leading zero octet (octal to inet_aton)'],
    ['256.0.0.0/8', 'octet out of range'],
    ['10.0.0/24', 'three octets'],
    ['10.0.0.0.0/24', 'five octets'],
    [' 10.0.0.0/8', 'leading space'],
    ['10.0.0.0/8 ', 'trailing space'],
    ['10.0.0.0/8,10.1.0.0/16', 'a list, not one entry'],
    ['fe80::%eth0/64', 'zone id'],
    [':::/0', 'triple colon'],
    ['1::2::/32', 'two double colons'],
    ['1:2:3:4:5:6:7:8:9/128', 'nine groups'],
    ['1:2:3:4:5:6:7/112', 'seven groups without ::'],
    ['1:2:3:4:5:6:7::8/128', 'eight written groups plus ::'],
    ['12345::/16', 'five hex digits'],
    ['g::/16', 'not hex'],
    [':1::/16', 'leading single colon'],
    ['1::2:/128', 'trailing single colon'],
    ['1.2.3.4::/128', 'dotted quad before ::'],
    ['::1.2.3/128', 'short embedded IPv4'],
    ['', 'empty'],
    ['/8', 'no address'],
    ['1111:2222:3333:4444:5555:6666:7777:8888:9999/128', 'too long'],
  ])('%s (%s)', (text) => {
    const result = parseCidr(text);
    expect(result.ok).toBe(false);
    expect(isCidr(text)).toBe(false);
  });

  it('says why, so a policy author can fix it', () => {
    const result = parseCidr('10.0.0.1/8');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(/host bits/);
  });

  it('isCidr is false for non-strings', () => {
    expect(isCidr(undefined)).toBe(false);
    expect(isCidr(42)).toBe(false);
  });

  it('never throws on random text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (text) => {
        expect(typeof parseCidr(text).ok).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });
});

describe('cidrContains', () => {
  it('a network contains its subnets and itself, not its supernets or neighbours', () => {
    const net = parsed('10.40.0.0/16');
    expect(cidrContains(net, net)).toBe(true);
    expect(cidrContains(net, parsed('10.40.7.0/24'))).toBe(true);
    expect(cidrContains(net, parsed('10.40.255.255/32'))).toBe(true);
    expect(cidrContains(net, parsed('10.0.0.0/8'))).toBe(false);
    expect(cidrContains(net, parsed('10.41.0.0/24'))).toBe(false);
    expect(cidrContains(parsed('0.0.0.0/0'), parsed('203.0.113.7/32'))).toBe(true);
  });

  it('IPv6 works the same way', () => {
    const net = parsed('2001:db8:40::/48');
    expect(cidrContains(net, parsed('2001:db8:40:1::/64'))).toBe(true);
    expect(cidrContains(net, parsed('2001:db8:41::/64'))).toBe(false);
  });

  it('never mixes families, not even IPv4-mapped IPv6', () => {
    expect(cidrContains(parsed('::/0'), parsed('10.0.0.0/8'))).toBe(false);
    expect(cidrContains(parsed('0.0.0.0/0'), parsed('::ffff:10.0.0.0/104'))).toBe(false);
  });

  it('cidrWithinAny checks a list and ignores garbage', () => {
    expect(cidrWithinAny('10.40.1.0/24', ['192.168.0.0/16', '10.40.0.0/16'])).toBe(true);
    expect(cidrWithinAny('10.40.1.0/24', ['192.168.0.0/16'])).toBe(false);
    expect(cidrWithinAny('10.40.1.1/24', ['10.0.0.0/8'])).toBe(false);
    expect(cidrWithinAny('10.40.1.0/24', ['not-a-cidr'])).toBe(false);
  });
});

describe('properties', () => {
  it('every address fast-check generates parses as a host route', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        expect(parseCidr(`${ip}/32`).ok).toBe(true);
      }),
    );
    fc.assert(
      fc.property(fc.ipV6(), (ip) => {
        expect(parseCidr(`${ip}/128`).ok).toBe(true);
      }),
    );
  });

  it('a network contains every narrower network built from it, and only those', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.integer({ min: 0, max: 32 }),
        fc.integer({ min: 0, max: 32 }),
        (bytes, a, b) => {
          const [outerPrefix, innerPrefix] = a <= b ? [a, b] : [b, a];
          const outer = parsed(v4Network(bytes, outerPrefix));
          const inner = parsed(v4Network(bytes, innerPrefix));
          expect(cidrContains(outer, inner)).toBe(true);
          expect(cidrContains(inner, outer)).toBe(outerPrefix === innerPrefix);
        },
      ),
    );
  });
});

function v4Network(bytes: Uint8Array, prefix: number): string {
  const value = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const network = (value & mask) >>> 0;
  return `${network >>> 24}.${(network >>> 16) & 255}.${(network >>> 8) & 255}.${network & 255}/${prefix}`;
}
