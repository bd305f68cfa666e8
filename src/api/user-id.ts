/** The user ids the API takes: the ones an event could carry (src/store/validate.ts). */
import { ValidationError } from '../errors.ts';
import { userIdProblem } from '../store/validate.ts';

/**
 * Refuses, with 400 naming `field`, a user id an event would be refused for: an e-mail address
 * (DESIGN.md: pseudonymous, never an e-mail), control characters. Seen stored from a profile
 * PATCH and from a list asked for, as a user id and on the list's impression.
 */
export function requireUserId(userId: string, field: string): void {
  const problem = userIdProblem(userId);
  if (problem) throw new ValidationError([{ field, reason: problem }]);
}
