/** `createTokenCredential`: a CommunicationTokenCredential whose proactive refresh never silently ends.
 *
 * It wraps @azure/communication-common's AzureCommunicationTokenCredential (refreshProactively), whose
 * timer calls our refresher. That SDK (2.4, autoRefreshTokenCredential.js) schedules each refresh with a
 * bare setTimeout: a refresher that throws there is never retried, and getToken() hands out the old token
 * until it expires. So when a refresh fails after its retries, this session
 *  - gives the SDK back the token it already has (while it is valid beyond the margin), which makes the SDK
 *    re-arm its own timer at half the remaining life instead of stopping, and
 *  - arms its own recovery timer (capped backoff); when that succeeds it replaces the SDK credential with one
 *    built on the new token, so getToken() returns the newest token at once.
 * On `visibilitychange` (visible) and `online` it compares the wall clock with the expiry and refreshes
 * ahead: timers do not run while a laptop sleeps. Every fetch (initial, SDK, recovery, wake) is one flight.
 */
import { AzureCommunicationTokenCredential } from "@azure/communication-common";
import { isAbortError, SignInRequiredError } from "./errors.js";
import { emit, type RefreshReason } from "./events.js";
import { fetchToken, type IssuedToken } from "./fetcher.js";
import { type ResolvedOptions, resolveOptions, type TokenClientOptions } from "./options.js";
import { type Backoff, backoffMs } from "./retry.js";
import type { TokenRefresher } from "./refresher.js";
import { type AbortSignalLike, raceAbort } from "./signals.js";
import type { TimerHandle } from "./clock.js";

/** What the Chat and Calling SDKs take: @azure/communication-common's CommunicationTokenCredential. */
export interface CommunicationTokenCredentialLike {
  getToken(options?: { abortSignal?: AbortSignalLike }): Promise<{ token: string; expiresOnTimestamp: number }>;
  dispose(): void;
}

export type CredentialFactory = (init: { token: string; tokenRefresher: TokenRefresher }) => CommunicationTokenCredentialLike;

interface ListenerTarget {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

export interface WakeSources {
  /** `visibilitychange`; its `visibilityState` is read. Default: globalThis.document. */
  document?: ListenerTarget & { visibilityState?: string };
  /** `online`. Default: globalThis (window). */
  window?: ListenerTarget;
}

export interface TokenSessionOptions extends TokenClientOptions {
  /** Refresh ahead on wake when the token expires within this window (the SDK's own window: 10 min). */
  refreshWindowMs?: number;
  /** Delays between the session's own attempts after a refresh failed. Default 1 s doubling to 60 s. */
  recoveryBackoff?: Backoff;
  /** Builds the SDK credential; default `new AzureCommunicationTokenCredential({ refreshProactively: true, … })`. */
  createCredential?: CredentialFactory;
  /** Where wake-up events come from; null to listen to none. */
  wakeSources?: WakeSources | null;
  /** A token fetched elsewhere to start with; otherwise the session fetches one first. */
  initialToken?: IssuedToken;
  /** Aborts the initial fetch. */
  signal?: AbortSignalLike;
}

const sdkCredential: CredentialFactory = ({ token, tokenRefresher }) =>
  new AzureCommunicationTokenCredential({ token, tokenRefresher, refreshProactively: true });

function defaultWakeSources(): WakeSources {
  const scope = globalThis as unknown as { document?: WakeSources["document"]; addEventListener?: unknown };
  return {
    document: scope.document,
    window: typeof scope.addEventListener === "function" ? (globalThis as unknown as ListenerTarget) : undefined,
  };
}

export class TokenSession implements CommunicationTokenCredentialLike {
  private readonly options: ResolvedOptions;
  private readonly factory: CredentialFactory;
  private readonly refreshWindowMs: number;
  private readonly recoveryBackoff: Backoff;
  private readonly lifetime = new AbortController();
  private readonly wake: WakeSources;
  private latestToken: IssuedToken | null = null;
  private inner: CommunicationTokenCredentialLike | null = null;
  private innerToken = "";
  private inflight: Promise<IssuedToken> | null = null;
  private recoveryTimer: TimerHandle | null = null;
  private recoveryAttempts = 0;
  private disposed = false;
  /** Set when the service refused even a fresh Entra token; cleared by the next successful fetch. */
  private signInRequired: SignInRequiredError | null = null;
  private readonly onWake = () => this.wakeUp();

  constructor(options: TokenSessionOptions) {
    this.options = resolveOptions(options);
    this.factory = options.createCredential ?? sdkCredential;
    this.refreshWindowMs = options.refreshWindowMs ?? 10 * 60_000;
    this.recoveryBackoff = options.recoveryBackoff ?? { baseMs: 1000, maxMs: 60_000 };
    this.wake = options.wakeSources === null ? {} : (options.wakeSources ?? defaultWakeSources());
  }

  /** Fetches the first token (unless given one), builds the SDK credential and starts listening for wake-ups. */
  async start(initialToken?: IssuedToken, signal?: AbortSignalLike): Promise<this> {
    const first = initialToken ?? (await raceAbort(this.flight("initial"), signal));
    if (this.disposed) throw new DOMException("The session was disposed.", "AbortError");
    this.latestToken = first;
    this.install(first.token);
    this.wake.document?.addEventListener("visibilitychange", this.onWake);
    this.wake.window?.addEventListener("online", this.onWake);
    return this;
  }

  /** The newest token this session fetched (the one getToken() returns while it is valid). */
  get latest(): IssuedToken | null {
    return this.latestToken;
  }

  getToken(options?: { abortSignal?: AbortSignalLike }): Promise<{ token: string; expiresOnTimestamp: number }> {
    if (this.disposed || !this.inner) return Promise.reject(new Error("The token session is disposed or not started."));
    return this.inner.getToken(options);
  }

  /** Refresh now (e.g. after the user signed in again following a SignInRequiredError). */
  async refreshNow(reason: RefreshReason = "manual"): Promise<IssuedToken> {
    return this.adopt(await this.flight(reason));
  }

  /** Stops every timer and listener and aborts a fetch in flight: call it on sign-out. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.cancelRecovery();
    this.lifetime.abort();
    this.wake.document?.removeEventListener("visibilitychange", this.onWake);
    this.wake.window?.removeEventListener("online", this.onWake);
    this.inner?.dispose();
    this.inner = null;
  }

  /** The one fetch in flight, started if none is. Its failure arms the recovery timer (once per flight). */
  private flight(reason: RefreshReason): Promise<IssuedToken> {
    if (this.inflight) return this.inflight;
    const { onEvent } = this.options;
    const run = fetchToken(this.options, {
      signal: this.lifetime.signal,
      currentExpiresOn: this.latestToken?.expiresOnTimestamp ?? null,
    }).then(
      ({ issued, attempts }) => {
        this.latestToken = issued;
        this.signInRequired = null;
        this.recoveryAttempts = 0;
        this.cancelRecovery();
        const { expiresOnTimestamp, communicationUserId } = issued;
        emit(onEvent, { type: "refreshed", reason, expiresOnTimestamp, communicationUserId, attempts });
        return issued;
      },
      (error: unknown) => {
        if (!this.disposed && !isAbortError(error)) this.failed(error as Error, reason);
        throw error;
      },
    );
    this.inflight = run.finally(() => (this.inflight = null));
    return this.inflight;
  }

  private failed(error: Error, reason: RefreshReason): void {
    const code = String((error as { code?: unknown }).code ?? "error");
    if (error instanceof SignInRequiredError) this.signInRequired = error;
    // Before start there is no session to keep alive: start()'s caller gets the error. A timer cannot sign in.
    const rearm = this.latestToken !== null && !(error instanceof SignInRequiredError);
    const delay = rearm ? backoffMs(++this.recoveryAttempts, this.recoveryBackoff, this.options.random) : null;
    emit(this.options.onEvent, { type: "failed", reason, error, code, nextAttemptInMs: delay });
    if (delay === null) return;
    this.cancelRecovery();
    this.recoveryTimer = this.options.clock.setTimeout(() => {
      this.recoveryTimer = null;
      this.recover("recovery");
    }, delay);
  }

  private recover(reason: RefreshReason): void {
    this.cancelRecovery();
    this.flight(reason).then(
      (issued) => this.adopt(issued),
      () => undefined, // flight() already re-armed the timer or reported why not
    );
  }

  private wakeUp(): void {
    if (this.disposed || this.signInRequired || !this.latestToken) return;
    if (this.wake.document?.visibilityState === "hidden") return;
    if (this.options.clock.now() >= this.latestToken.expiresOnTimestamp - this.refreshWindowMs) this.recover("wake");
  }

  /** Makes the SDK credential hold this token: a new one when it holds another (its timers die with the old). */
  private adopt(issued: IssuedToken): IssuedToken {
    if (!this.disposed && this.innerToken !== issued.token) {
      const previous = this.inner;
      this.install(issued.token);
      previous?.dispose();
    }
    return issued;
  }

  private install(token: string): void {
    let credential: CommunicationTokenCredentialLike | null = null;
    // A throw from the SDK's timer would end its proactive refresh (and surface as an unhandled rejection):
    // while the token it holds is valid beyond the margin, hand that back, and the SDK re-arms at half the
    // remaining life. Our recovery timer is armed as well; a disposed credential's answer is never used.
    const held = (): string | null => {
      const token = this.latestToken;
      const validBeyondMargin = token && token.expiresOnTimestamp - this.options.clock.now() > this.options.expiryMarginMs;
      return validBeyondMargin || (token && this.disposed) ? token.token : null;
    };
    const tokenRefresher: TokenRefresher = async (abortSignal) => {
      if (this.signInRequired) {
        const token = held();
        if (token) return token; // a timer cannot sign the user in; the app calls refreshNow() after it did
        throw this.signInRequired;
      }
      const current = this.latestToken;
      const valid = current !== null && current.expiresOnTimestamp > this.options.clock.now();
      try {
        const issued = await raceAbort(this.flight(valid ? "scheduled" : "on-demand"), abortSignal);
        if (this.inner === credential) this.innerToken = issued.token;
        return issued.token;
      } catch (error) {
        if (isAbortError(error) && !this.disposed) throw error;
        const token = held();
        if (token) return token;
        throw error;
      }
    };
    credential = this.factory({ token, tokenRefresher });
    this.inner = credential;
    this.innerToken = token;
  }

  private cancelRecovery(): void {
    if (this.recoveryTimer !== null) this.options.clock.clearTimeout(this.recoveryTimer);
    this.recoveryTimer = null;
  }
}

/** Starts a session: fetches the first token (single flight with every later refresh) and returns the
 * credential to give the Chat or Calling SDK. Call dispose() on sign-out. */
export async function createTokenCredential(options: TokenSessionOptions): Promise<TokenSession> {
  return new TokenSession(options).start(options.initialToken, options.signal);
}
