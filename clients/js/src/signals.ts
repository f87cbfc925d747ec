/** Abort plumbing without AbortSignal.any (not in every browser the SDK supports): a per-attempt timeout
 * combined with the caller's signal, and a sleep the caller can cut short. */
import type { Clock } from "./clock.js";
import { abortReason } from "./errors.js";

/** The subset of AbortSignal the SDK passes (@azure/abort-controller's AbortSignalLike). */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: "abort", listener: () => void): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

export interface AttemptSignal {
  signal: AbortSignal;
  timedOut(): boolean;
  /** Clears the timer and the listener on the caller's signal. */
  release(): void;
}

/** A signal that aborts with the caller's own reason when the caller aborts, or with a TimeoutError. */
export function attemptSignal(clock: Clock, timeoutMs: number, caller?: AbortSignalLike): AttemptSignal {
  const controller = new AbortController();
  let timedOut = false;
  const onAbort = () => controller.abort(abortReason(caller as AbortSignalLike));
  const timer = clock.setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException("The token request timed out.", "TimeoutError"));
  }, timeoutMs);
  if (caller?.aborted) onAbort();
  else caller?.addEventListener("abort", onAbort);
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    release: () => {
      clock.clearTimeout(timer);
      caller?.removeEventListener("abort", onAbort);
    },
  };
}

/** Resolves after ms, or rejects with the caller's abort reason as soon as it aborts. */
export function sleep(clock: Clock, ms: number, caller?: AbortSignalLike): Promise<void> {
  return new Promise((resolve, reject) => {
    if (caller?.aborted) return reject(abortReason(caller));
    const onAbort = () => {
      clock.clearTimeout(timer);
      reject(abortReason(caller as AbortSignalLike));
    };
    const timer = clock.setTimeout(() => {
      caller?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    caller?.addEventListener("abort", onAbort);
  });
}

/** The promise, or the caller's abort reason as soon as the caller aborts (the promise itself runs on). */
export function raceAbort<T>(promise: Promise<T>, caller?: AbortSignalLike): Promise<T> {
  if (!caller) return promise;
  if (caller.aborted) return Promise.reject(abortReason(caller));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(caller));
    caller.addEventListener("abort", onAbort);
    promise.then(
      (value) => {
        caller.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        caller.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
