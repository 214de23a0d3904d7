import { createPublicKey } from 'node:crypto';
import { userInfo } from 'node:os';
import { Option, type Command } from 'commander';
import { openCaRuntime } from '../ca-runtime.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { sshFingerprint, sshPublicKeyFromKeyObject } from '../ssh/public-key.ts';
import type { CaGeneration, CaKind } from '../store/types.ts';
import { CA_KINDS, type TakenStep } from '../../rotation/rotation-engine.ts';
import { rotationEngineFor } from '../../rotation/rotation-composition.ts';
import { retireAfter, type PlannedStep, type RotationStep } from '../../rotation/rotation-plan.ts';
import { configFrom } from './config-from.ts';

interface RotateOptions {
  ca: CaKind | 'all';
  json?: boolean;
  force?: boolean;
  emergency?: boolean;
  reason?: string;
  yes?: boolean;
  destroy?: boolean;
}

/** `jitca rotate status|plan|apply|rollback`: the CA rotation engine (rotation/) from the command line. */
export function registerRotate(program: Command): void {
  const rotate = program.command('rotate').description('rotate the CA keys: generations next -> active -> retiring -> retired, on the configured schedule');
  const caOption = (): Option => new Option('--ca <ca>', 'ssh-user | kube-client | all').choices(['ssh-user', 'kube-client', 'all']).default('all');
  rotate
    .command('status')
    .description('one row per generation (state, dates, fingerprint, readiness), then the next step and when it is due')
    .addOption(caOption())
    .option('--json', 'machine-readable output')
    .action((options: RotateOptions, command: Command) => run(command, options, 'status'));
  rotate
    .command('plan')
    .description('what `apply` would do now; changes nothing')
    .addOption(caOption())
    .option('--json', 'machine-readable output')
    .action((options: RotateOptions, command: Command) => run(command, options, 'plan'));
  rotate
    .command('apply')
    .description('take every step that is due (a CronJob runs this daily; it acts only when a step is due)')
    .addOption(caOption())
    .option('--json', 'machine-readable output')
    .option('--force', 'take one step now even when the schedule does not call for it (retire, promote, generate: the first that applies); audited as forced')
    .option('--emergency', 'the active key is compromised: generate and promote a new one and retire it at once (its certificates stop working)')
    .option('--reason <text>', 'why, for the audit log (required with --emergency)')
    .option('--yes', 'confirm --emergency')
    .option('--destroy', 'destroy the keys of retired generations in the HSM (otherwise they stay)')
    .action((options: RotateOptions, command: Command) => run(command, options, 'apply'));
  rotate
    .command('rollback')
    .description('re-activate the previous generation while it is still trusted; the current one goes back to next')
    .addOption(new Option('--ca <ca>', 'ssh-user | kube-client').choices(['ssh-user', 'kube-client']).makeOptionMandatory())
    .option('--json', 'machine-readable output')
    .action((options: RotateOptions, command: Command) => run(command, options, 'rollback'));
}

async function run(command: Command, options: RotateOptions, action: 'status' | 'plan' | 'apply' | 'rollback'): Promise<void> {
  const cas = options.ca === 'all' ? CA_KINDS : [options.ca];
  if (action === 'apply' && options.emergency === true) {
    if (options.reason === undefined || options.reason.trim() === '') throw new JitcaError(ErrorCodes.REQUEST_INVALID, 'apply --emergency needs --reason TEXT for the audit log');
    if (options.ca === 'all') throw new JitcaError(ErrorCodes.REQUEST_INVALID, 'apply --emergency names the compromised CA: --ca ssh-user or --ca kube-client');
    if (options.yes !== true) {
      throw new JitcaError(
        ErrorCodes.ROTATION_REFUSED,
        `apply --emergency retires the active ${options.ca} generation at once: every certificate it signed stops working now. Run again with --yes to do it`,
      );
    }
  }
  const runtime = await openCaRuntime(await configFrom(command));
  try {
    const engine = rotationEngineFor(runtime, `local:${userInfo().username}`);
    if (action === 'status' || action === 'plan') {
      const planned = await engine.plan(cas);
      const now = new Date(runtime.clock.now());
      if (options.json === true) {
        process.stdout.write(`${JSON.stringify(action === 'status' ? statusJson(planned, runtime.config.ssh.backdateSeconds) : planned.flatMap((p) => p.steps.filter((s) => s.ready)), null, 2)}\n`);
      } else if (action === 'status') {
        process.stdout.write(statusTable(planned, runtime.config.ssh.backdateSeconds));
      } else {
        const due = planned.flatMap((p) => p.steps.filter((s) => s.ready));
        process.stdout.write(due.length === 0 ? `nothing is due at ${now.toISOString()}\n` : due.map((s) => `would ${describe(s.step)}\n`).join(''));
      }
      return;
    }
    const taken: TakenStep[] =
      action === 'rollback'
        ? [await engine.rollback(cas[0]!)]
        : await engine.apply(cas, {
            force: options.force === true,
            destroy: options.destroy === true,
            ...(options.emergency === true ? { emergency: { reason: options.reason! } } : {}),
          });
    if (options.json === true) process.stdout.write(`${JSON.stringify(taken, null, 2)}\n`);
    else if (action === 'rollback') {
      const [{ step }] = taken as [TakenStep];
      process.stdout.write(`rolled back: ${step.ca} generation ${step.generation} is active again, generation ${step.kind === 'promote' ? step.replaces : '?'} is next (still published)\n`);
    } else process.stdout.write(taken.length === 0 ? 'nothing was due\n' : taken.map((t) => `${describe(t.step)}${t.forced ? ' (forced)' : ''}\n`).join(''));
  } finally {
    await runtime.close();
  }
}

function describe(step: RotationStep): string {
  switch (step.kind) {
    case 'adopt':
      return `record ${step.ca} generation ${step.generation} (key without its row) as next`;
    case 'generate':
      return `generate ${step.ca} generation ${step.generation} as next`;
    case 'promote':
      return `promote ${step.ca} generation ${step.generation} to active${step.replaces === undefined ? '' : ` (generation ${step.replaces} retiring)`}`;
    case 'retire':
      return `retire ${step.ca} generation ${step.generation}`;
  }
}

/** As `ssh-keygen -l` prints it: bits, SHA256 fingerprint, key type. */
export function keygenFingerprint(publicKeyBase64: string): string {
  const key = createPublicKey({ key: Buffer.from(publicKeyBase64, 'base64'), format: 'der', type: 'spki' });
  const ssh = sshPublicKeyFromKeyObject(key);
  const type = key.asymmetricKeyType;
  const bits = type === 'ed25519' ? 256 : type === 'rsa' ? (key.asymmetricKeyDetails?.modulusLength ?? 0) : key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 384 : 256;
  const label = type === 'ed25519' ? 'ED25519' : type === 'rsa' ? 'RSA' : 'ECDSA';
  return `${bits} ${sshFingerprint(ssh.blob)} (${label})`;
}

type Planned = Awaited<ReturnType<ReturnType<typeof rotationEngineFor>['plan']>>;

function rowsOf(planned: Planned, backdateSeconds: number) {
  return planned.flatMap(({ facts }) =>
    facts.generations.map((generation: CaGeneration) => ({
      ca: generation.ca,
      generation: generation.generation,
      state: generation.state,
      createdAt: generation.createdAt,
      activatedAt: generation.activatedAt ?? null,
      retireAfter:
        generation.state === 'retiring'
          ? retireAfter(generation, facts.lastValidBefore[generation.generation], { periodMs: 0, overlapMs: 0, skewMs: backdateSeconds * 1000 }).toISOString()
          : (generation.retiredAt ?? null),
      fingerprint: keygenFingerprint(generation.publicKey),
      readiness: generation.state === 'next' ? (facts.readiness?.detail ?? null) : null,
      // For ssh-user: each host seen in the readiness window and whether it has this generation.
      hosts: generation.state === 'next' ? (facts.readiness?.hosts ?? []) : [],
    })),
  );
}

function nextSteps(planned: Planned): PlannedStep[] {
  return planned.flatMap(({ steps }) => steps).sort((a, b) => a.dueAt.localeCompare(b.dueAt));
}

function statusJson(planned: Planned, backdateSeconds: number) {
  return { generations: rowsOf(planned, backdateSeconds), steps: nextSteps(planned) };
}

function statusTable(planned: Planned, backdateSeconds: number): string {
  const header = ['CA', 'GEN', 'STATE', 'CREATED', 'ACTIVATED', 'RETIRE AFTER', 'FINGERPRINT', 'READINESS'];
  const day = (iso: string | null): string => (iso === null ? '-' : iso.slice(0, 16).replace('T', ' '));
  const rows = rowsOf(planned, backdateSeconds).map((row) => [
    row.ca,
    String(row.generation),
    row.state,
    day(row.createdAt),
    day(row.activatedAt),
    day(row.retireAfter),
    row.fingerprint,
    row.readiness ?? '-',
  ]);
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((row) => row[i]!.length)));
  const line = (row: string[]): string => `${row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()}\n`;
  const steps = nextSteps(planned).map(
    (entry) => `next: ${describe(entry.step)}, due ${day(entry.dueAt)}${entry.ready ? ' (due now)' : ''}${entry.note === undefined ? '' : `; ${entry.note}`}\n`,
  );
  return [line(header), ...rows.map(line), '\n', ...(steps.length === 0 ? ['next: nothing scheduled\n'] : steps)].join('');
}
