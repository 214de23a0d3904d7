import { Command } from 'commander';
import { registerAudit } from './audit.ts';
import { registerBundle } from './bundle.ts';
import { reportAndExit } from './common.ts';
import { registerInit } from './init.ts';
import { registerIssueSsh } from './issue-ssh.ts';
import { registerServe } from './serve.ts';
import { registerLogin } from './login.ts';
import { registerSshCert } from './ssh-cert.ts';
import { registerController } from './controller.ts';

const program = new Command('jitca')
  .description('just-in-time certificate authority: short-lived SSH user and Kubernetes client certificates from an HSM')
  .option('--config <file>', 'configuration file (JSON)')
  .option('--data-dir <dir>', 'data directory for the embedded token, store and policy (default ./data)')
  .showHelpAfterError();

registerInit(program);
registerServe(program);
registerIssueSsh(program);
registerBundle(program);
registerAudit(program);
registerLogin(program);
registerSshCert(program);
registerController(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  reportAndExit(error);
}
