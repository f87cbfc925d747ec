/** `createTokenRefresher`: what AzureCommunicationTokenCredential's `tokenRefresher` takes, with retries.
 *
 * @azure/communication-common 2.4 accepts `(abortSignal?) => Promise<string>` only (its tokenParser reads
 * the JWT), so that is the shape. Used alone, it still has the SDK's weakness that a refresh which fails
 * after all retries ends proactive refresh; `createTokenCredential` (session.ts) closes that gap.
 */
import { isAbortError } from "./errors.js";
import { emit } from "./events.js";
import { fetchToken, type IssuedToken } from "./fetcher.js";
import { resolveOptions, type TokenClientOptions } from "./options.js";
import type { AbortSignalLike } from "./signals.js";

export type TokenRefresher = (abortSignal?: AbortSignalLike) => Promise<string>;

export interface TokenRefresherControls {
  /** The last token this refresher fetched, or null before the first. */
  readonly latest: IssuedToken | null;
}

/** A tokenRefresher for AzureCommunicationTokenCredential. The expiry of the last token it fetched bounds
 * its retries (pass `initialToken` when the credential starts with a token fetched elsewhere). */
export function createTokenRefresher(
  options: TokenClientOptions & { initialToken?: IssuedToken },
): TokenRefresher & TokenRefresherControls {
  const resolved = resolveOptions(options);
  let latest: IssuedToken | null = options.initialToken ?? null;
  const refresher = async (abortSignal?: AbortSignalLike): Promise<string> => {
    try {
      const { issued, attempts } = await fetchToken(resolved, {
        signal: abortSignal,
        currentExpiresOn: latest?.expiresOnTimestamp ?? null,
      });
      latest = issued;
      const { expiresOnTimestamp, communicationUserId } = issued;
      emit(resolved.onEvent, { type: "refreshed", reason: "on-demand", expiresOnTimestamp, communicationUserId, attempts });
      return issued.token;
    } catch (error) {
      if (!isAbortError(error)) {
        const code = (error as { code?: unknown }).code;
        emit(resolved.onEvent, {
          type: "failed",
          reason: "on-demand",
          error: error as Error,
          code: typeof code === "string" ? code : "error",
          nextAttemptInMs: null,
        });
      }
      throw error;
    }
  };
  return Object.defineProperty(refresher, "latest", { get: () => latest }) as TokenRefresher & TokenRefresherControls;
}
