/** The options every part of the client shares, and their defaults. */
import type { Clock } from "./clock.js";
import { systemClock } from "./clock.js";
import type { TokenEventListener } from "./events.js";
import { type Backoff, DEFAULT_BACKOFF } from "./retry.js";

export interface TokenClientOptions {
  /** The token service's base URL (e.g. `https://contoso.azurewebsites.net`); the client POSTs to `/api/token`. */
  serviceUrl: string;
  /** The signed-in user's Entra access token for the service (MSAL's acquireTokenSilent). Called for every
   * attempt; `forceRefresh` after a 401, so a cached token the service rejected is not sent twice. Must
   * not open a popup: refreshes run from timers. */
  getAccessToken: (options: { forceRefresh: boolean }) => Promise<string>;
  scopes?: string[];
  expiresInMinutes?: number;
  fetch?: typeof fetch;
  onEvent?: TokenEventListener;
  /** Per attempt, from sending the request to reading the body. Default 10 s. */
  timeoutMs?: number;
  clock?: Clock;
  /** [0, 1) for jitter; Math.random by default. */
  random?: () => number;
  backoff?: Backoff;
  /** Retries stop this long before the current ACS token expires. Default 60 s. */
  expiryMarginMs?: number;
  /** How long to retry when there is no current token to bound it (first fetch, or nearly expired). Default 30 s. */
  retryBudgetMs?: number;
}

export interface ResolvedOptions {
  url: string;
  getAccessToken: TokenClientOptions["getAccessToken"];
  body: string;
  fetch: typeof fetch;
  onEvent: TokenEventListener | undefined;
  timeoutMs: number;
  clock: Clock;
  random: () => number;
  backoff: Backoff;
  expiryMarginMs: number;
  retryBudgetMs: number;
}

export function resolveOptions(options: TokenClientOptions): ResolvedOptions {
  if (!options.serviceUrl) throw new TypeError("serviceUrl is required");
  if (typeof options.getAccessToken !== "function") throw new TypeError("getAccessToken must be a function");
  const body: Record<string, unknown> = {};
  if (options.scopes) body.scopes = options.scopes;
  if (options.expiresInMinutes !== undefined) body.expiresInMinutes = options.expiresInMinutes;
  return {
    url: `${options.serviceUrl.replace(/\/+$/, "")}/api/token`,
    getAccessToken: options.getAccessToken,
    body: JSON.stringify(body),
    // Bound to globalThis: a bare `fetch` reference called as a method of another object throws in browsers.
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    onEvent: options.onEvent,
    timeoutMs: options.timeoutMs ?? 10_000,
    clock: options.clock ?? systemClock,
    random: options.random ?? Math.random,
    backoff: options.backoff ?? DEFAULT_BACKOFF,
    expiryMarginMs: options.expiryMarginMs ?? 60_000,
    retryBudgetMs: options.retryBudgetMs ?? 30_000,
  };
}
