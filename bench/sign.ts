/**
 * Issuance throughput against its ceilings, all measured in this run on this machine:
 *   - raw PKCS#11 Ed25519 signatures/s (C_SignInit + C_Sign on pooled sessions, nothing above);
 *   - in-process issuance/s: parse key + policy + SSH certificate encode + HSM sign + durable
 *     store/audit transaction (group commit), exactly the pipeline `jitca issue-ssh` and the API use;
 *   - `ssh-keygen -s` in a shell loop (a file-key CA, the tool operators would otherwise script).
 * Target (issue 2): issuance >= 60% of the raw PKCS#11 rate. Loops are bounded by time and count.
 *
 * Run: ./scripts/node node bench/sign.ts [seconds]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initializeCa, measureRawSignRate, openCaRuntime } from '../src/ca-runtime.ts';
import { buildConfig } from '../src/config.ts';
import { measureInProcessIssuance } from './in-process-issuance.ts';
import { benchPolicy, machineLine, measureSshKeygenLoop } from './references.ts';

const seconds = Number(process.argv[2] ?? 5);
const concurrency = 32;

const dataDir = mkdtempSync(path.join(tmpdir(), 'jitca-bench-'));
try {
  writeFileSync(path.join(dataDir, 'policy.json'), JSON.stringify(benchPolicy));
  const config = buildConfig({ dataDir });
  await initializeCa(config);
  const runtime = await openCaRuntime(config);
  const keyPath = path.join(dataDir, 'user');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyPath]);
  const publicKey = readFileSync(`${keyPath}.pub`, 'utf8');

  const raw = await measureRawSignRate(runtime, seconds);

  const issuance = await measureInProcessIssuance(runtime, publicKey, seconds, concurrency);
  const audit = await runtime.store.verifyAudit();
  await runtime.close();

  const sshKeygen = measureSshKeygenLoop(dataDir, Math.min(seconds, 5));

  console.log(machineLine());
  console.log(`raw PKCS#11 Ed25519 sign (SoftHSM2, ${raw.sessions} sessions): ${raw.perSecond.toFixed(0)}/s (${raw.count} in ${raw.seconds.toFixed(1)} s)`);
  console.log(`in-process issuance (policy+encode+HSM+durable audit, ${concurrency} in flight): ${issuance.perSecond.toFixed(0)}/s (${issuance.issued} in ${issuance.seconds.toFixed(1)} s, ${issuance.commits} commits, audit chain ${audit.ok ? 'intact' : 'BROKEN'} over ${audit.records} records)`);
  console.log(`ssh-keygen -s loop: ${sshKeygen.perSecond.toFixed(0)}/s (${sshKeygen.count} certificates)`);
  console.log(`ratio issuance / raw PKCS#11: ${(issuance.perSecond / raw.perSecond).toFixed(2)} (target >= 0.60)`);
  console.log(`ratio issuance / ssh-keygen -s: ${(issuance.perSecond / sshKeygen.perSecond).toFixed(1)}x`);
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
