/**
 * The RBAC authorizer's rule matching (k8s.io/apiserver rbac/validation RuleAllows), enough to run
 * the API double with the permissions of deploy/kubernetes' ClusterRoles: apiGroups, resources
 * (with "<resource>/<subresource>"), verbs, resourceNames, "*" wildcards. The certificates
 * admission plugins ask "approve"/"sign" on signers/<signerName> and also accept "<domain>/*"
 * (plugin/pkg/admission/certificates/util.go IsAuthorizedForSignerName).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { AuthorizationQuestion } from './kube-api-double.ts';

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

const CERTIFICATES_GROUP = 'certificates.k8s.io';
export const DEPLOY_DIR = path.resolve(import.meta.dirname, '../../deploy/kubernetes');
/** The several-replica manifests (PostgreSQL, a network HSM, leader election). */
export const DEPLOY_HA_DIR = path.resolve(import.meta.dirname, '../../deploy/kubernetes-ha');

function has(list: readonly string[], value: string): boolean {
  return list.includes('*') || list.includes(value);
}

const COORDINATION_GROUP = 'coordination.k8s.io';

function ruleAllows(rule: PolicyRule, group: string, verb: string, resource: string, name: string | undefined): boolean {
  if (!has(rule.apiGroups, group) || !has(rule.verbs, verb) || !has(rule.resources, resource)) return false;
  const names = rule.resourceNames ?? [];
  return names.length === 0 || (name !== undefined && names.includes(name));
}

export function rbacAllows(rules: readonly PolicyRule[], question: AuthorizationQuestion): boolean {
  const resource = question.subresource === undefined ? question.resource : `${question.resource}/${question.subresource}`;
  const names = question.resource === 'signers' && question.name !== undefined ? [question.name, `${question.name.split('/')[0]}/*`] : [question.name];
  const group = question.resource === 'leases' ? COORDINATION_GROUP : CERTIFICATES_GROUP;
  return rules.some((rule) => names.some((name) => ruleAllows(rule, group, question.verb, resource, name)));
}

/** A namespaced Role's rules hold only for requests in its namespace. */
export function roleAllows(role: { namespace: string; rules: readonly PolicyRule[] }, question: AuthorizationQuestion): boolean {
  return question.namespace === role.namespace && rbacAllows(role.rules, question);
}

/** The namespace and rules of a Role manifest (a JSON file, or a v1 List of them) in deploy/kubernetes-ha or `dir`. */
export function roleRules(file: string, name: string, dir: string = DEPLOY_HA_DIR): { namespace: string; rules: PolicyRule[] } {
  const document = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as { kind: string; items?: unknown[] };
  const objects = (document.kind === 'List' ? (document.items ?? []) : [document]) as Array<{ kind: string; metadata: { name: string; namespace: string }; rules: PolicyRule[] }>;
  const role = objects.find((object) => object.kind === 'Role' && object.metadata.name === name);
  if (role === undefined) throw new Error(`no Role ${name} in ${file}`);
  return { namespace: role.metadata.namespace, rules: role.rules };
}

/** The rules of a ClusterRole manifest in deploy/kubernetes (a JSON file, or a v1 List of them). */
export function clusterRoleRules(file: string, name: string): PolicyRule[] {
  const document = JSON.parse(readFileSync(path.join(DEPLOY_DIR, file), 'utf8')) as { kind: string; items?: unknown[] };
  const objects = (document.kind === 'List' ? (document.items ?? []) : [document]) as Array<{ kind: string; metadata: { name: string }; rules: PolicyRule[] }>;
  const role = objects.find((object) => object.kind === 'ClusterRole' && object.metadata.name === name);
  if (role === undefined) throw new Error(`no ClusterRole ${name} in ${file}`);
  return role.rules;
}
