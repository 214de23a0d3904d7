/**
 * buildConfig: the defaults, how file values and the --data-dir override combine, and what an
 * invalid file is told. Pinned so the one schema (src/config-schema.ts) answers as the four
 * hand-written copies did.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildConfig, DEFAULT_SOFTHSM_MODULE } from '../src/config.ts';
import { ErrorCodes, isJitcaError } from '../src/errors.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jitca-config-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let files = 0;
function configFile(content: unknown): string {
  const file = path.join(dir, `config-${(files += 1)}.json`);
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

function refusal(content: unknown): { message: string; details: unknown } {
  const file = configFile(content);
  try {
    buildConfig({ configFile: file, dataDir: dir, cwd: dir });
  } catch (error) {
    if (isJitcaError(error, ErrorCodes.CONFIG_INVALID)) return { message: error.message.replace(file, '<file>'), details: error.details };
    throw error;
  }
  throw new Error('expected ERR_CONFIG_INVALID');
}

const NOTIFICATION_DEFAULTS = {
  webhooks: [],
  expiringNoticeSeconds: 600,
  timeoutMs: 5_000,
  maxResponseBytes: 65_536,
  maxAttempts: 10,
  backoffBaseMs: 5_000,
  backoffCapMs: 900_000,
  pollIntervalMs: 2_000,
  sentRetentionDays: 7,
};

const LOCAL_IDENTITY_DEFAULTS = {
  enabled: true,
  sessionTtlSeconds: 900,
  namespace: 'jitca-login@jitca',
  challengeTtlSeconds: 120,
  challengesPerName: 5,
  challengesPerAddress: 20,
};

describe('buildConfig', () => {
  it('without a file: every default, an embedded SoftHSM2 token and paths under the data directory', () => {
    expect(buildConfig({ dataDir: 'state', cwd: dir })).toEqual({
      dataDir: path.join(dir, 'state'),
      hsm: {
        embedded: true,
        modulePath: DEFAULT_SOFTHSM_MODULE,
        tokenLabel: 'jitca',
        pinFile: path.join(dir, 'state', 'hsm', 'user.pin'),
        pinEnv: undefined,
        sessions: 4,
        signingThreads: 1,
      },
      store: { sqlitePath: path.join(dir, 'state', 'jitca.sqlite'), leaderLeaseMs: 15_000, leaderRenewDeadlineMs: 10_000, leaderRetryMs: 2_000 },
      retention: { daysAfterExpiry: 400, auditMinAgeDays: 400 },
      policyFile: path.join(dir, 'state', 'policy.json'),
      ssh: { caName: 'ssh-user-ca', keyAlgorithm: 'ed25519', backdateSeconds: 60 },
      server: {
        host: '127.0.0.1',
        port: 8443,
        rateLimitPerMinute: 120,
        authFailuresPerMinute: 30,
        authFailuresExemptLoopback: false,
        requestTimeoutMs: 10_000,
        maxConnections: 512,
        maxConnectionsPerAddress: 128,
        logLevel: 'info',
        tls: undefined,
        allowPlaintext: false,
      },
      kubernetes: {
        caName: 'kube-client-ca',
        keyAlgorithm: 'ecdsa-p256',
        caValidityDays: 365,
        signerName: 'jitca.dev/debug-client',
        approveKubeApiserverClient: true,
        clusterName: 'default',
        leaderElection: 'none',
        leaseName: 'jitca-csr-controller',
        leaseNamespace: 'jitca',
      },
      kubernetesPublishing: { enabled: false, configMapNamespaces: [], configMapName: 'jitca-trust-bundle', clusterTrustBundles: true },
      attestation: { pivRoots: [], pivIntermediates: [], fidoRoots: [], fidoIntermediates: [] },
      hostReports: { maxHosts: 10_000, writesPerMinute: 600, rewriteAfterSeconds: 300, readyShare: 1, windowHours: 24 },
      rotation: { periodDays: 90, overlapDays: 7, inServe: true },
      notifications: NOTIFICATION_DEFAULTS,
      localIdentities: LOCAL_IDENTITY_DEFAULTS,
      oidc: undefined,
      console: undefined,
      gateway: undefined,
    });
    expect(buildConfig({ cwd: dir }).dataDir).toBe(path.join(dir, 'data'));
  });

  it('takes every value the file gives; --data-dir wins over the file; relative paths resolve as before', () => {
    const file = configFile({
      dataDir: 'from-file',
      hsm: { modulePath: '/opt/hsm.so', tokenLabel: 'prod', pinEnv: 'JITCA_PIN', sessions: 8 },
      store: { sqlitePath: 'db/ca.sqlite', postgresUrl: 'postgres://db/jitca' },
      retention: { daysAfterExpiry: 30, auditMinAgeDays: 90 },
      policyFile: 'policies/p.json',
      ssh: { caName: 'users', keyAlgorithm: 'ecdsa-p384', backdateSeconds: 5 },
      server: {
        host: '0.0.0.0',
        port: 443,
        rateLimitPerMinute: 10,
        authFailuresPerMinute: 5,
        authFailuresExemptLoopback: true,
        requestTimeoutMs: 5_000,
        maxConnections: 64,
        maxConnectionsPerAddress: 8,
        logLevel: 'warn',
        allowPlaintext: true,
        tls: { certFile: 'c.pem', keyFile: 'k.pem', clientCaFile: 'ca.pem' },
      },
      kubernetes: {
        caName: 'kc',
        keyAlgorithm: 'rsa-3072',
        caValidityDays: 30,
        signerName: 'a.example/b',
        approveKubeApiserverClient: false,
        clusterName: 'prod',
        leaderElection: 'kubernetes-lease',
        leaseName: 'csr-leader',
        leaseNamespace: 'ca',
      },
      kubernetesPublishing: { enabled: true, configMapNamespaces: ['kube-system'], configMapName: 'trust', clusterTrustBundles: false },
      hostReports: { maxHosts: 50, writesPerMinute: 10, rewriteAfterSeconds: 0, readyShare: 0.9, windowHours: 2 },
      rotation: { periodDays: 30, overlapDays: 3, inServe: false },
      oidc: { issuer: 'https://idp', audience: ['a', 'b'], subjectClaim: 'email', maxGroups: 10, clockSkewSeconds: 5, acceptedTypHeaders: ['at+jwt'] },
      console: { clientId: 'jitca-console' },
      gateway: {
        certificates: [{ service: 'gw', commonName: 'gw.example' }],
        token: { issuer: 'https://idp', audience: 'gw', allowedClients: ['gw'], clientClaim: 'azp', requireSubjectIsClient: false },
      },
    });
    expect(buildConfig({ configFile: file, cwd: dir })).toEqual({
      dataDir: path.join(dir, 'from-file'),
      hsm: { embedded: false, modulePath: '/opt/hsm.so', tokenLabel: 'prod', pinFile: undefined, pinEnv: 'JITCA_PIN', sessions: 8, signingThreads: 1 },
      store: { sqlitePath: path.join(dir, 'from-file', 'db', 'ca.sqlite'), postgresUrl: 'postgres://db/jitca', leaderLeaseMs: 15_000, leaderRenewDeadlineMs: 10_000, leaderRetryMs: 2_000 },
      retention: { daysAfterExpiry: 30, auditMinAgeDays: 90 },
      policyFile: path.join(dir, 'policies', 'p.json'),
      ssh: { caName: 'users', keyAlgorithm: 'ecdsa-p384', backdateSeconds: 5 },
      server: {
        host: '0.0.0.0',
        port: 443,
        rateLimitPerMinute: 10,
        authFailuresPerMinute: 5,
        authFailuresExemptLoopback: true,
        requestTimeoutMs: 5_000,
        maxConnections: 64,
        maxConnectionsPerAddress: 8,
        logLevel: 'warn',
        allowPlaintext: true,
        tls: { certFile: 'c.pem', keyFile: 'k.pem', clientCaFile: 'ca.pem' },
      },
      kubernetes: {
        caName: 'kc',
        keyAlgorithm: 'rsa-3072',
        caValidityDays: 30,
        signerName: 'a.example/b',
        approveKubeApiserverClient: false,
        clusterName: 'prod',
        leaderElection: 'kubernetes-lease',
        leaseName: 'csr-leader',
        leaseNamespace: 'ca',
      },
      kubernetesPublishing: { enabled: true, configMapNamespaces: ['kube-system'], configMapName: 'trust', clusterTrustBundles: false },
      attestation: { pivRoots: [], pivIntermediates: [], fidoRoots: [], fidoIntermediates: [] },
      hostReports: { maxHosts: 50, writesPerMinute: 10, rewriteAfterSeconds: 0, readyShare: 0.9, windowHours: 2 },
      rotation: { periodDays: 30, overlapDays: 3, inServe: false },
      notifications: NOTIFICATION_DEFAULTS,
      localIdentities: LOCAL_IDENTITY_DEFAULTS,
      oidc: { issuer: 'https://idp', audience: ['a', 'b'], subjectClaim: 'email', maxGroups: 10, clockSkewSeconds: 5, acceptedTypHeaders: ['at+jwt'] },
      console: { clientId: 'jitca-console', scope: 'openid' },
      gateway: {
        certificates: [{ service: 'gw', commonName: 'gw.example' }],
        token: { issuer: 'https://idp', audience: 'gw', allowedClients: ['gw'], clientClaim: 'azp', requireSubjectIsClient: false },
      },
    });
    expect(buildConfig({ configFile: file, dataDir: 'flag', cwd: dir }).dataDir).toBe(path.join(dir, 'flag'));
  });

  it('a named module with an embedded-style PIN file keeps the file; a partial section keeps the other defaults', () => {
    const config = buildConfig({ configFile: configFile({ hsm: { pinFile: '/run/pin' }, server: { port: 9000 } }), dataDir: dir, cwd: dir });
    expect(config.hsm).toEqual({ embedded: true, modulePath: DEFAULT_SOFTHSM_MODULE, tokenLabel: 'jitca', pinFile: '/run/pin', pinEnv: undefined, sessions: 4, signingThreads: 1 });
    expect(config.server).toMatchObject({ host: '127.0.0.1', port: 9000, rateLimitPerMinute: 120 });
  });

  it.each([
    ['not JSON', '{', 'config <file> is not valid JSON', undefined],
    ['an unknown key', { dataDir: 'x', colour: 'blue' }, 'config <file>: / must NOT have additional properties', { path: '' }],
    ['an unknown key in a section', { hsm: { slot: 1 } }, 'config <file>: /hsm must NOT have additional properties', { path: '/hsm' }],
    ['a wrong type', { server: { port: '8443' } }, 'config <file>: /server/port must be integer', { path: '/server/port' }],
    ['a number out of range', { hsm: { sessions: 0 } }, 'config <file>: /hsm/sessions must be >= 1', { path: '/hsm/sessions' }],
    ['more signing threads than sessions', { hsm: { sessions: 2, signingThreads: 3 } }, 'config <file>: /hsm/signingThreads (3) must not exceed /hsm/sessions (2): each signature holds a session', { path: '/hsm/signingThreads' }],
    ['a value outside an enum', { ssh: { keyAlgorithm: 'dsa' } }, 'config <file>: /ssh/keyAlgorithm must be equal to one of the allowed values', { path: '/ssh/keyAlgorithm' }],
    ['a log level outside the enum', { server: { logLevel: 'trace' } }, 'config <file>: /server/logLevel must be equal to one of the allowed values', { path: '/server/logLevel' }],
    ['a pattern', { ssh: { caName: 'Users' } }, 'config <file>: /ssh/caName must match pattern "^[a-z0-9][a-z0-9-]{0,40}$"', { path: '/ssh/caName' }],
    ['a too-long string', { hsm: { tokenLabel: 'x'.repeat(33) } }, 'config <file>: /hsm/tokenLabel must NOT have more than 32 characters', { path: '/hsm/tokenLabel' }],
    ['an empty string', { policyFile: '' }, 'config <file>: /policyFile must NOT have fewer than 1 characters', { path: '/policyFile' }],
    ['a missing required key', { server: { tls: { certFile: 'c.pem' } } }, "config <file>: /server/tls must have required property 'keyFile'", { path: '/server/tls' }],
    ['a missing oidc audience', { oidc: { issuer: 'https://idp' } }, "config <file>: /oidc must have required property 'audience'", { path: '/oidc' }],
    ['an audience of the wrong type', { oidc: { issuer: 'https://idp', audience: 3 } }, 'config <file>: /oidc/audience must be string', { path: '/oidc/audience' }],
    ['an audit minimum age of zero days', { retention: { auditMinAgeDays: 0 } }, 'config <file>: /retention/auditMinAgeDays must be >= 1', { path: '/retention/auditMinAgeDays' }],
    ['a failed-authentication limit of zero', { server: { authFailuresPerMinute: 0 } }, 'config <file>: /server/authFailuresPerMinute must be >= 1', { path: '/server/authFailuresPerMinute' }],
    ['an empty typ allowlist', { oidc: { issuer: 'i', audience: 'a', acceptedTypHeaders: [] } }, 'config <file>: /oidc/acceptedTypHeaders must NOT have fewer than 1 items', { path: '/oidc/acceptedTypHeaders' }],
    ['an empty client list', { gateway: { token: { issuer: 'i', audience: 'a', allowedClients: [] } } }, 'config <file>: /gateway/token/allowedClients must NOT have fewer than 1 items', { path: '/gateway/token/allowedClients' }],
    ['a gateway rule without service', { gateway: { certificates: [{ commonName: 'gw' }] } }, "config <file>: /gateway/certificates/0 must have required property 'service'", { path: '/gateway/certificates/0' }],
    ['a console without a client id', { oidc: { issuer: 'i', audience: 'a' }, console: {} }, "config <file>: /console must have required property 'clientId'", { path: '/console' }],
    ['a console without an identity provider', { console: { clientId: 'jitca-console' } }, 'config <file>: /console needs /oidc: the console signs in at that identity provider', { path: '/console' }],
    ['a section that is not an object', { store: 'postgres' }, 'config <file>: /store must be object', { path: '/store' }],
    ['a session lifetime under a minute', { localIdentities: { sessionTtlSeconds: 30 } }, 'config <file>: /localIdentities/sessionTtlSeconds must be >= 60', { path: '/localIdentities/sessionTtlSeconds' }],
    ['a file that is not an object', [], 'config <file>: / must be object', { path: '' }],
    ['a webhook of an unknown format', { notifications: { webhooks: [{ name: 'x', format: 'teams', url: 'https://h' }] } }, 'config <file>: /notifications/webhooks/0/format must be equal to one of the allowed values', { path: '/notifications/webhooks/0/format' }],
    ['a webhook event not known', { notifications: { webhooks: [{ name: 'x', format: 'slack', url: 'https://h', events: ['created'] }] } }, 'config <file>: /notifications/webhooks/0/events/0 must be equal to one of the allowed values', { path: '/notifications/webhooks/0/events/0' }],
  ])('refuses %s with ERR_CONFIG_INVALID naming the path and the rule', (_name, content, message, details) => {
    expect(refusal(content)).toEqual({ message, details });
  });
});
