/** The typed errors the client throws; an AbortError from the caller's signal is never wrapped. */

/** The token service (or the way to it) failed in a way retrying did not fix in time, or must not retry. */
export class TokenServiceError extends Error {
  override readonly name = "TokenServiceError";
  /** HTTP status, or null when no response came (network error, timeout). */
  readonly status: number | null;
  /** The problem's stable `code` (docs/api.md), or `network_error`, `timeout`, `invalid_response`. */
  readonly code: string;
  /** The problem's `title`, or a short description for failures without a response. */
  readonly title: string;
  /** True when the failure was retryable but the deadline (token expiry minus a margin) ran out. */
  readonly retryable: boolean;

  constructor(status: number | null, code: string, title: string, retryable: boolean, cause?: unknown) {
    super(`${status ?? "no response"} ${code}: ${title}`);
    this.status = status;
    this.code = code;
    this.title = title;
    this.retryable = retryable;
    if (cause !== undefined) (this as { cause?: unknown }).cause = cause;
  }
}

/** The service refused the caller's sign-in even with a freshly acquired Entra token: the user must sign in
 * again interactively. Thrown instead of opening a popup, since refreshes run from timers. */
export class SignInRequiredError extends Error {
  override readonly name = "SignInRequiredError";
  readonly code = "signInRequired";
  readonly status: number;

  constructor(status: number, title: string) {
    super(`sign-in required: ${title}`);
    this.status = status;
  }
}

export function isAbortError(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { name?: unknown }).name === "AbortError";
}

/** The error an aborted signal stands for: its own `reason` when it has one, else a DOMException AbortError. */
export function abortReason(signal: { reason?: unknown }): unknown {
  return signal.reason ?? new DOMException("The operation was aborted.", "AbortError");
}
