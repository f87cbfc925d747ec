/** One token fetch: POST /api/token with a fresh Entra token per attempt, retried within a deadline. */
import { abortReason, isAbortError, SignInRequiredError, TokenServiceError } from "./errors.js";
import { emit } from "./events.js";
import { jwtExpiresOnTimestamp } from "./jwt.js";
import type { ResolvedOptions } from "./options.js";
import { backoffMs, parseRetryAfter, retryAfterJitterMs, retryDeadline, verdictFor } from "./retry.js";
import { type AbortSignalLike, attemptSignal, sleep } from "./signals.js";

/** A token as the service issued it, with the expiry the SDK will use (the JWT's `exp`). */
export interface IssuedToken {
  token: string;
  expiresOnTimestamp: number;
  /** The service's `expiresOn` string, as sent. */
  expiresOn: string;
  communicationUserId: string;
}

export interface FetchResult {
  issued: IssuedToken;
  attempts: number;
}

interface Failure {
  status: number | null;
  code: string;
  title: string;
  retryAfterMs: number | null;
}

export interface FetchRequest {
  signal?: AbortSignalLike;
  /** Expiry of the token in use now (ms since epoch), which bounds how long retries may go on. */
  currentExpiresOn: number | null;
}

async function readProblem(response: Response): Promise<{ code: string; title: string }> {
  try {
    const body = (await response.json()) as { code?: unknown; title?: unknown };
    return {
      code: typeof body.code === "string" ? body.code : `http_${response.status}`,
      title: typeof body.title === "string" ? body.title : response.statusText,
    };
  } catch {
    return { code: `http_${response.status}`, title: response.statusText };
  }
}

async function readToken(response: Response): Promise<IssuedToken> {
  const body = (await response.json()) as Partial<Record<string, unknown>>;
  const { token, expiresOn, communicationUserId } = body;
  const expiresOnTimestamp = typeof token === "string" ? jwtExpiresOnTimestamp(token) : null;
  if (typeof token !== "string" || expiresOnTimestamp === null || typeof communicationUserId !== "string") {
    throw new TokenServiceError(response.status, "invalid_response", "The token response is not one we know", false);
  }
  return { token, expiresOnTimestamp, expiresOn: String(expiresOn ?? ""), communicationUserId };
}

type Attempt = { ok: IssuedToken } | { failure: Failure; reauthenticate: boolean; retry: boolean };

async function attempt(options: ResolvedOptions, accessToken: string, caller?: AbortSignalLike): Promise<Attempt> {
  const timing = attemptSignal(options.clock, options.timeoutMs, caller);
  try {
    const response = await options.fetch(options.url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${accessToken}` },
      body: options.body,
      signal: timing.signal,
      cache: "no-store",
    });
    const verdict = verdictFor(response.status);
    if (verdict.kind === "success") return { ok: await readToken(response) };
    const retryAfterMs = parseRetryAfter(response.headers.get("Retry-After"), options.clock.now());
    const { code, title } = await readProblem(response);
    const failure = { status: response.status, code, title, retryAfterMs };
    return { failure, reauthenticate: verdict.kind === "reauthenticate", retry: verdict.kind === "retry" };
  } catch (error) {
    if (caller?.aborted) throw isAbortError(error) ? error : abortReason(caller);
    if (error instanceof TokenServiceError) throw error;
    const timedOut = timing.timedOut();
    const failure: Failure = timedOut
      ? { status: null, code: "timeout", title: "The token service did not answer in time", retryAfterMs: null }
      : { status: null, code: "network_error", title: "The token service could not be reached", retryAfterMs: null };
    return { failure, reauthenticate: false, retry: true };
  } finally {
    timing.release();
  }
}

/** Fetches a token. Throws the caller's AbortError as is, SignInRequiredError after a second 401, and
 * TokenServiceError for any other 4xx at once or when retrying would pass the deadline. */
export async function fetchToken(options: ResolvedOptions, request: FetchRequest): Promise<FetchResult> {
  const { clock, random } = options;
  const deadline = retryDeadline(clock.now(), request.currentExpiresOn, options.expiryMarginMs, options.retryBudgetMs);
  let forceRefresh = false;
  let reauthenticated = false;
  for (let attempts = 1; ; attempts++) {
    if (request.signal?.aborted) throw abortReason(request.signal);
    const accessToken = await options.getAccessToken({ forceRefresh });
    forceRefresh = false;
    const result = await attempt(options, accessToken, request.signal);
    if ("ok" in result) return { issued: result.ok, attempts };
    const { failure } = result;
    if (result.reauthenticate) {
      if (reauthenticated) throw new SignInRequiredError(failure.status ?? 401, failure.title);
      reauthenticated = forceRefresh = true;
      emit(options.onEvent, { type: "retrying", attempt: attempts, waitMs: 0, code: failure.code, status: failure.status });
      continue;
    }
    if (!result.retry) throw new TokenServiceError(failure.status, failure.code, failure.title, false);
    const waitMs =
      failure.retryAfterMs !== null
        ? failure.retryAfterMs + retryAfterJitterMs(failure.retryAfterMs, random)
        : backoffMs(attempts, options.backoff, random);
    if (clock.now() + waitMs > deadline) {
      throw new TokenServiceError(failure.status, failure.code, failure.title, true);
    }
    emit(options.onEvent, { type: "retrying", attempt: attempts, waitMs, code: failure.code, status: failure.status });
    await sleep(clock, waitMs, request.signal);
  }
}
