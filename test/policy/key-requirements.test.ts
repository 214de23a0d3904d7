import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.ts';
import { evaluateSshRequest } from '../../src/policy/evaluate.ts';
import { isKeyAdmin, mayManageKeyOf } from '../../src/policy/key-admin.ts';
import { firmwareAtLeast } from '../../src/policy/key-requirements.ts';
import { parsePolicy } from '../../src/policy/load.ts';
import type { Decision, KeyEnrollmentFacts, KeyRequirements, SubjectKey } from '../../src/policy/types.ts';
import { codeOf } from '../support/error-codes.ts';
import { FIDO_KEY, PLAIN_KEY, person, policyOf, role, validPolicyDocument } from './policy-fixtures.ts';

const alice = person('alice', ['hw']);

const PIV: KeyEnrollmentFacts = {
  kind: 'piv',
  attested: true,
  root: 'CN=Yubico PIV Root CA Serial 263751',
  firmware: '5.7.4',
  pinPolicy: 'once',
  touchPolicy: 'always',
};
const FIDO_UV: KeyEnrollmentFacts = { kind: 'fido', attested: true, root: 'CN=Yubico U2F Root CA Serial 457200631', flags: { up: true, uv: true } };
const SOFTWARE: KeyEnrollmentFacts = { kind: 'software', attested: false };

function decide(key: KeyRequirements, subject: SubjectKey): Decision {
  return evaluateSshRequest(policyOf(role({ name: 'hw', key })), alice, {}, subject);
}

function rule(decision: Decision): string | undefined {
  return decision.outcome === 'deny' ? decision.rule : undefined;
}

const enrolled = (facts: KeyEnrollmentFacts, base: SubjectKey = PLAIN_KEY): SubjectKey => ({ ...base, enrollment: facts });

describe('role key requirements', () => {
  it('refuses a key that is not enrolled to the requester under every requirement, naming key.enrolled', () => {
    for (const key of [{ enrolled: true }, { attested: 'either' }, { minPinPolicy: 'once' }, { userVerification: true }, { minFirmware: '5.0.0' }, { roots: ['CN=x'] }] as KeyRequirements[]) {
      expect(rule(decide(key, PLAIN_KEY))).toBe('key.enrolled');
    }
    expect(decide({ enrolled: true }, enrolled(SOFTWARE)).outcome).toBe('approve');
    expect(decide({}, PLAIN_KEY).outcome).toBe('approve');
  });

  it('key.attested: a software key, a FIDO "none" attestation, or the other kind of hardware is refused', () => {
    expect(rule(decide({ attested: 'either' }, enrolled(SOFTWARE)))).toBe('key.attested');
    expect(rule(decide({ attested: 'fido' }, enrolled({ ...FIDO_UV, attested: false }, FIDO_KEY)))).toBe('key.attested');
    expect(rule(decide({ attested: 'fido' }, enrolled(PIV)))).toBe('key.attested');
    expect(rule(decide({ attested: 'piv' }, enrolled(FIDO_UV, FIDO_KEY)))).toBe('key.attested');
    expect(decide({ attested: 'either' }, enrolled(PIV)).outcome).toBe('approve');
    expect(decide({ attested: 'either' }, enrolled(FIDO_UV, FIDO_KEY)).outcome).toBe('approve');
  });

  it('key.pin-policy and key.touch-policy: below the floor, "default", or not PIV at all is refused', () => {
    expect(rule(decide({ minPinPolicy: 'always' }, enrolled(PIV)))).toBe('key.pin-policy');
    expect(rule(decide({ minPinPolicy: 'once' }, enrolled({ ...PIV, pinPolicy: 'never' })))).toBe('key.pin-policy');
    expect(rule(decide({ minPinPolicy: 'once' }, enrolled({ ...PIV, pinPolicy: 'default' })))).toBe('key.pin-policy');
    expect(rule(decide({ minPinPolicy: 'once' }, enrolled(FIDO_UV, FIDO_KEY)))).toBe('key.pin-policy');
    expect(decide({ minPinPolicy: 'always' }, enrolled({ ...PIV, pinPolicy: 'match-always' })).outcome).toBe('approve');
    expect(rule(decide({ minTouchPolicy: 'always' }, enrolled({ ...PIV, touchPolicy: 'cached' })))).toBe('key.touch-policy');
    expect(decide({ minTouchPolicy: 'cached' }, enrolled(PIV)).outcome).toBe('approve');
  });

  it('key.user-verification: a FIDO key attested without UV is refused; with it, the grant carries verify-required', () => {
    expect(rule(decide({ userVerification: true }, enrolled({ ...FIDO_UV, flags: { up: true, uv: false } }, FIDO_KEY)))).toBe('key.user-verification');
    expect(rule(decide({ userVerification: true }, enrolled(PIV)))).toBe('key.user-verification');
    const granted = decide({ userVerification: true }, enrolled(FIDO_UV, FIDO_KEY));
    expect(granted.outcome === 'approve' && granted.grant.verifyRequired).toBe(true);
    const plain = decide({ attested: 'fido' }, enrolled(FIDO_UV, FIDO_KEY));
    expect(plain.outcome === 'approve' && plain.grant.verifyRequired).toBe(false);
  });

  it('key.firmware and key.root: below the floor, unknown, or from a root the role does not accept', () => {
    expect(rule(decide({ minFirmware: '5.7.5' }, enrolled(PIV)))).toBe('key.firmware');
    expect(rule(decide({ minFirmware: '5.0.0' }, enrolled(FIDO_UV, FIDO_KEY)))).toBe('key.firmware');
    expect(decide({ minFirmware: '5.7.4' }, enrolled(PIV)).outcome).toBe('approve');
    expect(rule(decide({ roots: ['CN=Yubico Attestation Root 1'] }, enrolled(PIV)))).toBe('key.root');
    expect(decide({ roots: ['CN=Yubico PIV Root CA Serial 263751'] }, enrolled(PIV)).outcome).toBe('approve');
    expect([firmwareAtLeast('5.10.0', '5.9.9'), firmwareAtLeast('4.3.9', '5.0.0'), firmwareAtLeast('5.x.0', '5.0.0')]).toEqual([true, false, false]);
  });

  it('the policy file takes role.key and keyAdminGroups, and refuses an unknown requirement or a malformed firmware floor', () => {
    const document = validPolicyDocument();
    document.roles[0]!.key = { attested: 'piv', minPinPolicy: 'once', minTouchPolicy: 'cached', minFirmware: '5.4.3', roots: ['CN=Yubico PIV Root CA Serial 263751'] };
    const loaded = parsePolicy(JSON.stringify({ ...document, keyAdminGroups: ['secteam'] }));
    expect(loaded.roles[0]!.key?.attested).toBe('piv');
    expect(loaded.keyAdminGroups).toEqual(['secteam']);
    document.roles[0]!.key = { attested: 'tpm' };
    expect(codeOf(() => parsePolicy(JSON.stringify(document)))).toBe(ErrorCodes.POLICY_INVALID);
    document.roles[0]!.key = { minFirmware: '5.4' };
    expect(codeOf(() => parsePolicy(JSON.stringify(document)))).toBe(ErrorCodes.POLICY_INVALID);
  });
});

describe('key administration', () => {
  it('owners manage their own keys, keyAdminGroups anyone\'s, a gateway nobody\'s', () => {
    const policy = { ...policyOf(role({ name: 'hw' })), keyAdminGroups: ['secteam'] };
    expect(mayManageKeyOf(policy, alice, 'alice')).toBe(true);
    expect(mayManageKeyOf(policy, alice, 'bob')).toBe(false);
    expect(mayManageKeyOf(policy, person('sam', ['secteam']), 'bob')).toBe(true);
    expect(isKeyAdmin(policy, person('sam', ['secteam'], 'gateway'))).toBe(false);
    expect(mayManageKeyOf(policy, person('alice', ['hw'], 'gateway'), 'alice')).toBe(false);
  });
});
