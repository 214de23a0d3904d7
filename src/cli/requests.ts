import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { decideRequest, listRequests, showRequest, type ApiSession, type ListFilter } from '../client/approver-requests.ts';
import { loadClientConfig } from '../client/client-config.ts';
import { decisionText, requestDetails, requestLine } from '../client/request-text.ts';
import { currentToken } from '../client/token-source.ts';

interface ClientOption {
  clientConfig?: string;
}

interface ListOptions extends ClientOption {
  pending?: boolean;
  state?: string;
  mine?: boolean;
  toApprove?: boolean;
}

const STATES = ['pending', 'approved', 'issued', 'denied', 'expired'];

/** The engineer's client config and token, as `ssh-cert` uses them. */
export async function session(options: ClientOption): Promise<ApiSession> {
  const config = loadClientConfig(options.clientConfig);
  const token = await currentToken(config);
  return { server: config.server, token, ...(config.caFile === undefined ? {} : { ca: readFileSync(config.caFile) }) };
}

function filterOf(options: ListOptions): ListFilter {
  if (options.mine === true && options.toApprove === true) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, '--mine and --to-approve exclude each other');
  }
  if (options.pending === true && options.state !== undefined && options.state !== 'pending') {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, '--pending and --state exclude each other');
  }
  const state = options.pending === true ? 'pending' : options.state;
  if (state !== undefined && !STATES.includes(state)) {
    throw new JitcaError(ErrorCodes.REQUEST_INVALID, `--state must be one of ${STATES.join(', ')}`);
  }
  return {
    ...(state === undefined ? {} : { state }),
    ...(options.mine === true ? { view: 'mine' as const } : options.toApprove === true ? { view: 'to-approve' as const } : {}),
  };
}

export function registerRequests(program: Command): void {
  const requests = program.command('requests').description('approvers and requesters: the requests you may see (yours, and those of roles you approve)');
  requests
    .command('list')
    .description('list requests, newest first')
    .option('--client-config <file>', 'helper configuration (default ~/.config/jitca/client.json)')
    .option('--pending', 'only requests waiting for approval')
    .option('--state <state>', `only requests in this state (${STATES.join(', ')})`)
    .option('--mine', 'only requests you made')
    .option('--to-approve', "only others' requests of roles you approve")
    .action(async (options: ListOptions) => {
      const filter = filterOf(options);
      const { requests: listed, more } = await listRequests(await session(options), filter);
      for (const request of listed) process.stdout.write(`${requestLine(request)}\n`);
      if (listed.length === 0) process.stderr.write('jitca: no requests\n');
      if (more) process.stderr.write(`jitca: showing the newest ${listed.length}; narrow the list with --pending, --state, --mine or --to-approve\n`);
    });
  requests
    .command('show <id>')
    .description('one request: who asked, for what and why, who approved, how it ended')
    .option('--client-config <file>', 'helper configuration (default ~/.config/jitca/client.json)')
    .action(async (id: string, options: ClientOption) => {
      process.stdout.write(`${requestDetails(await showRequest(await session(options), id))}\n`);
    });
}

interface DecideOptions extends ClientOption {
  reason: string;
}

function registerDecision(program: Command, action: 'approve' | 'deny'): void {
  program
    .command(`${action} <id>`)
    .description(action === 'approve' ? 'approvers: approve a pending request (audited with your reason)' : 'approvers: deny a pending request; requesters: withdraw yours (audited with your reason)')
    .option('--client-config <file>', 'helper configuration (default ~/.config/jitca/client.json)')
    .requiredOption('--reason <text>', 'why (audited, and shown to the requester)')
    .action(async (id: string, options: DecideOptions) => {
      const request = await decideRequest(await session(options), id, action, options.reason);
      if (request === undefined) {
        process.stderr.write(`jitca: ${action === 'approve' ? 'approved' : 'denied'}\n`);
        return;
      }
      const outcome = decisionText(request);
      const approvals = Array.isArray(request['approvals']) ? request['approvals'].length : 0;
      const pending = `pending: ${approvals} of ${typeof request['required'] === 'number' ? request['required'] : '?'} approval(s)`;
      process.stderr.write(`jitca: ${requestLine(request).split('  ')[0]} ${outcome ?? pending}\n`);
    });
}

export function registerApprove(program: Command): void {
  registerDecision(program, 'approve');
}

export function registerDeny(program: Command): void {
  registerDecision(program, 'deny');
}
