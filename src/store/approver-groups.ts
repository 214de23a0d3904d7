/**
 * The groups whose members may approve a request, from its row's decision: a pending decision's
 * `approval`, or, once people decided it, the `approverGroups` the deciding path kept (an issued
 * or denied row's decision is the final one, which has no `approval` of its own).
 */
export function approverGroupsOf(decision: Record<string, unknown> | undefined): string[] {
  const approval = decision?.['approval'];
  const groups = typeof approval === 'object' && approval !== null ? (approval as Record<string, unknown>)['approverGroups'] : decision?.['approverGroups'];
  return Array.isArray(groups) ? groups.filter((group): group is string => typeof group === 'string') : [];
}
