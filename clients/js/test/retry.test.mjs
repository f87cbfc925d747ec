// The pure retry decisions.
import assert from "node:assert/strict";
import { test } from "node:test";
import { backoffMs, parseRetryAfter, retryAfterJitterMs, retryDeadline, verdictFor } from "../dist/retry.js";
import { jwtExpiresOnTimestamp } from "../dist/jwt.js";
import { jwt } from "./helpers.mjs";

test("Retry-After: delay-seconds, HTTP-date, past dates, garbage", () => {
  const now = Date.UTC(2030, 0, 1);
  assert.equal(parseRetryAfter("5", now), 5000);
  assert.equal(parseRetryAfter(" 0 ", now), 0);
  assert.equal(parseRetryAfter(new Date(now + 90_000).toUTCString(), now), 90_000);
  assert.equal(parseRetryAfter(new Date(now - 90_000).toUTCString(), now), 0);
  assert.equal(parseRetryAfter("soon", now), null);
  assert.equal(parseRetryAfter("-3", now), null);
  assert.equal(parseRetryAfter(null, now), null);
});

test("backoff doubles, is capped, and jitters within [half, all] of its ceiling", () => {
  const backoff = { baseMs: 500, maxMs: 30_000 };
  assert.deepEqual([1, 2, 3, 4].map((n) => backoffMs(n, backoff, () => 0)), [250, 500, 1000, 2000]);
  assert.equal(backoffMs(20, backoff, () => 0), 15_000);
  assert.equal(backoffMs(20, backoff, () => 0.999999), 30_000);
});

test("Retry-After jitter is at most 10 % and at most 1 s", () => {
  assert.equal(retryAfterJitterMs(5000, () => 0.999999), 500);
  assert.equal(retryAfterJitterMs(60_000, () => 0.999999), 1000);
  assert.equal(retryAfterJitterMs(5000, () => 0), 0);
});

test("verdicts: 2xx success, 401 reauthenticate, 429/5xx retry, other 4xx fail", () => {
  assert.equal(verdictFor(200).kind, "success");
  assert.equal(verdictFor(201).kind, "success");
  assert.equal(verdictFor(401).kind, "reauthenticate");
  for (const status of [429, 500, 502, 503, 504]) assert.equal(verdictFor(status).kind, "retry");
  for (const status of [400, 403, 404, 409, 413, 415, 422, 302]) assert.equal(verdictFor(status).kind, "fail");
});

test("deadline: expiry minus margin while ahead, else a budget from now", () => {
  assert.equal(retryDeadline(1000, 100_000, 60_000, 30_000), 40_000);
  assert.equal(retryDeadline(50_000, 100_000, 60_000, 30_000), 80_000);
  assert.equal(retryDeadline(1000, null, 60_000, 30_000), 31_000);
});

test("jwt exp is read in ms; anything else is null", () => {
  assert.equal(jwtExpiresOnTimestamp(jwt(1_900_000_000_000)), 1_900_000_000_000);
  assert.equal(jwtExpiresOnTimestamp("a.b"), null);
  assert.equal(jwtExpiresOnTimestamp("a.!!!.c"), null);
  assert.equal(jwtExpiresOnTimestamp(`x.${Buffer.from('{"exp":"soon"}').toString("base64url")}.y`), null);
});
