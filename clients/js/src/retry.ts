/** Pure retry decisions: how long to wait after a failed attempt, and whether to wait at all. */

/** Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; milliseconds from `now`, or null. */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!/^[A-Za-z]{3},/.test(text)) return null; // an HTTP-date starts with the day name; Date.parse takes "-3" too
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

export interface Backoff {
  /** First wait; doubled each attempt. */
  baseMs: number;
  /** No single wait is longer. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { baseMs: 500, maxMs: 30_000 };

/** Capped exponential backoff with "equal jitter": half fixed, half random, so many clients that failed
 * together do not come back together. `attempt` is 1-based. */
export function backoffMs(attempt: number, backoff: Backoff, random: () => number): number {
  const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Jitter added to a server's Retry-After: up to 10 % of it, at most 1 s, so a throttled crowd spreads out. */
export function retryAfterJitterMs(retryAfterMs: number, random: () => number): number {
  return Math.round(random() * Math.min(1000, retryAfterMs * 0.1));
}

export type Verdict =
  | { kind: "success" }
  | { kind: "reauthenticate" }
  | { kind: "retry"; honourRetryAfter: boolean }
  | { kind: "fail" };

/** What a status means for the next step: 401 → fresh Entra token; 429/503 → Retry-After (else backoff);
 * other 5xx → backoff (Retry-After if given); any other 4xx (and anything else) → fail at once. */
export function verdictFor(status: number): Verdict {
  if (status >= 200 && status < 300) return { kind: "success" };
  if (status === 401) return { kind: "reauthenticate" };
  if (status === 429 || status >= 500) return { kind: "retry", honourRetryAfter: true };
  return { kind: "fail" };
}

/** The deadline for retries: the current ACS token's expiry minus the margin while that is still ahead;
 * otherwise (no token yet, or nearly expired: the caller is waiting) a fixed budget from now. */
export function retryDeadline(
  now: number,
  currentExpiresOn: number | null,
  marginMs: number,
  budgetMs: number,
): number {
  if (currentExpiresOn !== null && currentExpiresOn - marginMs > now) return currentExpiresOn - marginMs;
  return now + budgetMs;
}
