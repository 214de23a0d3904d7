import { execFileSync } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sshCertificateRequestSchema } from '../../src/api/schemas.ts';
import { MAX_KEPT_FIELD_BYTES, MAX_KEPT_MESSAGE_BYTES } from '../../src/issuance/denial-record.ts';
import { auditExportLine } from '../../src/store/audit-export.ts';
import { canonicalJson } from '../../src/store/canonical-json.ts';
import type { AuditRecord } from '../../src/store/types.ts';
import { createApiFixture, type ApiFixture } from '../support/api-fixture.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

const fields = sshCertificateRequestSchema.properties;

/** `count` distinct strings of exactly `length` characters. */
function distinct(count: number, length: number, prefix: string): string[] {
  return Array.from({ length: count }, (_, index) => `${prefix}${index}`.padEnd(length, 'x'));
}

/** The largest body the schema lets through: every list full, every string at its longest. */
function worstCaseBody(publicKey: string): Record<string, unknown> {
  return {
    publicKey,
    role: 'oncall-payments',
    principals: distinct(fields.principals.maxItems, fields.principals.items.maxLength, 'p'),
    ttl: '30m',
    scope: {
      cluster: 'c'.repeat(fields.scope.properties.cluster.maxLength),
      namespace: 'n'.repeat(fields.scope.properties.namespace.maxLength),
      pod: 'p'.repeat(fields.scope.properties.pod.maxLength),
      node: 'n'.repeat(fields.scope.properties.node.maxLength),
    },
    commands: distinct(fields.commands.maxItems, fields.commands.items.maxLength, 'kubectl logs '),
    // "0000:0000:0000:0000:0000:0000:255.255.255.200/128": the longest CIDR text there is.
    sourceAddresses: Array.from({ length: fields.sourceAddresses.maxItems }, (_, index) => `${'0000:'.repeat(6)}255.255.255.${200 + index}/128`),
    reason: 'r'.repeat(fields.reason.maxLength),
  };
}

/** Every field of a denial's data within its bound: the rule whole, the message cut, the rest kept or hashed. */
function expectBounded(record: AuditRecord): void {
  for (const [name, value] of Object.entries(record.data)) {
    const bytes = Buffer.byteLength(canonicalJson(value));
    if (name === 'message') expect(bytes, name).toBeLessThanOrEqual(MAX_KEPT_MESSAGE_BYTES + 2); // and its quotes
    else if (name !== 'rule') expect(bytes, name).toBeLessThanOrEqual(MAX_KEPT_FIELD_BYTES);
  }
}

describe('what one denial writes', () => {
  let api: ApiFixture;
  let key: TempSshKey;

  beforeAll(async () => {
    api = await createApiFixture({ rateLimitPerMinute: 10_000 });
    key = createTempSshKey('jitca-denial-growth-');
  });
  afterAll(async () => {
    await api?.close();
    key?.cleanup();
  });

  const post = (url: string, payload: Record<string, unknown>) =>
    api.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${api.tokens.alice}` }, payload });

  async function written(requestId: string): Promise<{ record: AuditRecord; auditBytes: number; rowBytes: number }> {
    const record = (await api.ca.runtime.store.listAudit({ limit: 10_000 })).find((entry) => entry.requestId === requestId)!;
    const db = new Database(api.ca.config.store.sqlitePath, { readonly: true });
    try {
      const row = db.prepare('select length(cast(body as blob)) + length(cast(decision as blob)) as bytes from requests where id = ?').get(requestId) as { bytes: number };
      return { record, auditBytes: Buffer.byteLength(auditExportLine(record)), rowBytes: row.bytes };
    } finally {
      db.close();
    }
  }

  it('a worst-case SSH request denied by policy adds a bounded audit record and request row', async () => {
    const body = worstCaseBody(key.publicKey);
    const response = await post('/v1/ssh/certificates', body);
    expect(response.statusCode).toBe(403);
    const { record, auditBytes, rowBytes } = await written(response.json().details.requestId);
    console.log(`SSH denial of a ${Buffer.byteLength(JSON.stringify(body))}-byte body: audit record ${auditBytes} bytes, request row ${rowBytes} bytes`);
    expect(record).toMatchObject({ type: 'ssh.denied', data: { rule: 'principals.not-allowed', role: 'oncall-payments' } });
    expectBounded(record);
    // What was asked can still be matched: an oversized field is kept as the SHA-256 of its canonical JSON.
    expect(record.data['commands']).toEqual({ sha256: expect.stringMatching(/^[0-9a-f]{64}$/), bytes: Buffer.byteLength(canonicalJson(body['commands'])) });
    // SECURITY.md "Audit growth" states this ceiling for an identity with a short name.
    expect(auditBytes).toBeLessThanOrEqual(4096);
    expect(rowBytes).toBeLessThanOrEqual(4096);
  });

  it('the body that wrote 44 KB per denial before the bounds is refused by the schema and writes nothing', async () => {
    const before = api.rowCounts();
    const old = { ...worstCaseBody(key.publicKey), commands: distinct(32, 1024, 'kubectl logs '), reason: 'r'.repeat(1024) };
    const response = await post('/v1/ssh/certificates', old);
    expect(response.statusCode).toBe(400);
    expect(response.json().code).toBe('ERR_REQUEST_INVALID');
    expect(api.rowCounts()).toEqual(before);
  });

  it('an X.509 request with a CSR full of O values is denied with a bounded record', async () => {
    const csrKey = path.join(key.dir, 'many-o.key');
    execFileSync('openssl', ['genpkey', '-algorithm', 'Ed25519', '-out', csrKey]);
    const organizations = distinct(150, 60, 'jit:stranger:');
    const csr = execFileSync('openssl', ['req', '-new', '-key', csrKey, '-subj', `/CN=alice${organizations.map((o) => `/O=${o}`).join('')}`], { encoding: 'utf8' });
    const response = await post('/v1/x509/certificates', { csr });
    expect(response.statusCode).toBe(403);
    const { record, auditBytes, rowBytes } = await written(response.json().details.requestId);
    console.log(`X.509 denial of a ${csr.length}-byte CSR: audit record ${auditBytes} bytes, request row ${rowBytes} bytes`);
    expect(record.type).toBe('x509.denied');
    expectBounded(record);
    expect(auditBytes).toBeLessThanOrEqual(4096);
    expect(rowBytes).toBeLessThanOrEqual(4096);
  });
});
