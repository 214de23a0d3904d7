/**
 * deploy/monitoring: the PrometheusRule the seeds' alerting section asks for, written against
 * jitca's own metrics. No Prometheus here to evaluate PromQL, so this checks what can silently
 * rot: every metric and label an alert selects is one the API really exports.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeliveryCounters } from '../../src/notify/outbox-delivery.ts';
import { createApiFixture, type ApiFixture } from '../support/api-fixture.ts';
import { testPolicy } from '../support/ca-fixture.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: { severity: string };
  annotations: { summary: string; description: string };
}

const rulesFile = path.resolve(import.meta.dirname, '../../deploy/monitoring/prometheus-rules.json');
const document = JSON.parse(readFileSync(rulesFile, 'utf8')) as {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string };
  spec: { groups: Array<{ name: string; rules: AlertRule[] }> };
};
const rules = document.spec.groups.flatMap((group) => group.rules);

const dashboardFile = path.resolve(import.meta.dirname, '../../deploy/monitoring/grafana-dashboard.json');
const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8')) as { title: string; panels: Array<{ title: string; targets: Array<{ expr: string }> }> };

/** A role granting exec automatically, so an issuance carries an operation (jitca_operations_granted_total). */
const policy = {
  ...testPolicy,
  roles: [
    ...testPolicy.roles,
    {
      name: 'ops-auto',
      groups: ['oncall-payments'],
      principals: ['oncall-payments'],
      maxTtlSeconds: 1800,
      scope: { clusters: ['prod'], namespaces: ['payments'] },
      approval: { mode: 'auto' },
      operations: [{ name: 'exec', approval: { mode: 'auto' }, maxTtlSeconds: 1800 }],
    },
  ],
};

/** The labels an expression aggregates by (`by (a, b)`). */
function groupingLabels(expr: string): string[] {
  return [...expr.matchAll(/\bby\s*\(([^)]*)\)/g)].flatMap((match) => (match[1] as string).split(',').map((label) => label.trim()).filter((label) => label !== ''));
}

/** `jitca_metric{label=..., label2=~...}` and bare `jitca_metric` selectors in an expression. */
function selectors(expr: string): Array<{ metric: string; labels: string[] }> {
  return [...expr.matchAll(/(jitca_[a-z_]+)(\{([^}]*)\})?/g)].map((match) => ({
    metric: match[1] as string,
    labels: [...(match[3] ?? '').matchAll(/([a-z_]+)\s*(=~|!~|!=|=)/g)].map((label) => label[1] as string),
  }));
}

describe('deploy/monitoring/prometheus-rules.json', () => {
  let api: ApiFixture;
  let key: TempSshKey;
  let exposition: string;

  beforeAll(async () => {
    // The sender's counters as it keeps them: one notification given up by the sink "slack".
    const notificationCounters = createDeliveryCounters();
    notificationCounters.attempts.set('slack\u0000dead', 1);
    api = await createApiFixture({ policy, notificationCounters });
    key = createTempSshKey('jitca-monitoring-');
    const post = (token: string, payload: Record<string, unknown>) =>
      api.app.inject({ method: 'POST', url: '/v1/ssh/certificates', headers: { authorization: `Bearer ${token}` }, payload });
    // One of each thing the alerts watch: an issuance, a denial, a pending request, a revocation.
    const issued = await post(api.tokens.alice, { publicKey: key.publicKey, role: 'oncall-payments', reason: 'INC-1' });
    expect(issued.statusCode).toBe(201);
    expect((await post(api.tokens.alice, { publicKey: key.publicKey, role: 'ops-auto', operations: ['exec'], reason: 'INC-3' })).statusCode).toBe(201);
    expect((await post(api.tokens.mallory, { publicKey: key.publicKey, role: 'oncall-payments', reason: 'x' })).statusCode).toBe(403);
    expect((await post(api.tokens.dave, { publicKey: key.publicKey, role: 'break-glass', scope: { namespace: 'payments' }, reason: 'INC-2' })).statusCode).toBe(202);
    const revoked = await api.app.inject({
      method: 'POST',
      url: `/v1/ssh/certificates/${issued.json().serial}/revoke`,
      headers: { authorization: `Bearer ${api.tokens.alice}` },
      payload: { reason: 'test' },
    });
    expect(revoked.statusCode).toBe(200);
    exposition = (await api.app.inject({ method: 'GET', url: '/metrics' })).body;
  });
  afterAll(async () => {
    await api?.close();
    key?.cleanup();
  });

  it('is a PrometheusRule whose alerts each have an expression, a severity and a summary', () => {
    expect(document).toMatchObject({ apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', metadata: { name: 'jitca' } });
    expect(rules.length).toBeGreaterThanOrEqual(5);
    for (const rule of rules) {
      expect(rule.alert).toMatch(/^Jitca[A-Z][A-Za-z]+$/);
      expect(['info', 'warning', 'critical']).toContain(rule.labels.severity);
      expect(rule.for).toMatch(/^\d+[smh]$/);
      expect(rule.annotations.summary.length).toBeGreaterThan(10);
      expect(selectors(rule.expr).length).toBeGreaterThan(0);
    }
    expect(new Set(rules.map((rule) => rule.alert)).size).toBe(rules.length);
  });

  it('selects only metrics and labels the API exports', () => {
    for (const rule of rules) {
      for (const { metric, labels } of selectors(rule.expr)) {
        const family = metric.replace(/_(bucket|count|sum)$/, '');
        expect(exposition, `${rule.alert}: ${metric}`).toMatch(new RegExp(`^# TYPE ${family} `, 'm'));
        for (const label of labels) {
          expect(exposition, `${rule.alert}: ${metric} has label ${label}`).toMatch(new RegExp(`^${metric}\\{[^}]*\\b${label}="`, 'm'));
        }
      }
      for (const label of groupingLabels(rule.expr)) {
        const carried = selectors(rule.expr).some(({ metric }) => new RegExp(`^${metric}(_bucket|_count|_sum)?\\{[^}]*\\b${label}="`, 'm').test(exposition));
        expect(carried, `${rule.alert}: by (${label})`).toBe(true);
      }
    }
  });

  it('the metrics move with what they count', () => {
    expect(exposition).toMatch(/^jitca_certificates_issued_total\{kind="ssh-user",role="oncall-payments"\} 1$/m);
    expect(exposition).toMatch(/^jitca_requests_denied_total\{rule="role.groups"\} 1$/m);
    expect(exposition).toMatch(/^jitca_pending_approvals 1$/m);
    expect(exposition).toMatch(/^jitca_certificates_revoked_total\{rule="revoke.self"\} 1$/m);
    expect(exposition).toMatch(/^jitca_approvals_total\{mode="auto"\} 2$/m);
    expect(exposition).toMatch(/^jitca_operations_granted_total\{operation="exec"\} 1$/m);
    // Live and not revoked: the exec certificate counts under its namespace and operation; the
    // revoked one is gone; the pending request has no certificate yet.
    expect(exposition).toMatch(/^jitca_active_credentials\{kind="ssh-user",namespace="payments",operation="exec"\} 1$/m);
    expect(exposition.match(/^jitca_active_credentials\{/gm)).toHaveLength(1);
    expect(exposition).toMatch(/^jitca_certificate_lifetime_seconds_count\{kind="ssh-user"\} 2$/m);
    expect(exposition).toMatch(/^jitca_notification_outbox\{state="pending"\} 0$/m);
    // The break-glass request made above still waits.
    expect(exposition).toMatch(/^jitca_pending_approval_oldest_seconds [0-9.e+-]+$/m);
    expect(Number(/^jitca_pending_approval_oldest_seconds (\S+)$/m.exec(exposition)?.[1])).toBeGreaterThan(0);
    expect(exposition).toMatch(/^jitca_notification_deliveries_total\{sink="slack",outcome="dead"\} 1$/m);
  });

  it('the Grafana dashboard queries only metrics and labels the API exports', () => {
    expect(dashboard.title).toMatch(/jitca/);
    const exprs = dashboard.panels.flatMap((panel) => panel.targets.map((target) => ({ panel: panel.title, expr: target.expr })));
    expect(exprs.length).toBeGreaterThanOrEqual(8);
    for (const { panel, expr } of exprs) {
      const named = selectors(expr);
      expect(named.length, panel).toBeGreaterThan(0);
      for (const { metric, labels } of named) {
        const family = metric.replace(/_(bucket|count|sum)$/, '');
        expect(exposition, `${panel}: ${metric}`).toMatch(new RegExp(`^# TYPE ${family} `, 'm'));
        for (const label of labels) expect(exposition, `${panel}: ${metric} has label ${label}`).toMatch(new RegExp(`^${metric}\\{[^}]*\\b${label}="`, 'm'));
      }
      // Every label it groups by is one a selected metric carries.
      for (const label of groupingLabels(expr)) {
        const carried = named.some(({ metric }) => new RegExp(`^${metric}(_bucket|_count|_sum)?\\{[^}]*\\b${label}="`, 'm').test(exposition));
        expect(carried, `${panel}: by (${label})`).toBe(true);
      }
    }
  });
});
