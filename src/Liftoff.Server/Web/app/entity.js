// The entity the pages act on: the signed-in user or one of their teams. It is read from the address (?entity=), so a
// link to a team's page opens that team's view; every API call names it and every link the app draws keeps it.

let current = null;
let currentRole = null;

/** Sets the entity the pages act on and the caller's role there (viewer, member or admin). */
export function useEntity(name, callerRole) {
  current = name;
  currentRole = callerRole;
}

export function entity() {
  return current;
}

export function role() {
  return currentRole;
}

/** Members and admins create runs, jobs and launches; viewers only read. */
export function canWrite() {
  return currentRole === 'member' || currentRole === 'admin';
}

export function isAdmin() {
  return currentRole === 'admin';
}

/** A team's roles, least first. */
export const ROLES = ['viewer', 'member', 'admin'];
