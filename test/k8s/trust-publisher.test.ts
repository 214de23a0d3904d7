/**
 * Trust publishing (src/k8s/trust-publisher.ts) against the in-process API double: ConfigMaps in
 * the configured namespaces, one ClusterTrustBundle per kube-client generation in the version the
 * cluster serves, stale ones removed, 409s handled, and a cluster that serves neither version.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, isJitcaError } from '../../src/errors.ts';
import { createKubeConfig } from '../../src/k8s/kube-client.ts';
import { createTrustPublisher } from '../../src/k8s/trust-publisher.ts';
import { TRUST_LABELS, trustConfigMapData } from '../../src/k8s/trust-objects.ts';
import { startTrustPublishing, trustMaterialOf } from '../../src/k8s/trust-publishing.ts';
import { ensureKubeCaCertificate } from '../../src/issuance/kube-client-ca.ts';
import { sshTrustBundle } from '../../src/issuance/trust-bundle.ts';
import { createCaFixture } from '../support/ca-fixture.ts';
import { startKubeApiDouble, type KubeApiDouble } from '../support/kube-api-double.ts';
import { recordingLogger, type LogEntry } from '../support/kube-csr-harness.ts';
import { createTrustObjectsDouble, type TrustObjectsDouble } from '../support/kube-trust-objects.ts';

const TOKEN = 'token-controller';
const SIGNER = 'jitca.dev/debug-client';
const settings = { configMapNamespaces: ['kube-system', 'payments'], configMapName: 'jitca-trust-bundle', clusterTrustBundles: true };
const SSHD = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ0000000000000000000000000000000000000000000 jitca:ssh-user-ca/1\n';

let dir: string;
const certificates: string[] = [];

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'jitca-publish-'));
  for (const generation of [1, 2, 3]) {
    const file = path.join(dir, `${generation}.pem`);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=jitca kubernetes client CA ${generation}`, '-days', '1', '-keyout', path.join(dir, 'key.pem'), '-out', file], { stdio: 'ignore' });
    certificates.push(readFileSync(file, 'utf8'));
  }
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const generations = (...numbers: number[]) => numbers.map((generation) => ({ generation, certificatePem: certificates[generation - 1] as string }));

async function cluster(versions: Array<'v1' | 'v1beta1'>): Promise<{ api: KubeApiDouble; objects: TrustObjectsDouble; logs: LogEntry[]; publisher: ReturnType<typeof createTrustPublisher> }> {
  const objects = createTrustObjectsDouble({ clusterTrustBundleVersions: versions });
  const api = await startKubeApiDouble({ users: { [TOKEN]: { username: 'jitca', groups: [] } }, trustObjects: objects });
  const entries: LogEntry[] = [];
  const logger = recordingLogger(entries);
  const kubeConfig = createKubeConfig({ kind: 'token', server: api.url, token: TOKEN, caPem: api.caPem });
  return { api, objects, logs: entries, publisher: createTrustPublisher({ kubeConfig, settings, signerName: SIGNER, log: logger }) };
}

describe.each([['v1beta1'], ['v1']] as const)('a cluster serving ClusterTrustBundle %s', (version) => {
  let c: Awaited<ReturnType<typeof cluster>>;
  beforeAll(async () => {
    c = await cluster(version === 'v1' ? ['v1', 'v1beta1'] : ['v1beta1']);
  });
  afterAll(async () => {
    await c?.api.close();
  });

  it('creates the ConfigMaps and one bundle per generation, named with the signer name as prefix, then changes nothing', async () => {
    const summary = await c.publisher.reconcile({ kubeGenerations: generations(1, 2), sshdLines: SSHD });
    expect(summary.configMaps).toEqual([{ namespace: 'kube-system', outcome: 'created' }, { namespace: 'payments', outcome: 'created' }]);
    expect(summary.clusterTrustBundles).toEqual({ apiVersion: `certificates.k8s.io/${version}`, created: ['jitca.dev:debug-client:1', 'jitca.dev:debug-client:2'], updated: [], removed: [] });
    expect(c.objects.configMap('payments', 'jitca-trust-bundle')).toMatchObject({
      metadata: { labels: TRUST_LABELS },
      data: { 'kube-client-ca.pem': `${certificates[0]}${certificates[1]}`, 'ssh-user-ca.pub': SSHD },
    });
    expect(c.objects.clusterTrustBundles().map((bundle) => [bundle.apiVersion, bundle.metadata.name, bundle.metadata.labels, bundle['spec']])).toEqual([
      [`certificates.k8s.io/${version}`, 'jitca.dev:debug-client:1', TRUST_LABELS, { signerName: SIGNER, trustBundle: certificates[0] }],
      [`certificates.k8s.io/${version}`, 'jitca.dev:debug-client:2', TRUST_LABELS, { signerName: SIGNER, trustBundle: certificates[1] }],
    ]);
    const again = await c.publisher.reconcile({ kubeGenerations: generations(1, 2), sshdLines: SSHD });
    expect(again.configMaps.map((entry) => entry.outcome)).toEqual(['unchanged', 'unchanged']);
    expect(again.clusterTrustBundles).toMatchObject({ created: [], updated: [], removed: [] });
  });

  it('after a rotation: adds the new generation, updates a changed one, removes the retired one, leaves bundles it does not manage', async () => {
    c.objects.put({ apiVersion: `certificates.k8s.io/${version}`, kind: 'ClusterTrustBundle', metadata: { name: 'other.example:signer:1' }, spec: { signerName: 'other.example/signer', trustBundle: certificates[2] } });
    // Generation 2's certificate was re-issued (a lost file re-created): the bundle follows it.
    const reissued = { generation: 2, certificatePem: certificates[2] as string };
    const summary = await c.publisher.reconcile({ kubeGenerations: [reissued, ...generations(3)], sshdLines: SSHD });
    expect(summary.clusterTrustBundles).toEqual({ apiVersion: `certificates.k8s.io/${version}`, created: ['jitca.dev:debug-client:3'], updated: ['jitca.dev:debug-client:2'], removed: ['jitca.dev:debug-client:1'] });
    expect(c.objects.clusterTrustBundles().map((bundle) => bundle.metadata.name)).toEqual(['jitca.dev:debug-client:2', 'jitca.dev:debug-client:3', 'other.example:signer:1']);
    expect(c.objects.configMap('kube-system', 'jitca-trust-bundle')?.['data']).toMatchObject({ 'kube-client-ca.pem': `${certificates[2]}${certificates[2]}` });
  });

  it('handles 409: a write that meets a concurrent change reads again and succeeds; an object someone else created is taken over', async () => {
    const before = c.objects.conflicts;
    c.objects.injectConflicts('ConfigMap', 1);
    c.objects.injectConflicts('ClusterTrustBundle', 1);
    const summary = await c.publisher.reconcile({ kubeGenerations: generations(2, 3), sshdLines: `${SSHD}# changed\n` });
    expect(c.objects.conflicts - before).toBe(2);
    expect(summary.configMaps.map((entry) => entry.outcome)).toEqual(['updated', 'updated']);
    expect(c.objects.clusterTrustBundles().find((bundle) => bundle.metadata.name === 'jitca.dev:debug-client:2')?.['spec']).toEqual({ signerName: SIGNER, trustBundle: certificates[1] });

    // Generation 4's name, created unlabelled by someone else: the create meets 409 AlreadyExists and takes it over.
    c.objects.put({ apiVersion: `certificates.k8s.io/${version}`, kind: 'ClusterTrustBundle', metadata: { name: 'jitca.dev:debug-client:4' }, spec: { signerName: SIGNER, trustBundle: certificates[0] } });
    await c.publisher.reconcile({ kubeGenerations: [...generations(2, 3), { generation: 4, certificatePem: certificates[1] as string }], sshdLines: SSHD });
    expect(c.objects.clusterTrustBundles().find((bundle) => bundle.metadata.name === 'jitca.dev:debug-client:4')).toMatchObject({
      metadata: { labels: TRUST_LABELS },
      spec: { signerName: SIGNER, trustBundle: certificates[1] },
    });

    // Conflicting on every attempt: ERR_KUBE_CONFLICT after a bounded number of tries, nothing half-written reported as done.
    c.objects.injectConflicts('ConfigMap', 10);
    const error = await c.publisher.reconcile({ kubeGenerations: generations(3), sshdLines: SSHD }).then(() => undefined, (caught: unknown) => caught);
    expect(isJitcaError(error, ErrorCodes.KUBE_CONFLICT)).toBe(true);
  });
});

describe('a cluster serving neither ClusterTrustBundle version', () => {
  it('publishes the ConfigMaps, skips the bundles and logs why', async () => {
    const c = await cluster([]);
    try {
      const summary = await c.publisher.reconcile({ kubeGenerations: generations(1), sshdLines: SSHD });
      expect(summary.configMaps.map((entry) => entry.outcome)).toEqual(['created', 'created']);
      expect(summary.clusterTrustBundles).toEqual({ skipped: expect.stringMatching(/serves ClusterTrustBundle in neither certificates.k8s.io\/v1 nor v1beta1/) });
      expect(c.objects.clusterTrustBundles()).toEqual([]);
      expect(c.logs.some((entry) => entry.message === 'ClusterTrustBundles not published')).toBe(true);
    } finally {
      await c.api.close();
    }
  });
});

describe('publishing on every keyring change (jitca controller with kubernetesPublishing.enabled)', () => {
  it('publishes at start, and the next kube-client generation once the keyring records it', async () => {
    const ca = await createCaFixture();
    const objects = createTrustObjectsDouble({ clusterTrustBundleVersions: ['v1beta1'] });
    const api = await startKubeApiDouble({ users: { [TOKEN]: { username: 'jitca', groups: [] } }, trustObjects: objects });
    const entries: LogEntry[] = [];
    const config = { ...ca.config, kubernetesPublishing: { ...settings, enabled: true } };
    const stop = startTrustPublishing({
      config,
      keyring: ca.runtime.keyring,
      kubeConfig: createKubeConfig({ kind: 'token', server: api.url, token: TOKEN, caPem: api.caPem }),
      logger: recordingLogger(entries),
    });
    try {
      const names = () => objects.clusterTrustBundles().map((bundle) => bundle.metadata.name);
      await api.waitFor(() => names().length === 1, 10_000, 'generation 1 published');
      expect(names()).toEqual(['jitca.dev:debug-client:1']);

      const signer = await ca.runtime.keys.createKey({ caName: ca.config.kubernetes.caName, generation: 2 }, { kind: 'ecdsa', curve: 'P-256' });
      await ensureKubeCaCertificate(ca.config, signer, 2, ca.runtime.clock);
      await ca.runtime.store.recordCaGenerations({
        generations: [{ ca: 'kube-client', generation: 2, state: 'next', keyId: signer.keyId, algorithm: 'ecdsa-p256', publicKey: Buffer.from(signer.spki).toString('base64'), createdAt: new Date().toISOString() }],
        event: { type: 'ca.generations', actor: 'test', data: { next: signer.keyId } },
      });
      await ca.runtime.keyring.refresh();
      await api.waitFor(() => names().length === 2, 10_000, 'generation 2 published');
      expect(names()).toEqual(['jitca.dev:debug-client:1', 'jitca.dev:debug-client:2']);
      expect(objects.configMap('payments', 'jitca-trust-bundle')?.['data']).toEqual(trustConfigMapData(trustMaterialOf(config, ca.runtime.keyring).kubeGenerations, sshTrustBundle(ca.runtime)));
    } finally {
      stop();
      await api.close();
      await ca.cleanup();
    }
  });
});
