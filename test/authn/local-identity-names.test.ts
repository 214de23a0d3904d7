import { describe, expect, it } from 'vitest';
import { checkLocalGroups, checkLocalUserName, LOCAL_GROUPS_MAX } from '../../src/authn/local-identity-names.ts';
import { ErrorCodes } from '../../src/errors.ts';

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

describe('local user names', () => {
  it.each(['alice', 'bob.smith', 'ci-bot_2', '0ps'])('accepts %j', (name) => {
    expect(checkLocalUserName(name)).toBe(name);
  });

  it.each(['', 'Alice', '-alice', '.alice', 'al ice', 'alice\n', 'root,admin', 'al\u202eice', 'a'.repeat(65), 'système'])(
    'refuses %j with ERR_REQUEST_INVALID',
    (name) => {
      expect(codeOf(() => checkLocalUserName(name))).toBe(ErrorCodes.REQUEST_INVALID);
    },
  );
});

describe('local groups', () => {
  it('de-duplicates and sorts', () => {
    expect(checkLocalGroups(['sre', 'team:payments', 'sre', 'org/platform'])).toEqual(['org/platform', 'sre', 'team:payments']);
  });

  it.each([[[]], [['']], [['system:masters']], [['SYSTEM:masters']], [['sre\u200b']], [['a b']], [['x'.repeat(129)]], [[':sre']]])(
    'refuses %j',
    (groups) => {
      expect(codeOf(() => checkLocalGroups(groups))).toBe(ErrorCodes.REQUEST_INVALID);
    },
  );

  it(`refuses more than ${LOCAL_GROUPS_MAX} distinct groups`, () => {
    const many = Array.from({ length: LOCAL_GROUPS_MAX + 1 }, (_, i) => `g${i}`);
    expect(codeOf(() => checkLocalGroups(many))).toBe(ErrorCodes.REQUEST_INVALID);
    expect(checkLocalGroups(many.slice(1))).toHaveLength(LOCAL_GROUPS_MAX);
  });
});
