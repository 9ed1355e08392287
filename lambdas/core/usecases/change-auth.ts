/**
 * ChangeInfrastructureAuth: the new IM credentials are validated like a login
 * (`Invalid new infrastructure data provided: …`); `overwrite` replaces the owners, otherwise
 * they are appended unless already authorized.
 */
import { errors, toImError } from '#core/errors';
import type { AuthItem, Services } from '#core/types';
import { authenticate, isAuthorized, ownerKey, ownerRecords, type Caller } from '#core/auth';
import { mutateInfrastructure } from '#core/mutate';
import { callerAndInfra } from '#core/usecases/common';

export async function changeInfrastructureAuth(
  services: Services,
  auth: AuthItem[],
  infId: string,
  newAuth: AuthItem[],
  overwrite = false,
): Promise<string> {
  await callerAndInfra(services, auth, infId);
  let newCaller: Caller;
  try {
    newCaller = await authenticate(services, newAuth, { identityOnly: true });
  } catch (err) {
    const e = toImError(err);
    if (e.code === 'INTERNAL') throw err;
    throw errors.badRequest(`Invalid new infrastructure data provided: ${e.message}`);
  }
  const newOwners = await ownerRecords(newCaller);
  // Owner match only (an admin flag of the new identity does not count as "already authorized").
  const plain: Caller = { ...newCaller, identities: newCaller.identities.map((i) => ({ ...i, admin: false })) };
  await mutateInfrastructure(services.store, infId, async (cur) => {
    let owners = cur.owners;
    if (overwrite) owners = newOwners;
    else if (!(await isAuthorized(cur, plain))) owners = [...cur.owners, ...newOwners];
    else return undefined;
    return { owners, ownerKeys: [...new Set(owners.map((o) => ownerKey(o.username)))] };
  });
  return '';
}
