/**
 * Fills a store to scale through the store API (bench/scale.ts): the rows one real issuance wrote,
 * repeated with fresh request ids, serials and validity, written with recordDecision and
 * recordRevocation like issuance and revocation write them. Many calls in flight is the fast path:
 * the group committer (group-commit.ts) shares each COMMIT among up to 256 of them.
 */
import { newRequestId } from '../src/issuance/request-id.ts';
import { randomSerial } from '../src/issuance/serial.ts';
import type { AuditRecord, Store, StoredCertificate, StoredRequest } from '../src/store/types.ts';

export interface FillTemplate {
  request: StoredRequest;
  certificate: StoredCertificate;
  event: AuditRecord;
}

export interface FillPlan {
  certificates: number;
  /** The first `revocations` certificates are revoked... */
  revocations: number;
  /** ...and the first `liveRevocations` of those are still valid (the rest expired long ago). */
  liveRevocations: number;
  nowMs: number;
  inFlight?: number;
  onProgress?: (done: number, phase: 'certificates' | 'revocations') => void;
}

const MAX_ROWS = 5_000_000;

/** The template: the newest certificate issuance wrote, with its request and audit record. */
export async function fillTemplateFrom(store: Store): Promise<FillTemplate> {
  const head = await store.auditHead();
  const recent = await store.listAudit({ afterSeq: Math.max(0, (head?.seq ?? 0) - 50), limit: 100 });
  const event = recent.findLast((record) => record.type === 'ssh.issued');
  const serial = event?.data['serial'];
  if (event === undefined || typeof serial !== 'string') throw new Error('no issued certificate to copy: issue one first');
  const certificate = await store.findCertificateBySerial(serial);
  const request = event.requestId === undefined ? undefined : await store.getRequest(event.requestId);
  if (certificate === undefined || request === undefined) throw new Error(`certificate ${serial} or its request is missing`);
  return { request, certificate, event };
}

export async function fillStore(store: Store, template: FillTemplate, plan: FillPlan): Promise<{ serials: string[] }> {
  if (plan.certificates > MAX_ROWS || plan.revocations > plan.certificates || plan.liveRevocations > plan.revocations) {
    throw new Error(`need liveRevocations <= revocations <= certificates <= ${MAX_ROWS}`);
  }
  const inFlight = plan.inFlight ?? 1024;
  const serials = new Array<string>(plan.certificates);
  let issued = 0;
  let revoked = 0;
  const validBeforeOf = (i: number): number =>
    i < plan.liveRevocations ? plan.nowMs + 30 * 60_000 : plan.nowMs - 86_400_000 - i * 1000;

  await pool(plan.certificates, inFlight, async (i) => {
    const id = newRequestId(Date.now());
    const serial = randomSerial().toString();
    serials[i] = serial;
    const validBefore = validBeforeOf(i);
    const keyId = `${template.request.requester}/${id}`;
    await store.recordDecision({
      request: {
        id,
        kind: template.request.kind,
        requester: template.request.requester,
        ...(template.request.role === undefined ? {} : { role: template.request.role }),
        state: 'issued',
        body: template.request.body,
        decision: template.request.decision,
        createdAt: new Date(validBefore - 600_000).toISOString(),
      },
      certificate: {
        serial,
        kind: template.certificate.kind,
        identity: template.certificate.identity,
        keyId,
        keyFingerprint: template.certificate.keyFingerprint,
        principals: template.certificate.principals,
        scope: template.certificate.scope,
        validAfter: new Date(validBefore - 600_000).toISOString(),
        validBefore: new Date(validBefore).toISOString(),
        caKeyId: template.certificate.caKeyId,
        requestId: id,
        certificate: template.certificate.certificate,
      },
      event: {
        type: 'ssh.issued',
        actor: template.event.actor,
        ...(template.event.subject === undefined ? {} : { subject: template.event.subject }),
        requestId: id,
        data: { ...template.event.data, serial, keyId },
      },
    });
    plan.onProgress?.(++issued, 'certificates');
  });

  await pool(plan.revocations, inFlight, async (i) => {
    const serial = serials[i] ?? '';
    await store.recordRevocation({
      serial,
      caKeyId: template.certificate.caKeyId,
      validBefore: new Date(validBeforeOf(i)).toISOString(),
      revokedBy: 'bench',
      reason: 'bench fill',
      event: { type: 'ssh.revoked', actor: 'bench', subject: template.certificate.identity, data: { serial, reason: 'bench fill' } },
    });
    plan.onProgress?.(++revoked, 'revocations');
  });
  return { serials };
}

/** Runs task(0..count-1) with at most `width` in flight. */
async function pool(count: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, count) }, async () => {
      for (let i = next++; i < count; i = next++) await task(i);
    }),
  );
}
