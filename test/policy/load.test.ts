import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JitcaError } from '../../src/errors.ts';
import { loadPolicy, parsePolicy } from '../../src/policy/load.ts';
import { MAX_POLICY_BYTES } from '../../src/policy/patterns.ts';
import { validPolicyDocument } from './policy-fixtures.ts';

type Document = ReturnType<typeof validPolicyDocument>;

function caught(action: () => unknown): JitcaError {
  try {
    action();
  } catch (error) {
    if (error instanceof JitcaError) return error;
    throw error;
  }
  throw new Error('expected a JitcaError, nothing was thrown');
}

function withRole0(change: (role: Record<string, unknown>) => void): string {
  const document = validPolicyDocument();
  change(document.roles[0]!);
  return JSON.stringify(document, null, 2);
}

function withDocument(change: (document: Document) => void): string {
  const document = validPolicyDocument();
  change(document);
  return JSON.stringify(document, null, 2);
}

describe('parsePolicy accepts a valid policy', () => {
  it('fills the documented defaults', () => {
    const policy = parsePolicy(JSON.stringify(validPolicyDocument()));
    const [oncall, breakGlass] = policy.roles;
    expect(oncall).toMatchObject({
      defaultTtlSeconds: 1800,
      ttlOverMax: 'cap',
      extensions: ['permit-pty'],
      verifyRequired: false,
      allowGateway: false,
    });
    // min(maxTtlSeconds, 1800)
    expect(breakGlass?.defaultTtlSeconds).toBe(900);
    expect(breakGlass?.ttlOverMax).toBe('deny');
  });

  it('keeps explicit values, including an empty extension list', () => {
    const policy = parsePolicy(
      withRole0((role) => {
        role.defaultTtlSeconds = 600;
        role.extensions = [];
        role.verifyRequired = true;
      }),
    );
    expect(policy.roles[0]).toMatchObject({ defaultTtlSeconds: 600, extensions: [], verifyRequired: true });
  });

  it('returns a frozen policy: what was reviewed is what gets evaluated', () => {
    const policy = parsePolicy(JSON.stringify(validPolicyDocument()));
    expect(() => {
      policy.roles[0]!.principals.push('root');
    }).toThrow(TypeError);
    expect(policy.roles[0]!.principals).toEqual(['oncall-payments', 'payments-readonly']);
  });

  it('tolerates a UTF-8 byte order mark', () => {
    expect(parsePolicy(`\uFEFF${JSON.stringify(validPolicyDocument())}`).roles).toHaveLength(2);
  });
});

describe('parsePolicy rejects bad policies with ERR_POLICY_INVALID and the JSON Pointer of the problem', () => {
  const cases: [string, string, string][] = [
    ['not JSON', '{"version": 1,', ''],
    ['not an object', '[]', ''],
    ['wrong version', withDocument((d) => (d.version = 2)), '/version'],
    ['unknown top-level field', withDocument((d) => Object.assign(d, { role: [] })), '/role'],
    ['unknown role field', withRole0((r) => (r.maxTTL = 60)), '/roles/0/maxTTL'],
    ['unknown scope field', withRole0((r) => (r.scope = { clusters: ['prod'], namespaces: ['payments'], pod: ['x'] })), '/roles/0/scope/pod'],
    ['missing required field', withRole0((r) => delete r.principals), '/roles/0/principals'],
    ['wrong type', withRole0((r) => (r.maxTtlSeconds = '1800')), '/roles/0/maxTtlSeconds'],
    ['ttl above one day', withDocument((d) => (d.roles[1]!.maxTtlSeconds = 86_401)), '/roles/1/maxTtlSeconds'],
    ['ttl below a minute', withRole0((r) => (r.maxTtlSeconds = 59)), '/roles/0/maxTtlSeconds'],
    ['fractional ttl', withRole0((r) => (r.maxTtlSeconds = 1800.5)), '/roles/0/maxTtlSeconds'],
    ['default above max', withRole0((r) => (r.defaultTtlSeconds = 3600)), '/roles/0/defaultTtlSeconds'],
    ['bad role name', withRole0((r) => (r.name = 'OnCall')), '/roles/0/name'],
    ['role name too long', withRole0((r) => (r.name = 'a'.repeat(64))), '/roles/0/name'],
    ['duplicate role names', withDocument((d) => (d.roles[1]!.name = 'oncall-payments')), '/roles/1/name'],
    ['system: group granted', withRole0((r) => (r.groups = ['oncall-payments', 'system:masters'])), '/roles/0/groups/1'],
    [
      'system: group trusted to approve',
      withDocument((d) => (d.roles[1]!.approval = { mode: 'manual', approverGroups: ['System:Masters'], approvals: 1 })),
      '/roles/1/approval/approverGroups/0',
    ],
    ['principal with a comma', withRole0((r) => (r.principals = ['a,b'])), '/roles/0/principals/0'],
    ['principal with a space', withRole0((r) => (r.principals = ['a b'])), '/roles/0/principals/0'],
    ['no principals (valid for every user)', withRole0((r) => (r.principals = [])), '/roles/0/principals'],
    ['repeated group', withRole0((r) => (r.groups = ['oncall-payments', 'oncall-payments'])), '/roles/0/groups/1'],
    ['bad CIDR: host bits', withRole0((r) => (r.sourceAddresses = ['10.40.0.0/16', '10.0.0.1/8'])), '/roles/0/sourceAddresses/1'],
    ['bad CIDR: no prefix', withRole0((r) => (r.sourceAddresses = ['10.0.0.1'])), '/roles/0/sourceAddresses/0'],
    ['bad CIDR: junk', withRole0((r) => (r.sourceAddresses = ['localhost/8'])), '/roles/0/sourceAddresses/0'],
    ['unknown extension', withRole0((r) => (r.extensions = ['permit-pty', 'permit-everything'])), '/roles/0/extensions/1'],
    ['approval mode unknown', withRole0((r) => (r.approval = { mode: 'sometimes' })), '/roles/0/approval/mode'],
    ['manual approval without groups', withRole0((r) => (r.approval = { mode: 'manual', approvals: 1 })), '/roles/0/approval/approverGroups'],
    [
      'manual approval with an empty group list',
      withRole0((r) => (r.approval = { mode: 'manual', approverGroups: [], approvals: 2 })),
      '/roles/0/approval/approverGroups',
    ],
    [
      'three approvals',
      withRole0((r) => (r.approval = { mode: 'manual', approverGroups: ['sre-leads'], approvals: 3 })),
      '/roles/0/approval/approvals',
    ],
    ['auto approval with approvers', withRole0((r) => (r.approval = { mode: 'auto', approvals: 1 })), '/roles/0/approval/approvals'],
    ['forceCommand outside commands', withRole0((r) => (r.forceCommand = 'bash')), '/roles/0/forceCommand'],
    ['command with a newline', withRole0((r) => (r.commands = ['kubectl logs\nrm -rf /'])), '/roles/0/commands/0'],
    ['wildcard mixed with names', withRole0((r) => (r.scope = { clusters: ['prod', '*'], namespaces: ['payments'] })), '/roles/0/scope/clusters/1'],
    ['bad namespace name', withRole0((r) => (r.scope = { clusters: ['prod'], namespaces: ['Payments'] })), '/roles/0/scope/namespaces/0'],
    ['extension domain not a DNS name', withDocument((d) => (d.extensionDomain = 'jitca_dev')), '/extensionDomain'],
    ['extension domain single label', withDocument((d) => (d.extensionDomain = 'jitca')), '/extensionDomain'],
    ['no roles', withDocument((d) => (d.roles = [])), '/roles'],
  ];

  it.each(cases)('%s', (_name, text, pointer) => {
    const error = caught(() => parsePolicy(text, 'policy.json'));
    expect(error.code).toBe('ERR_POLICY_INVALID');
    expect(error.details?.path).toBe(pointer);
    expect(error.details?.source).toBe('policy.json');
    // The message leads with the path so a reviewer can find the line.
    expect(error.message.startsWith(`policy.json: ${pointer === '' ? '' : pointer}`)).toBe(true);
  });

  it('names the limit in the message, e.g. "/roles/1/maxTtlSeconds must be <= 86400"', () => {
    const error = caught(() => parsePolicy(withDocument((d) => (d.roles[1]!.maxTtlSeconds = 90_000))));
    expect(error.message).toBe('/roles/1/maxTtlSeconds must be <= 86400');
  });

  describe('duplicate JSON keys', () => {
    const base = JSON.stringify(validPolicyDocument());

    it('rejects a repeated key in a role, which JSON.parse would silently resolve to the last value', () => {
      const text = base.replace('"maxTtlSeconds":1800', '"maxTtlSeconds":1800,"maxTtlSeconds":86400');
      expect(JSON.parse(text).roles[0].maxTtlSeconds).toBe(86_400);
      const error = caught(() => parsePolicy(text));
      expect(error.code).toBe('ERR_POLICY_INVALID');
      expect(error.details?.path).toBe('/roles/0/maxTtlSeconds');
    });

    it('rejects a repeated top-level key', () => {
      const text = `{"version":1,"roles":[],${base.slice(1)}`;
      const error = caught(() => parsePolicy(text));
      expect(error.code).toBe('ERR_POLICY_INVALID');
      expect(error.details?.path).toBe('/version');
    });

    it('sees through escapes: "\\u0061pproval" is "approval"', () => {
      const text = base.replace('"approval":{"mode":"auto"}', '"approval":{"mode":"auto"},"\\u0061pproval":{"mode":"auto"}');
      const error = caught(() => parsePolicy(text));
      expect(error.details?.path).toBe('/roles/0/approval');
    });

    it('finds repeats deep inside arrays of objects', () => {
      const text = base.replace('"approval":{"mode":"manual",', '"approval":{"mode":"manual","mode":"manual",');
      const error = caught(() => parsePolicy(text));
      expect(error.details?.path).toBe('/roles/1/approval/mode');
    });

    it('does not confuse equal keys in different objects or keys with string values', () => {
      const document = validPolicyDocument();
      document.roles[0]!.description = '"name": "groups" {} [] , : \\"';
      expect(parsePolicy(JSON.stringify(document)).roles).toHaveLength(2);
    });

    it('escapes "/" and "~" in the pointer (RFC 6901)', () => {
      const text = base.replace('"version":1', '"version":1,"a/b~c":1,"a/b~c":2');
      expect(caught(() => parsePolicy(text)).details?.path).toBe('/a~1b~0c');
    });
  });

  it('rejects a policy over 1 MiB with ERR_INPUT_TOO_LARGE before parsing it', () => {
    const text = JSON.stringify(validPolicyDocument()) + ' '.repeat(MAX_POLICY_BYTES);
    const error = caught(() => parsePolicy(text));
    expect(error.code).toBe('ERR_INPUT_TOO_LARGE');
    expect(error.details?.path).toBe('');
  });

  it('counts bytes, not characters', () => {
    const document = validPolicyDocument();
    // 3 bytes per character in UTF-8: under the limit in characters, over it in bytes.
    document.roles[0]!.description = '\u20ac'.repeat(Math.ceil(MAX_POLICY_BYTES / 3));
    const text = JSON.stringify(document);
    expect(text.length).toBeLessThan(MAX_POLICY_BYTES);
    expect(caught(() => parsePolicy(text)).code).toBe('ERR_INPUT_TOO_LARGE');
  });
});

describe('loadPolicy', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'jitca-policy-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads a file and names it in errors', () => {
    const good = path.join(dir, 'good.json');
    writeFileSync(good, JSON.stringify(validPolicyDocument()));
    expect(loadPolicy(good).roles.map((r) => r.name)).toEqual(['oncall-payments', 'break-glass']);

    const bad = path.join(dir, 'bad.json');
    const text = withRole0((r) => (r.maxTtlSeconds = 100_000));
    writeFileSync(bad, text);
    const error = caught(() => loadPolicy(bad));
    expect(error.code).toBe('ERR_POLICY_INVALID');
    expect(error.details?.path).toBe('/roles/0/maxTtlSeconds');
    expect(error.details?.source).toBe(bad);
    expect(error.message).toContain(bad);
    // The loader never touches the file it refused.
    expect(readFileSync(bad, 'utf8')).toBe(text);
  });

  it('accepts a file of exactly 1 MiB and refuses one byte more with ERR_INPUT_TOO_LARGE', () => {
    const json = JSON.stringify(validPolicyDocument());
    const exact = path.join(dir, 'exact.json');
    writeFileSync(exact, json + ' '.repeat(MAX_POLICY_BYTES - json.length));
    expect(loadPolicy(exact).roles).toHaveLength(2);

    const over = path.join(dir, 'over.json');
    writeFileSync(over, json + ' '.repeat(MAX_POLICY_BYTES - json.length + 1));
    const error = caught(() => loadPolicy(over));
    expect(error.code).toBe('ERR_INPUT_TOO_LARGE');
    expect(error.details?.path).toBe('');
  });

  it('refuses a missing file, a directory and invalid UTF-8 with ERR_POLICY_INVALID', () => {
    expect(caught(() => loadPolicy(path.join(dir, 'absent.json'))).code).toBe('ERR_POLICY_INVALID');
    expect(caught(() => loadPolicy(dir)).code).toBe('ERR_POLICY_INVALID');
    const latin1 = path.join(dir, 'latin1.json');
    const json = JSON.stringify(validPolicyDocument()).replace('"version":1', '"version":1,"x":"\u00ff"');
    writeFileSync(latin1, Buffer.from(json, 'latin1'));
    const error = caught(() => loadPolicy(latin1));
    expect(error.code).toBe('ERR_POLICY_INVALID');
    expect(error.details?.path).toBe('');
  });
});
