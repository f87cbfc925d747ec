// A SPA as a project would write it: unmodified @azure/msal-browser, signing in with the redirect flow
// against the configured authority, then calling the token service with the access token. The browser
// test drives it through `window.msalTest` and reads `window.msalState`.
import { PublicClientApplication, type AccountInfo, type AuthenticationResult } from "@azure/msal-browser";

type PageConfig = { clientId: string; authority: string; knownAuthority: string; scope: string; apiBase: string };

type Summary = {
  accessToken: string;
  idTokenClaims: Record<string, unknown>;
  homeAccountId: string;
  scopes: string[];
  fromCache: boolean;
  state: string | undefined;
};

const config = (await (await fetch("config.json")).json()) as PageConfig;
const redirectUri = new URL("./", window.location.href).href;
const msal = new PublicClientApplication({
  auth: {
    clientId: config.clientId,
    authority: config.authority,
    knownAuthorities: [config.knownAuthority],
    redirectUri,
    postLogoutRedirectUri: redirectUri,
  },
  cache: { cacheLocation: "sessionStorage" },
});

function summary(result: AuthenticationResult): Summary {
  return {
    accessToken: result.accessToken,
    idTokenClaims: result.idTokenClaims as Record<string, unknown>,
    homeAccountId: result.account.homeAccountId,
    scopes: result.scopes,
    fromCache: result.fromCache,
    state: result.state,
  };
}

function account(): AccountInfo {
  const accounts = msal.getAllAccounts();
  if (accounts.length !== 1) throw new Error(`expected one signed-in account, found ${accounts.length}`);
  return accounts[0];
}

const state: { ready: boolean; redirect: Summary | null; error: string | null; accounts: number } = {
  ready: false,
  redirect: null,
  error: null,
  accounts: 0,
};
(window as unknown as { msalState: typeof state }).msalState = state;

(window as unknown as { msalTest: unknown }).msalTest = {
  login: (): Promise<void> => msal.loginRedirect({ scopes: [config.scope], state: "page-state-1" }),
  silent: async (forceRefresh: boolean): Promise<Summary> =>
    summary(await msal.acquireTokenSilent({ scopes: [config.scope], account: account(), forceRefresh })),
  callApi: async (token: string): Promise<{ status: number; body: unknown }> => {
    const response = await fetch(`${config.apiBase}/api/token`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ scopes: ["voip"] }),
    });
    return { status: response.status, body: await response.json() };
  },
  logout: (): Promise<void> => msal.logoutRedirect({ account: account() }),
};

try {
  await msal.initialize();
  const result = await msal.handleRedirectPromise();
  state.redirect = result ? summary(result) : null;
} catch (error) {
  state.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
state.accounts = msal.getAllAccounts().length;
state.ready = true;
document.getElementById("status")!.textContent = JSON.stringify({ ...state, redirect: !!state.redirect });
