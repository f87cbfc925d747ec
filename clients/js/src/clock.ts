/** Time and timers, injectable so every retry and schedule can be driven by a fake clock in tests. */

export type TimerHandle = unknown;

export interface Clock {
  /** Wall-clock milliseconds since the epoch, as `Date.now()`: token expiries are wall-clock times. */
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** Looks the globals up on every call (not once at import), so a clock installed later still applies. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};
