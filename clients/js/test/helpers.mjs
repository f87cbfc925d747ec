// Test doubles for pure logic only: a scripted fetch (the responses a test decides), a fake clock, and
// unsigned JWTs with a chosen `exp`. The real service and the real SDK are exercised in tests/browser.
import { setImmediate as immediate } from "node:timers/promises";

export const START = Date.UTC(2030, 0, 1, 12, 0, 0);
export const MINUTE = 60_000;

/** A token shaped like ACS's: three base64url segments, `exp` in seconds. Never verified by the client. */
export function jwt(expMs, extra = {}) {
  const segment = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${segment({ alg: "none", typ: "JWT" })}.${segment({ exp: Math.floor(expMs / 1000), ...extra })}.sig`;
}

export function tokenBody(expMs, user = "8:acs:r_u") {
  return { communicationUserId: user, token: jwt(expMs, { n: Math.random() }), expiresOn: new Date(expMs).toISOString() };
}

export function json(status, body, headers = {}) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

export function problem(status, code, headers = {}) {
  const body = { type: `https://example.test/problems/${code}`, title: `title of ${code}`, status, code };
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/problem+json", ...headers } });
}

/** A fetch that answers from a script: each entry is a Response, an Error to throw, "hang" (until the
 * signal aborts), or a function (call) => one of those. Records every call with the clock's time. */
export function scriptedFetch(script, clock) {
  const calls = [];
  const fetch = async (url, init) => {
    const call = { url, init, at: clock ? clock.now() : Date.now(), body: JSON.parse(init.body) };
    calls.push(call);
    let step = script.shift();
    if (step === undefined) throw new Error(`unscripted fetch #${calls.length}`);
    if (typeof step === "function") step = step(call);
    if (step === "hang") {
      return new Promise((_, reject) => {
        init.signal.addEventListener("abort", () => reject(init.signal.reason));
      });
    }
    if (step instanceof Error) throw step;
    if (init.signal?.aborted) throw init.signal.reason;
    return step;
  };
  return { fetch, calls };
}

/** A clock whose time moves only when a test advances it; timers fire in due order. */
export class FakeClock {
  constructor(now = START) {
    this.time = now;
    this.timers = [];
    this.nextId = 1;
  }
  now() {
    return this.time;
  }
  setTimeout(callback, ms) {
    const id = this.nextId++;
    this.timers.push({ id, at: this.time + Math.max(0, ms), callback });
    return id;
  }
  clearTimeout(id) {
    this.timers = this.timers.filter((timer) => timer.id !== id);
  }
  pending() {
    return this.timers.length;
  }
  /** Runs promise callbacks and due timers until `promise` settles; fails if it waits on nothing. */
  async settle(promise, limitMs = 24 * 3600_000) {
    let state = "pending";
    let outcome;
    promise.then(
      (value) => ((state = "resolved"), (outcome = value)),
      (error) => ((state = "rejected"), (outcome = error)),
    );
    const end = this.time + limitMs;
    for (;;) {
      await flush();
      if (state === "resolved") return outcome;
      if (state === "rejected") throw outcome;
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers.shift();
      if (!next || next.at > end) throw new Error("promise waits on nothing the clock can advance");
      this.time = Math.max(this.time, next.at);
      next.callback();
    }
  }
  /** Moves time forward by ms, firing due timers on the way. */
  async advance(ms) {
    const end = this.time + ms;
    for (;;) {
      await flush();
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.time = Math.max(this.time, next.at);
      next.callback();
    }
    this.time = end;
    await flush();
  }
}

export async function flush() {
  for (let i = 0; i < 20; i++) await immediate();
}

/** getAccessToken that counts its calls and hands out a new Entra token each time. */
export function accessTokens() {
  const calls = [];
  const getAccessToken = async ({ forceRefresh }) => {
    calls.push(forceRefresh);
    return `entra-${calls.length}`;
  };
  return { getAccessToken, calls };
}
