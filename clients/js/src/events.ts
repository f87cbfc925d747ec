/** What the client reports, so a UI can show "reconnecting…" while it retries and "signed out" when it gives up. */

export type RefreshReason = "initial" | "scheduled" | "on-demand" | "recovery" | "wake" | "manual";

export type TokenEvent =
  | {
      type: "refreshed";
      reason: RefreshReason;
      expiresOnTimestamp: number;
      communicationUserId: string;
      /** Attempts this refresh took (1 = first try). */
      attempts: number;
    }
  | {
      type: "retrying";
      /** The attempt that failed (1-based); the next one starts after waitMs. */
      attempt: number;
      waitMs: number;
      /** The problem's `code`, or `network_error` / `timeout`. */
      code: string;
      status: number | null;
    }
  | {
      type: "failed";
      reason: RefreshReason;
      error: Error;
      code: string;
      /** When the client tries again by itself, or null when it will not (sign-in required, disposed). */
      nextAttemptInMs: number | null;
    };

export type TokenEventListener = (event: TokenEvent) => void;

/** Calls the listener, never letting a UI bug break a refresh. */
export function emit(listener: TokenEventListener | undefined, event: TokenEvent): void {
  if (!listener) return;
  try {
    listener(event);
  } catch {
    // A listener's failure is the UI's problem; the token must still be refreshed.
  }
}
