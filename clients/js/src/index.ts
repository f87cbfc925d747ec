/** @acs-token-service/client: a token client for browser frontends of the ACS token service. */
export type { Clock, TimerHandle } from "./clock.js";
export { systemClock } from "./clock.js";
export { SignInRequiredError, TokenServiceError } from "./errors.js";
export type { RefreshReason, TokenEvent, TokenEventListener } from "./events.js";
export type { IssuedToken } from "./fetcher.js";
export type { TokenClientOptions } from "./options.js";
export { createTokenRefresher } from "./refresher.js";
export type { TokenRefresher, TokenRefresherControls } from "./refresher.js";
export type { Backoff } from "./retry.js";
export { parseRetryAfter } from "./retry.js";
export { createTokenCredential, TokenSession } from "./session.js";
export type { CommunicationTokenCredentialLike, CredentialFactory, TokenSessionOptions, WakeSources } from "./session.js";
export type { AbortSignalLike } from "./signals.js";
