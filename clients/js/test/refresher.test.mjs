// createTokenRefresher: every branch of one fetch, with a scripted fetch and a fake clock.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createTokenRefresher, SignInRequiredError, TokenServiceError } from "../dist/index.js";
import { accessTokens, FakeClock, json, MINUTE, problem, scriptedFetch, START, tokenBody } from "./helpers.mjs";

function setUp(script, extra = {}) {
  const clock = new FakeClock();
  const { fetch, calls } = scriptedFetch(script, clock);
  const entra = accessTokens();
  const events = [];
  const current = { token: "old", expiresOnTimestamp: START + 10 * MINUTE, expiresOn: "", communicationUserId: "u" };
  const refresher = createTokenRefresher({
    serviceUrl: "https://svc.test/",
    getAccessToken: entra.getAccessToken,
    scopes: ["voip"],
    expiresInMinutes: 60,
    fetch,
    clock,
    random: () => 0,
    onEvent: (event) => events.push(event),
    initialToken: "initialToken" in extra ? extra.initialToken : current,
    ...extra,
  });
  return { clock, calls, entra, events, refresher };
}

test("posts JSON with a bearer to /api/token and returns the token string", async () => {
  const body = tokenBody(START + 60 * MINUTE);
  const { clock, calls, entra, events, refresher } = setUp([json(200, body)]);
  assert.equal(await clock.settle(refresher()), body.token);
  assert.equal(calls.length, 1);
  assert.equal(calls[0].url, "https://svc.test/api/token");
  assert.equal(calls[0].init.method, "POST");
  assert.equal(calls[0].init.headers.Authorization, "Bearer entra-1");
  assert.equal(calls[0].init.headers["Content-Type"], "application/json");
  assert.deepEqual(calls[0].body, { scopes: ["voip"], expiresInMinutes: 60 });
  assert.deepEqual(entra.calls, [false]);
  assert.equal(refresher.latest.expiresOnTimestamp, Math.floor((START + 60 * MINUTE) / 1000) * 1000);
  assert.deepEqual(events.map((e) => e.type), ["refreshed"]);
});

test("401 once: a forced fresh Entra token, then success", async () => {
  const body = tokenBody(START + 60 * MINUTE);
  const { clock, calls, entra, events, refresher } = setUp([problem(401, "unauthenticated"), json(200, body)]);
  assert.equal(await clock.settle(refresher()), body.token);
  assert.deepEqual(entra.calls, [false, true]);
  assert.deepEqual(calls.map((c) => c.init.headers.Authorization), ["Bearer entra-1", "Bearer entra-2"]);
  assert.equal(calls[1].at, calls[0].at, "no wait before the re-authenticated attempt");
  assert.deepEqual(events[0], { type: "retrying", attempt: 1, waitMs: 0, code: "unauthenticated", status: 401 });
});

test("401 twice: SignInRequiredError, no third attempt", async () => {
  const { clock, calls, events, refresher } = setUp([problem(401, "unauthenticated"), problem(401, "unauthenticated")]);
  const error = await clock.settle(refresher()).catch((e) => e);
  assert.ok(error instanceof SignInRequiredError, String(error));
  assert.equal(error.code, "signInRequired");
  assert.equal(calls.length, 2);
  assert.equal(events.at(-1).type, "failed");
  assert.equal(events.at(-1).code, "signInRequired");
});

test("429 waits Retry-After seconds plus jitter, with a fresh Entra token for the next attempt", async () => {
  const body = tokenBody(START + 60 * MINUTE);
  const { clock, calls, entra, events, refresher } = setUp(
    [problem(429, "rate_limited", { "Retry-After": "7" }), json(200, body)],
    { random: () => 0.5 },
  );
  assert.equal(await clock.settle(refresher()), body.token);
  assert.equal(calls[1].at - calls[0].at, 7000 + 350); // jitter: half of min(1 s, 10 % of 7 s)
  assert.deepEqual(entra.calls, [false, false]);
  assert.deepEqual(events[0], { type: "retrying", attempt: 1, waitMs: 7350, code: "rate_limited", status: 429 });
});

test("503 with an HTTP-date Retry-After waits until that date", async () => {
  const body = tokenBody(START + 60 * MINUTE);
  const date = new Date(START + 12_000).toUTCString();
  const { clock, calls, refresher } = setUp([problem(503, "auth_keys_unavailable", { "Retry-After": date }), json(200, body)]);
  assert.equal(await clock.settle(refresher()), body.token);
  assert.equal(calls[1].at - calls[0].at, 12_000);
});

test("Retry-After past the deadline (token expiry minus 60 s): a retryable TokenServiceError at once", async () => {
  const { clock, calls, events, refresher } = setUp([problem(429, "upstream_throttled", { "Retry-After": "600" })]);
  const error = await clock.settle(refresher()).catch((e) => e);
  assert.ok(error instanceof TokenServiceError);
  assert.deepEqual([error.status, error.code, error.title, error.retryable], [429, "upstream_throttled", "title of upstream_throttled", true]);
  assert.equal(clock.now(), START, "did not sleep");
  assert.equal(calls.length, 1);
  assert.deepEqual(events.map((e) => e.type), ["failed"]);
});

test("retries stop at the deadline: waits that fit are taken, the next that does not ends it", async () => {
  const script = Array.from({ length: 5 }, () => problem(503, "upstream_unavailable", { "Retry-After": "240" }));
  const { clock, calls, refresher } = setUp(script); // 10 min left: deadline at 9 min, so two waits of 4 min
  const error = await clock.settle(refresher()).catch((e) => e);
  assert.equal(error.code, "upstream_unavailable");
  assert.equal(calls.length, 3);
  assert.equal(clock.now() - START, 8 * MINUTE);
});

test("network errors and 5xx without Retry-After: capped exponential backoff", async () => {
  const body = tokenBody(START + 60 * MINUTE);
  const script = [new TypeError("fetch failed"), problem(500, "internal_error"), problem(502, "http_502"), new TypeError("x"), json(200, body)];
  const { clock, calls, events, refresher } = setUp(script, { backoff: { baseMs: 1000, maxMs: 3000 } });
  assert.equal(await clock.settle(refresher()), body.token);
  const gaps = calls.slice(1).map((c, i) => c.at - calls[i].at);
  assert.deepEqual(gaps, [500, 1000, 1500, 1500]); // random 0: half of 1 s, 2 s, then of the 3 s cap
  assert.deepEqual(events.slice(0, 2).map((e) => e.code), ["network_error", "internal_error"]);
});

test("any other 4xx: a TokenServiceError with the problem's code and title at once", async () => {
  for (const [status, code] of [[400, "invalid_scope"], [403, "insufficient_scope"], [404, "http_404"], [415, "unsupported_media_type"]]) {
    const { clock, calls, refresher } = setUp([problem(status, code)]);
    const error = await clock.settle(refresher()).catch((e) => e);
    assert.ok(error instanceof TokenServiceError, `${status}: ${error}`);
    assert.deepEqual([error.status, error.code, error.title, error.retryable], [status, code, `title of ${code}`, false]);
    assert.equal(calls.length, 1);
  }
});

test("a problem body that is not JSON still gives a code", async () => {
  const { clock, refresher } = setUp([new Response("<html>bad gateway</html>", { status: 400, statusText: "Bad Request" })]);
  const error = await clock.settle(refresher()).catch((e) => e);
  assert.deepEqual([error.code, error.title], ["http_400", "Bad Request"]);
});

test("a 200 without a JWT token is invalid_response, not retried", async () => {
  const { clock, calls, refresher } = setUp([json(200, { token: "not-a-jwt", communicationUserId: "u" })]);
  const error = await clock.settle(refresher()).catch((e) => e);
  assert.equal(error.code, "invalid_response");
  assert.equal(calls.length, 1);
});

test("per-attempt timeout: a hung request is abandoned after timeoutMs and retried", async () => {
  const body = tokenBody(START + 60 * MINUTE);
  const { clock, calls, events, refresher } = setUp(["hang", json(200, body)], { timeoutMs: 4000 });
  assert.equal(await clock.settle(refresher()), body.token);
  assert.equal(calls[0].init.signal.aborted, true);
  assert.equal(calls[0].init.signal.reason.name, "TimeoutError");
  assert.equal(events[0].code, "timeout");
  assert.equal(calls[1].at - calls[0].at, 4000 + 250);
});

test("the caller's abort during a request: its AbortError passes through as is", async () => {
  const { clock, calls, refresher } = setUp(["hang"]);
  const controller = new AbortController();
  const reason = new DOMException("user left", "AbortError");
  const pending = refresher(controller.signal);
  await clock.advance(100);
  controller.abort(reason);
  const error = await clock.settle(pending).catch((e) => e);
  assert.equal(error, reason);
  assert.equal(calls.length, 1);
});

test("the caller's abort during a Retry-After wait ends the wait with its reason", async () => {
  const { clock, calls, events, refresher } = setUp([problem(429, "rate_limited", { "Retry-After": "30" })]);
  const controller = new AbortController();
  const pending = refresher(controller.signal);
  await clock.advance(1000);
  controller.abort();
  const error = await clock.settle(pending).catch((e) => e);
  assert.equal(error.name, "AbortError");
  assert.equal(error, controller.signal.reason);
  assert.equal(calls.length, 1);
  assert.equal(clock.pending(), 0, "the sleep timer was cleared");
  assert.ok(!events.some((e) => e.type === "failed"), "an abort is not a failure");
});

test("an already aborted signal: no request at all", async () => {
  const { clock, calls, entra, refresher } = setUp([]);
  const error = await clock.settle(refresher(AbortSignal.abort())).catch((e) => e);
  assert.equal(error.name, "AbortError");
  assert.deepEqual([calls.length, entra.calls.length], [0, 0]);
});

test("without a current token the retries get a fixed budget (30 s by default)", async () => {
  const script = Array.from({ length: 4 }, () => problem(503, "upstream_unavailable", { "Retry-After": "10" }));
  const { clock, calls, refresher } = setUp(script, { initialToken: undefined });
  const error = await clock.settle(refresher()).catch((e) => e);
  assert.equal(error.code, "upstream_unavailable");
  assert.equal(calls.length, 4); // waits of 10 s at 0, 10 and 20 s fit in 30 s; a fourth would end past it
  assert.equal(clock.now() - START, 30_000);
});

test("the deadline follows the last token this refresher fetched", async () => {
  const soon = tokenBody(START + 2 * MINUTE);
  const script = [json(200, soon), problem(429, "rate_limited", { "Retry-After": "70" })];
  const { clock, calls, refresher } = setUp(script);
  await clock.settle(refresher());
  const error = await clock.settle(refresher()).catch((e) => e); // 2 min left: deadline at 1 min
  assert.equal(error.code, "rate_limited");
  assert.equal(calls.length, 2);
});

test("options are checked", () => {
  assert.throws(() => createTokenRefresher({ serviceUrl: "", getAccessToken: async () => "" }), TypeError);
  assert.throws(() => createTokenRefresher({ serviceUrl: "https://x", getAccessToken: "no" }), TypeError);
});

test("an onEvent listener that throws does not break the refresh", async () => {
  const body = tokenBody(START + 60 * MINUTE);
  const { clock, refresher } = setUp([json(200, body)], { onEvent: () => { throw new Error("ui bug"); } });
  assert.equal(await clock.settle(refresher()), body.token);
});
