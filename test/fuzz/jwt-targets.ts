/**
 * Fuzz target for bearer tokens: the Authorization header parser (src/authn/bearer.ts) and the
 * verifier's checks before and around jose (size, compact form, jose's errors mapped to codes,
 * iat/lifetime). Keys come from a JWKS served on 127.0.0.1; time is a fixed clock, so the seed
 * tokens stay valid however long the run takes. A token other than a seed that verifies is a
 * failure: it would be a second spelling of a signed token.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { bearerToken } from '../../src/authn/bearer.ts';
import { createJwtVerifier, type JwtVerifier } from '../../src/authn/jwt-verifier.ts';
import { fixedClock } from '../../src/clock.ts';
import { mutatedText } from './mutate.ts';
import { OracleFailure, type FuzzTarget } from './run.ts';

const ISSUER = 'https://idp.fuzz.example';
const AUDIENCE = 'jitca';
const IAT = 1_800_000_000;

export interface JwtSeeds {
  tokens: string[];
  verifier: JwtVerifier;
  close(): Promise<void>;
}

export async function jwtSeeds(): Promise<JwtSeeds> {
  const ed = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const ec = await generateKeyPair('ES256');
  const keys = [
    { ...(await exportJWK(ed.publicKey)), kid: 'ed', alg: 'EdDSA', use: 'sig' },
    { ...(await exportJWK(ec.publicKey)), kid: 'ec', alg: 'ES256', use: 'sig' },
  ];
  const body = JSON.stringify({ keys });
  const server: Server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const claims = { iss: ISSUER, aud: AUDIENCE, sub: 'alice', groups: ['sre', 'oncall-payments'], iat: IAT, exp: IAT + 600 };
  const tokens = [
    await new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', kid: 'ed', typ: 'JWT' }).sign(ed.privateKey),
    await new SignJWT({ ...claims, sub: 'bob', groups: [] }).setProtectedHeader({ alg: 'ES256', kid: 'ec' }).sign(ec.privateKey),
    await new SignJWT({ ...claims, aud: [AUDIENCE, 'other'], nbf: IAT }).setProtectedHeader({ alg: 'EdDSA', kid: 'ed', typ: 'at+jwt' }).sign(ed.privateKey),
  ];
  const verifier = createJwtVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUri: `http://127.0.0.1:${port}/jwks` }, { clock: fixedClock(IAT * 1000 + 5_000) });
  return { tokens, verifier, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const b64u = (text: string): string => Buffer.from(text, 'utf8').toString('base64url');
const jsonValue = fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }));

/** Header and payload JSON written by hand, so members can repeat and values be any JSON. */
function member(name: string, value: fc.Arbitrary<unknown>): fc.Arbitrary<string | undefined> {
  return fc.option(value.map((v) => `${JSON.stringify(name)}:${JSON.stringify(v) ?? 'null'}`), { nil: undefined });
}

const structuredToken = fc
  .record({
    header: fc.tuple(
      member('alg', fc.oneof(fc.constantFrom('EdDSA', 'ES256', 'RS256', 'none', 'HS256', 'PS256', 'EdDSA '), jsonValue)),
      member('kid', fc.oneof(fc.constantFrom('ed', 'ec', 'nope'), jsonValue)),
      member('typ', fc.oneof(fc.constantFrom('JWT', 'at+jwt', 'jwt', 'JOSE'), jsonValue)),
      member('crit', fc.oneof(fc.constant(['exp']), jsonValue)),
      member('alg', fc.constantFrom('EdDSA', 'none')),
    ),
    payload: fc.tuple(
      member('iss', fc.oneof(fc.constant(ISSUER), jsonValue)),
      member('aud', fc.oneof(fc.constantFrom(AUDIENCE, [AUDIENCE], ['x', AUDIENCE]), jsonValue)),
      member('sub', fc.oneof(fc.constantFrom('alice', 'root', 'system:admin', ''), jsonValue)),
      member('groups', fc.oneof(fc.constant(['sre']), jsonValue)),
      member('iat', fc.oneof(fc.constantFrom(IAT, IAT + 10_000, -1, 1e300), jsonValue)),
      member('exp', fc.oneof(fc.constantFrom(IAT + 600, IAT - 1, IAT + 10 ** 9), jsonValue)),
      member('sub', fc.constantFrom('root')),
    ),
    signature: fc.oneof(fc.constant(''), fc.uint8Array({ minLength: 64, maxLength: 64 }).map((bytes) => Buffer.from(bytes).toString('base64url')), fc.string({ maxLength: 8 })),
  })
  .map(({ header, payload, signature }) => {
    const object = (members: Array<string | undefined>): string => `{${members.filter((m) => m !== undefined).join(',')}}`;
    return `${b64u(object(header))}.${b64u(object(payload))}.${signature}`;
  });

export function jwtTarget(seeds: JwtSeeds): FuzzTarget<string> {
  const headers = seeds.tokens.map((token) => `Bearer ${token}`);
  return {
    name: 'JWT pre-checks',
    input: fc.oneof(
      { weight: 4, arbitrary: mutatedText(headers) },
      { weight: 3, arbitrary: structuredToken.map((token) => `Bearer ${token}`) },
      { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('Bearer', 'Bearer ', 'bearer x', 'Basic YTpi', 'Bearer a b', `Bearer ${'a'.repeat(9000)}`)) },
    ),
    async check(header) {
      const token = bearerToken(header);
      if (bearerToken(`Bearer ${token}`) !== token || header.slice(7) !== token) {
        throw new OracleFailure('bearer token reads differently when the header is written again');
      }
      await seeds.verifier.verify(token);
      if (!seeds.tokens.includes(token)) throw new OracleFailure('a token that is not one the issuer signed verified');
      return true;
    },
    show: (header) => JSON.stringify(header),
  };
}
