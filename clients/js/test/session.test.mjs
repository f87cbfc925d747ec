// createTokenCredential around the real @azure/communication-common AzureCommunicationTokenCredential.
// The SDK schedules with the global setTimeout and reads Date.now, so node's mock timers stand in for
// both (pure logic: no network; fetch is scripted). The browser suite runs the same against the service.
import assert from "node:assert/strict";
import { afterEach, beforeEach, mock, test } from "node:test";
import { createTokenCredential, SignInRequiredError } from "../dist/index.js";
import { accessTokens, flush, json, MINUTE, problem, scriptedFetch, START, tokenBody } from "./helpers.mjs";

const unhandled = [];
const onUnhandled = (reason) => unhandled.push(reason);

beforeEach(() => {
  mock.timers.enable({ apis: ["setTimeout", "Date"], now: START });
  unhandled.length = 0;
  process.on("unhandledRejection", onUnhandled);
});

afterEach(() => {
  mock.timers.reset();
  process.off("unhandledRejection", onUnhandled);
});

/** Moves the mocked clock in steps, letting promise callbacks run between the timers that fire. */
async function advance(ms, step = 250) {
  for (let left = ms; left > 0; left -= step) {
    mock.timers.tick(Math.min(step, left));
    await flush();
  }
}

class Wake extends EventTarget {
  visibilityState = "visible";
}

async function start(script, extra = {}) {
  const { fetch, calls } = scriptedFetch(script);
  const entra = accessTokens();
  const events = [];
  const wake = { document: new Wake(), window: new EventTarget() };
  const session = await createTokenCredential({
    serviceUrl: "https://svc.test",
    getAccessToken: entra.getAccessToken,
    fetch,
    random: () => 0,
    onEvent: (event) => events.push(event),
    wakeSources: wake,
    ...extra,
  });
  return { session, calls, entra, events, wake };
}

const HOUR = 60 * MINUTE;

test("the first token comes from one fetch; getToken() returns it without another", async () => {
  const first = tokenBody(START + HOUR);
  const { session, calls, events } = await start([json(201, first)]);
  assert.equal((await session.getToken()).token, first.token);
  assert.equal(calls.length, 1);
  assert.deepEqual(events.map((e) => [e.type, e.reason]), [["refreshed", "initial"]]);
  session.dispose();
});

test("the SDK's proactive timer (10 min before expiry) refreshes through the client", async () => {
  const first = tokenBody(START + HOUR);
  const second = tokenBody(START + 2 * HOUR);
  const { session, calls, events } = await start([json(201, first), json(200, second)]);
  await advance(49 * MINUTE, MINUTE);
  assert.equal(calls.length, 1);
  await advance(2 * MINUTE, MINUTE);
  assert.equal(calls.length, 2);
  assert.equal((await session.getToken()).token, second.token);
  assert.deepEqual(events.at(-1).reason, "scheduled");
  session.dispose();
});

test("a scheduled refresh that fails after its retries does not end refreshing: recovery brings the new token", async () => {
  const first = tokenBody(START + HOUR);
  const second = tokenBody(START + 2 * HOUR);
  // Retry-After 10 min cannot fit before expiry - 60 s: the refresher gives up at once.
  const script = [json(201, first), problem(503, "upstream_unavailable", { "Retry-After": "600" }), json(200, second)];
  const { session, calls, events } = await start(script);
  await advance(50 * MINUTE, MINUTE);
  await advance(100, 100);
  assert.equal(calls.length, 2);
  const failed = events.find((e) => e.type === "failed");
  assert.deepEqual([failed.code, failed.reason, failed.nextAttemptInMs], ["upstream_unavailable", "scheduled", 500]);
  assert.equal((await session.getToken()).token, first.token, "still valid: the old token meanwhile");
  await advance(1000);
  assert.equal(calls.length, 3);
  assert.equal((await session.getToken()).token, second.token, "the newest token at once, not at the SDK's next timer");
  assert.equal(events.at(-1).reason, "recovery");
  assert.deepEqual(unhandled, [], "the SDK's timer never saw a rejection");
  session.dispose();
});

test("recovery keeps trying with growing waits until the service answers", async () => {
  const first = tokenBody(START + HOUR);
  const second = tokenBody(START + 2 * HOUR);
  const down = () => problem(400, "invalid_request");
  const script = [json(201, first), down(), down(), down(), json(200, second)];
  const { session, calls, events } = await start(script);
  await advance(50 * MINUTE + 1000, MINUTE);
  await advance(10_000, 100);
  assert.equal(calls.length, 5);
  const waits = events.filter((e) => e.type === "failed").map((e) => e.nextAttemptInMs);
  assert.deepEqual(waits, [500, 1000, 2000]);
  assert.equal((await session.getToken()).token, second.token);
  session.dispose();
});

test("429 during a scheduled refresh: the wait happens inside one refresh, and the UI hears of it", async () => {
  const first = tokenBody(START + HOUR);
  const second = tokenBody(START + 2 * HOUR);
  const script = [json(201, first), problem(429, "rate_limited", { "Retry-After": "20" }), json(200, second)];
  const { session, calls, events } = await start(script);
  await advance(50 * MINUTE + 1000, MINUTE);
  assert.deepEqual(events.at(-1), { type: "retrying", attempt: 1, waitMs: 20_000, code: "rate_limited", status: 429 });
  await advance(21_000, 500);
  assert.equal(calls.length, 3);
  assert.equal((await session.getToken()).token, second.token);
  session.dispose();
});

test("waking up inside the refresh window (timers did not run): refresh ahead at once", async () => {
  const first = tokenBody(START + HOUR);
  const second = tokenBody(START + 2 * HOUR);
  const { session, calls, wake, events } = await start([json(201, first), json(200, second)]);
  wake.document.dispatchEvent(new Event("visibilitychange"));
  await flush();
  assert.equal(calls.length, 1, "not yet in the window: nothing to do");
  mock.timers.setTime(START + 55 * MINUTE); // the laptop slept: the wall clock jumped, no timer fired
  wake.window.dispatchEvent(new Event("online"));
  await flush();
  assert.equal(calls.length, 2);
  assert.equal(events.at(-1).reason, "wake");
  assert.equal((await session.getToken()).token, second.token);
  session.dispose();
});

test("a hidden page does not refresh on visibilitychange", async () => {
  const { session, calls, wake } = await start([json(201, tokenBody(START + HOUR))]);
  mock.timers.setTime(START + 55 * MINUTE);
  wake.document.visibilityState = "hidden";
  wake.document.dispatchEvent(new Event("visibilitychange"));
  await flush();
  assert.equal(calls.length, 1);
  session.dispose();
});

test("single flight: the SDK's refresh, a wake-up and refreshNow() share one request", async () => {
  const first = tokenBody(START + HOUR);
  const second = tokenBody(START + 2 * HOUR);
  let release;
  const gate = new Promise((resolve) => (release = resolve));
  const { fetch, calls } = scriptedFetch([json(201, first), json(200, second)]);
  const slowFetch = async (url, init) => {
    if (calls.length === 1) await gate;
    return fetch(url, init);
  };
  const wake = { document: new Wake(), window: new EventTarget() };
  const session = await createTokenCredential({
    serviceUrl: "https://svc.test", getAccessToken: async () => "e", fetch: slowFetch, random: () => 0, wakeSources: wake,
  });
  mock.timers.setTime(START + 55 * MINUTE);
  wake.document.dispatchEvent(new Event("visibilitychange"));
  const manual = session.refreshNow();
  await advance(1000);
  release();
  await flush();
  assert.equal((await manual).token, second.token);
  assert.equal(calls.length, 2);
  session.dispose();
});

test("an expired token: getToken() waits for the refresh (the SDK's on-demand path) and gets the new one", async () => {
  const first = tokenBody(START + HOUR);
  const second = tokenBody(START + 3 * HOUR);
  const { session, calls } = await start([json(201, first), json(200, second)], { wakeSources: null });
  mock.timers.setTime(START + HOUR + MINUTE);
  const pending = session.getToken();
  await flush();
  assert.equal((await pending).token, second.token);
  assert.equal(calls.length, 2);
  session.dispose();
});

test("sign-in required during a scheduled refresh: reported, never retried from a timer", async () => {
  const first = tokenBody(START + HOUR);
  const script = [json(201, first), problem(401, "unauthenticated"), problem(401, "unauthenticated")];
  const { session, calls, events, entra } = await start(script);
  await advance(50 * MINUTE + 1000, MINUTE);
  const failed = events.find((e) => e.type === "failed");
  assert.ok(failed.error instanceof SignInRequiredError);
  assert.equal(failed.nextAttemptInMs, null);
  assert.deepEqual(entra.calls, [false, false, true]);
  await advance(5 * MINUTE, MINUTE);
  assert.equal(calls.length, 3, "no attempt after sign-in was found to be required");
  assert.equal((await session.getToken()).token, first.token, "the valid token is still handed out");
  session.dispose();
});

test("dispose(): aborts the request in flight, stops the timers and the listeners", async () => {
  const first = tokenBody(START + HOUR);
  const { session, calls, wake, events } = await start([json(201, first), "hang"], { timeoutMs: 3_600_000 });
  await advance(50 * MINUTE + 1000, MINUTE);
  assert.equal(calls.length, 2);
  session.dispose();
  await flush();
  assert.equal(calls[1].init.signal.aborted, true);
  mock.timers.setTime(START + 58 * MINUTE);
  wake.document.dispatchEvent(new Event("visibilitychange"));
  await advance(20 * MINUTE, MINUTE);
  assert.equal(calls.length, 2);
  assert.ok(!events.some((e) => e.type === "failed"), "an abort on sign-out is not a failure");
  await assert.rejects(session.getToken(), /disposed/);
});

test("an initial fetch that fails rejects createTokenCredential, with no timer left behind", async () => {
  const { fetch } = scriptedFetch([problem(403, "insufficient_scope")]);
  await assert.rejects(
    createTokenCredential({ serviceUrl: "https://svc.test", getAccessToken: async () => "e", fetch, wakeSources: null }),
    (error) => error.code === "insufficient_scope",
  );
});

test("a session can start from a token fetched elsewhere", async () => {
  const { fetch, calls } = scriptedFetch([]);
  const initialToken = { ...tokenBody(START + HOUR), expiresOnTimestamp: START + HOUR };
  const session = await createTokenCredential({
    serviceUrl: "https://svc.test", getAccessToken: async () => "e", fetch, initialToken, wakeSources: null,
  });
  assert.equal((await session.getToken()).token, initialToken.token);
  assert.equal(calls.length, 0);
  session.dispose();
});
