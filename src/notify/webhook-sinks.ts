import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import type { ConfigFile } from '../config-schema.ts';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { assertPrivateFile } from '../private-files.ts';
import type { NotificationKind, OutboxSink } from '../store/types.ts';

/** A webhook as the delivery job uses it: where, in which format, with what key. */
export interface WebhookSink {
  name: string;
  format: 'slack' | 'json';
  url: URL;
  /** json only: the HMAC-SHA256 key. Never logged, never in an error. */
  secret?: Buffer;
  kinds: readonly NotificationKind[];
}

export type NotificationsConfig = ConfigFile['notifications'];

/** An HMAC key shorter than the hash gives less than the hash's strength (RFC 2104 §3). */
const MIN_SECRET_BYTES = 32;

/**
 * The configured webhooks, checked and with their secrets read: at start-up, so a mistake stops
 * serve instead of failing every delivery. Names must be unique (they key the outbox rows).
 */
export function loadWebhookSinks(config: NotificationsConfig, cwd: string = process.cwd()): WebhookSink[] {
  const names = new Set<string>();
  return config.webhooks.map((webhook, index) => {
    const where = `notifications.webhooks[${index}] (${webhook.name})`;
    if (names.has(webhook.name)) throw invalid(`${where}: the name is used twice`);
    names.add(webhook.name);
    const url = checkWebhookUrl(webhookUrlText(webhook, where, cwd), where);
    const sink: WebhookSink = { name: webhook.name, format: webhook.format, url, kinds: webhook.events };
    if (webhook.format === 'json') {
      if (webhook.secretFile === undefined) throw invalid(`${where}: a json webhook is signed: name its secretFile`);
      sink.secret = readSecret(path.resolve(cwd, webhook.secretFile), where);
    }
    return sink;
  });
}

/** What the store needs to write outbox rows: names and kinds, no URL, no secret. */
export function outboxSinksOf(config: NotificationsConfig): OutboxSink[] {
  return config.webhooks.map((webhook) => ({
    name: webhook.name,
    kinds: webhook.events,
    ...(webhook.roles === undefined ? {} : { roles: webhook.roles }),
    ...(webhook.approverGroups === undefined ? {} : { approverGroups: webhook.approverGroups }),
  }));
}

/** The URL as written in the config, or read from its 0600 urlFile: exactly one of the two. */
function webhookUrlText(webhook: NotificationsConfig['webhooks'][number], where: string, cwd: string): string {
  if ((webhook.url === undefined) === (webhook.urlFile === undefined)) throw invalid(`${where}: name exactly one of url and urlFile`);
  if (webhook.url !== undefined) return webhook.url;
  const file = path.resolve(cwd, webhook.urlFile as string);
  assertPrivateFile(file, `${where} urlFile`);
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    throw invalid(`${where}: cannot read urlFile ${file}`);
  }
}

/**
 * https, or plain http to a loopback address only (a receiver on the same host, and the tests): a
 * notification names people, roles and reasons, and a signed one must not cross a network in the
 * clear. No credentials in the URL (they would be sent on every request and land in logs).
 */
export function checkWebhookUrl(text: string, where: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(`${where}: url is not a URL`);
  }
  if (url.username !== '' || url.password !== '') throw invalid(`${where}: url must not carry credentials`);
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && isLoopback(url.hostname)) return url;
  throw invalid(`${where}: url must be https (plain http only to a loopback address)`);
}

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

function readSecret(file: string, where: string): Buffer {
  assertPrivateFile(file, `${where} secretFile`);
  let secret: Buffer;
  try {
    secret = Buffer.from(readFileSync(file, 'utf8').trim(), 'utf8');
  } catch {
    throw invalid(`${where}: cannot read secretFile ${file}`);
  }
  if (secret.length < MIN_SECRET_BYTES) throw invalid(`${where}: the secret in ${file} must be at least ${MIN_SECRET_BYTES} bytes`);
  return secret;
}

function invalid(message: string): JitcaError {
  return new JitcaError(ErrorCodes.CONFIG_INVALID, message);
}
