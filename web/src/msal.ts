// Sign-in with unmodified @azure/msal-browser (auth code + PKCE, redirect flow) against the authority in
// /demo/config.json: local_azure's issuer under `make run`, or Entra with the same four keys. The token
// client asks it for the service's access token on every attempt, from timers too, so it never starts an
// interaction itself: when MSAL needs the user, it throws SignInRequiredError and the page offers
// "Sign in again" (a redirect the user chose), never a popup.
import {
  type AccountInfo,
  InteractionRequiredAuthError,
  PublicClientApplication,
} from "@azure/msal-browser";
import { SignInRequiredError } from "../../clients/js/src/index";

/** The keys a SPA gives MSAL; devhost/demo.py's `msal` object. */
export interface MsalConfig {
  authority: string;
  knownAuthorities: string[];
  clientId: string;
  scope: string;
}

// Set just before logoutRedirect, read when the issuer sends the browser back: MSAL reports nothing then.
const SIGNED_OUT_FLAG = "acs-demo.msal-signed-out";

export class MsalSignIn {
  private constructor(
    private readonly app: PublicClientApplication,
    private readonly scope: string,
    /** The account signed in (from the redirect just handled, or MSAL's cache after a reload), if any. */
    readonly account: AccountInfo | null,
    /** True on the page load that follows our own logoutRedirect. */
    readonly justSignedOut: boolean,
  ) {}

  /** Builds the client and completes a redirect that brought the browser back here, if one did. */
  static async create(config: MsalConfig): Promise<MsalSignIn> {
    // The page's own URL without query or fragment: registered as is (Entra matches redirect URIs exactly).
    const redirectUri = location.origin + location.pathname;
    const app = new PublicClientApplication({
      auth: {
        clientId: config.clientId,
        authority: config.authority,
        knownAuthorities: config.knownAuthorities,
        redirectUri,
        postLogoutRedirectUri: redirectUri,
      },
      cache: { cacheLocation: "sessionStorage" },
    });
    await app.initialize();
    const result = await app.handleRedirectPromise();
    const accounts = app.getAllAccounts();
    const account = result?.account ?? app.getActiveAccount() ?? (accounts.length === 1 ? accounts[0] : null);
    if (account) app.setActiveAccount(account);
    const justSignedOut = sessionStorage.getItem(SIGNED_OUT_FLAG) !== null;
    sessionStorage.removeItem(SIGNED_OUT_FLAG);
    return new MsalSignIn(app, config.scope, account, justSignedOut && !account);
  }

  /** Navigates to the authority's sign-in page; the page comes back through create(). */
  signIn(): Promise<void> {
    return this.app.loginRedirect({ scopes: [this.scope] });
  }

  /** The token client's getAccessToken: MSAL's cache, else its refresh token; forceRefresh after a 401. */
  async accessToken({ forceRefresh }: { forceRefresh: boolean }): Promise<string> {
    const account = this.app.getActiveAccount();
    // 401: what the service answers a caller without a valid token; the client stops and waits for the user.
    if (!account) throw new SignInRequiredError(401, "nobody is signed in");
    try {
      return (await this.app.acquireTokenSilent({ scopes: [this.scope], account, forceRefresh })).accessToken;
    } catch (error) {
      if (error instanceof InteractionRequiredAuthError) {
        throw new SignInRequiredError(401, `the identity provider needs you to sign in again (${error.errorCode})`);
      }
      throw error;
    }
  }

  /** Ends the session at the authority (and MSAL's cache); the authority sends the browser back here. */
  signOut(): Promise<void> {
    sessionStorage.setItem(SIGNED_OUT_FLAG, "1");
    return this.app.logoutRedirect({ account: this.app.getActiveAccount() });
  }
}
