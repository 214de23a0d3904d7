/**
 * `jitca serve` (a real process) with a Slack webhook configured: a request made by another
 * process (`jitca issue-ssh` on the same store) goes pending, and serve's delivery job, a singleton
 * job of this one replica, posts it to a real receiver on loopback; /metrics counts it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testPolicy } from '../support/ca-fixture.ts';
import { JITCA_BIN, runJitca } from '../support/jitca-cli.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';
import { freePort } from '../support/sshd.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

let dataDir: string;
let configFile: string;
let receiver: WebhookReceiver;
let key: TempSshKey;
let serve: ChildProcess | undefined;
let port: number;

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  key = createTempSshKey('jitca-notify-serve-');
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jitca-notify-serve-'));
  fs.writeFileSync(path.join(dataDir, 'policy.json'), JSON.stringify(testPolicy));
  configFile = path.join(dataDir, 'config.json');
  fs.writeFileSync(
    configFile,
    JSON.stringify({ notifications: { pollIntervalMs: 200, webhooks: [{ name: 'approvers', format: 'slack', url: `${receiver.base}/approvers`, events: ['pending'] }] } }),
  );
  port = await freePort();
  const child = spawn(JITCA_BIN, ['--config', configFile, '--data-dir', dataDir, 'serve', '--port', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  serve = child;
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  for (let attempt = 0; attempt < 300; attempt++) {
    if (await fetch(`http://127.0.0.1:${port}/readyz`).then((response) => response.ok, () => false)) return;
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`serve did not become ready: ${stderr}`);
}, 60_000);

afterAll(async () => {
  if (serve !== undefined && serve.exitCode === null) {
    const exited = new Promise((resolve) => serve!.once('exit', resolve));
    serve.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    if (serve.exitCode === null) serve.kill('SIGKILL');
  }
  await receiver?.close();
  key?.cleanup();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('serve delivers notifications', () => {
  it('posts a request made by another process to the Slack webhook, and counts it in /metrics', async () => {
    const pending = await runJitca([
      '--config', configFile, '--data-dir', dataDir,
      'issue-ssh', '--identity', 'dave', '--group', 'sre', '--pubkey', `${key.keyPath}.pub`,
      '--role', 'break-glass', '--cluster', 'prod', '--namespace', 'payments', '--reason', 'prod down',
    ]);
    expect(pending.stderr).toMatch(/is pending/);
    expect(pending.status).toBe(4);
    // Bounded wait for the job's next poll (every 200 ms here).
    for (let attempt = 0; attempt < 100 && receiver.received.length === 0; attempt++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(receiver.received).toHaveLength(1);
    expect(JSON.parse(receiver.received[0]!.body)).toMatchObject({ text: 'Approval needed: dave for break-glass' });
    // The receiver has the post as soon as it arrives; serve counts the delivery once the answer is
    // back and the outbox row is marked sent: a bounded wait for that too.
    const sent = /^jitca_notification_deliveries_total\{sink="approvers",outcome="sent"\} 1$/m;
    let metrics = '';
    for (let attempt = 0; attempt < 50; attempt++) {
      metrics = await fetch(`http://127.0.0.1:${port}/metrics`).then((response) => response.text());
      if (sent.test(metrics)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(metrics).toMatch(sent);
    expect(metrics).toMatch(/^jitca_notification_outbox\{state="pending"\} 0$/m);
  });
});
