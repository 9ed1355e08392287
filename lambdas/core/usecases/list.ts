/**
 * GetInfrastructureList: ids of the infrastructures the caller owns (admins: all), newest first,
 * deleted ones excluded; `filter` is a regular expression (RE2 syntax: no backreferences or lookaround)
 * searched in the RADL text and the stored TOSCA document of each infrastructure.
 */
import type { AuthItem, InfraRecord, Services } from '#core/types';
import { authenticate, callerIsAdmin, isAuthorized, isAuthorizedCached, ownerKey, type Caller } from '#core/auth';
import { RE2JS } from 're2js';
import { errors } from '#core/errors';
import { radlToText } from '#radl/index';
import { infraRadl } from '#core/usecases/common';

/** The infrastructures (records) the caller is authorized for; `includeDeleted` for stats. */
export async function callerInfrastructures(services: Services, caller: Caller, includeDeleted = false): Promise<InfraRecord[]> {
  if (callerIsAdmin(caller)) return services.store.listInfrastructures({ includeDeleted });
  const keys = [...new Set(caller.identities.map((i) => ownerKey(i.username)))];
  const lists = await Promise.all(keys.map((k) => services.store.listInfrastructures({ ownerKey: k, includeDeleted })));
  const seen = new Set<string>();
  const candidates: InfraRecord[] = [];
  for (const inf of lists.flat()) {
    if (seen.has(inf.id)) continue;
    seen.add(inf.id);
    candidates.push(inf);
  }
  if (lists.length > 1) candidates.sort((a, b) => b.createdAt - a.createdAt);
  // Decided from the verification cache when it can (the usual case: no promise per record).
  const allowed = candidates.map((inf) => isAuthorizedCached(inf, caller));
  const unknown: number[] = [];
  allowed.forEach((known, i) => known === undefined && unknown.push(i));
  if (unknown.length > 0) {
    await Promise.all(unknown.map(async (i) => (allowed[i] = await isAuthorized(candidates[i], caller))));
  }
  return candidates.filter((_, i) => allowed[i]);
}

/** Longest filter accepted (a longer one is refused with a 400). */
export const MAX_FILTER_LENGTH = 1000;

/**
 * The filter as an RE2 expression (re2js): matching time is linear in the text, whatever the
 * expression, so `(a+)+$` cannot block the service (a backtracking engine takes exponential time on
 * it). RE2 has no backreferences or lookaround: such filters are refused with a 400, as invalid ones.
 */
function compileFilter(filter: string): RE2JS {
  if (filter.length > MAX_FILTER_LENGTH) throw errors.badRequest(`Invalid regular expression in filter parameter: longer than ${MAX_FILTER_LENGTH} characters`);
  try {
    return RE2JS.compile(filter);
  } catch (e) {
    const reason = (e as Error).message.replace(/^error parsing regexp: /, '');
    throw errors.badRequest(`Invalid regular expression in filter parameter: /${filter}/: ${reason}`);
  }
}

function matches(inf: InfraRecord, re: RE2JS): boolean {
  if (inf.tosca && re.matcher(inf.tosca).find()) return true;
  try {
    return re.matcher(radlToText(infraRadl(inf))).find();
  } catch {
    return false;
  }
}

export async function getInfrastructureList(services: Services, auth: AuthItem[], filter?: string): Promise<string[]> {
  const re = filter !== undefined && filter !== '' ? compileFilter(filter) : undefined;
  const caller = await authenticate(services, auth);
  const infs = await callerInfrastructures(services, caller);
  return (re ? infs.filter((inf) => matches(inf, re)) : infs).map((inf) => inf.id);
}
