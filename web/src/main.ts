// Demo page: sign in with MSAL (or the dev shortcut: type a user id), then the token client (clients/js)
// fetches the ACS token and keeps AzureCommunicationTokenCredential refreshing proactively, through
// retries, outages and sleep.
import {
  createTokenCredential,
  SignInRequiredError,
  type TokenClientOptions,
  type TokenEvent,
  type TokenSession,
} from "../../clients/js/src/index";
import { type MsalConfig, MsalSignIn } from "./msal";
import { setUpOperator } from "./operator";
import { problem } from "./problem";

interface DemoConfig {
  apiBase: string;
  issuerMintUrl: string | null;
  audience: string | null;
  scopes: string[];
  expiresInMinutes: number;
  functionKey: string | null;
  /** null: no authority configured, the MSAL button stays hidden. */
  msal: MsalConfig | null;
}

// What @azure/communication-common's AutoRefreshTokenCredential does (dist/browser/autoRefreshTokenCredential.js):
// it reads `exp` from the JWT, refreshes 10 minutes before it, or at half the remaining lifetime once inside
// those 10 minutes. Shown on the page only; the SDK schedules the refreshes itself.
const EXPIRING_SOON_MS = 10 * 60 * 1000;

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
let credential: TokenSession | null = null;
let bearer = "";
let currentExpiry = 0;
let countdownTimer: ReturnType<typeof setInterval> | null = null;
let msal: MsalSignIn | null = null;
/** How the current session signed in: sign-out and "sign in again" differ. */
let method: "msal" | "dev" | null = null;

async function loadConfig(): Promise<DemoConfig> {
  const response = await fetch("./config.json", { cache: "no-store" });
  const config: DemoConfig = response.ok
    ? await response.json()
    : { apiBase: "", issuerMintUrl: null, audience: null, scopes: ["voip"], expiresInMinutes: 60, functionKey: null, msal: null };
  const query = new URLSearchParams(location.search);
  return {
    apiBase: query.get("apiBase") ?? config.apiBase ?? "",
    issuerMintUrl: query.get("mintUrl") ?? config.issuerMintUrl,
    audience: query.get("audience") ?? config.audience,
    scopes: query.get("scopes")?.split(",") ?? config.scopes,
    expiresInMinutes: Number(query.get("expiresInMinutes") ?? config.expiresInMinutes),
    functionKey: config.functionKey ?? null,
    msal: config.msal ?? null,
  };
}

// The dev issuer stands in for MSAL's acquireTokenSilent: a new Entra token whenever the client asks.
// ?entraLifetime=<seconds> mints short-lived ones (the browser tests let one expire to see the 401 path).
async function signIn(config: DemoConfig, userId: string): Promise<string> {
  if (!config.issuerMintUrl) {
    throw new Error("No dev issuer configured: start with `make run`, or open this page with ?mintUrl=…");
  }
  const lifetime = Number(new URLSearchParams(location.search).get("entraLifetime") ?? 8 * 3600);
  const body: Record<string, unknown> = { sub: userId, oid: userId, name: userId, lifetime_seconds: lifetime };
  if (config.audience) body.aud = config.audience;
  const response = await fetch(config.issuerMintUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`Sign-in failed: ${await problem(response, "title")}`);
  return (await response.json()).access_token as string;
}

function record(kind: "initial" | "refresh", reason: string, communicationUserId: string, expiresOnTimestamp: number): void {
  currentExpiry = expiresOnTimestamp;
  const item = document.createElement("li");
  item.dataset.kind = kind;
  item.dataset.reason = reason;
  const label = kind === "initial" ? "Token issued at sign-in" : `Refreshed (${reason})`;
  item.textContent = `${new Date().toISOString()} — ${label}; expires ${new Date(currentExpiry).toISOString()}`;
  $("refreshes").append(item);
  $("acs-user-id").textContent = communicationUserId;
  $("expires-at").textContent = new Date(currentExpiry).toLocaleString();
  const untilWindow = currentExpiry - EXPIRING_SOON_MS - Date.now();
  const next = Date.now() + (untilWindow > 0 ? untilWindow : (currentExpiry - Date.now()) / 2);
  $("next-refresh").textContent = new Date(next).toLocaleTimeString();
  tick();
}

const STATUS_TEXT = {
  connected: "Connected",
  reconnecting: "Reconnecting…",
  failed: "Refresh failed; trying again",
  "sign-in-required": "Sign in again",
} as const;

function showStatus(state: keyof typeof STATUS_TEXT, detail = ""): void {
  $("token-status").dataset.state = state;
  $("token-status").textContent = STATUS_TEXT[state] + (detail ? ` — ${detail}` : "");
}

/** The client's events as the UI shows them: the history, a status line, and a log of retries. */
function onTokenEvent(event: TokenEvent): void {
  const item = document.createElement("li");
  item.dataset.event = event.type;
  const time = new Date().toISOString();
  if (event.type === "refreshed") {
    record(event.reason === "initial" ? "initial" : "refresh", event.reason, event.communicationUserId, event.expiresOnTimestamp);
    showStatus("connected");
    item.dataset.reason = event.reason;
    item.textContent = `${time} — refreshed (${event.reason}, ${event.attempts} attempt${event.attempts === 1 ? "" : "s"})`;
  } else if (event.type === "retrying") {
    item.dataset.code = event.code;
    item.dataset.waitMs = String(event.waitMs);
    const wait = `${(event.waitMs / 1000).toFixed(1)} s`;
    showStatus("reconnecting", `${event.code}, next attempt in ${wait}`);
    item.textContent = `${time} — attempt ${event.attempt} failed (${event.status ?? "no response"} ${event.code}); retrying in ${wait}`;
  } else {
    item.dataset.code = event.code;
    const next = event.nextAttemptInMs;
    if (next === null) showStatus("sign-in-required", event.error.message);
    else showStatus("failed", `${event.code}, next attempt in ${(next / 1000).toFixed(1)} s`);
    // Only a redirect the user asks for: a refresh from a timer must never navigate away or open a popup.
    if (next === null && event.error instanceof SignInRequiredError && method === "msal") $("sign-in-again").hidden = false;
    item.textContent = `${time} — refresh failed (${event.code})${next === null ? "" : `; next attempt in ${(next / 1000).toFixed(1)} s`}`;
  }
  $("token-events").append(item);
}

function tick(): void {
  const left = Math.max(0, Math.round((currentExpiry - Date.now()) / 1000));
  const hours = Math.floor(left / 3600);
  const minutes = Math.floor((left % 3600) / 60);
  const seconds = left % 60;
  const pad = (n: number) => String(n).padStart(2, "0");
  $("countdown").textContent = `${hours ? `${hours}:` : ""}${pad(minutes)}:${pad(seconds)}`;
  $("countdown").dataset.seconds = String(left);
}

function showError(error: unknown): void {
  $("error").hidden = false;
  $("error").textContent = error instanceof Error ? error.message : String(error);
}

/** Ends the token session; an MSAL session also ends at the authority (the browser leaves, then returns). */
function signOut(): void {
  credential?.dispose();
  credential = null;
  bearer = "";
  if (countdownTimer) clearInterval(countdownTimer);
  if (method === "msal" && msal) {
    msal.signOut().catch(showError);
    return;
  }
  method = null;
  $("session").hidden = true;
  $("refreshes").replaceChildren();
  $("token-events").replaceChildren();
  $("sign-in").hidden = false;
}

async function startSession(
  config: DemoConfig,
  how: "msal" | "dev",
  signedInAs: string,
  getAccessToken: TokenClientOptions["getAccessToken"],
): Promise<void> {
  $("error").hidden = true;
  credential = await createTokenCredential({
    serviceUrl: config.apiBase || location.origin,
    getAccessToken,
    scopes: config.scopes,
    expiresInMinutes: config.expiresInMinutes,
    onEvent: onTokenEvent,
  });
  method = how;
  // For the browser console (and the browser tests): what a Chat or Calling client would be given.
  (window as unknown as { tokenCredential: TokenSession }).tokenCredential = credential;
  $("signed-in-as").textContent = signedInAs;
  $("signed-in-as").dataset.method = how;
  $("sign-in-again").hidden = true;
  $("sign-in").hidden = true;
  $("session").hidden = false;
  countdownTimer = setInterval(tick, 1000);
}

/** The dev shortcut: the local issuer mints a token for the typed user id, no sign-in page. */
async function startDev(config: DemoConfig, userId: string): Promise<void> {
  bearer = await signIn(config, userId);
  // A fresh token for every attempt is the client's rule; the demo re-mints only when asked to force
  // (after a 401), as MSAL's silent call returns its cached token until then.
  await startSession(config, "dev", userId, async ({ forceRefresh }) => {
    if (forceRefresh || !bearer) bearer = await signIn(config, userId);
    return bearer;
  });
}

/** MSAL: create the client, finish a redirect back here, and start the token session when signed in. */
async function setUpMsal(config: DemoConfig, msalConfig: MsalConfig): Promise<void> {
  $("msal-sign-in").hidden = false;
  msal = await MsalSignIn.create(msalConfig);
  const signIn = msal.signIn.bind(msal);
  $("msal-sign-in-button").addEventListener("click", () => signIn().catch(showError));
  $("sign-in-again").addEventListener("click", () => {
    credential?.dispose();
    signIn().catch(showError);
  });
  const status = $("msal-status");
  status.dataset.state = msal.account ? "signed-in" : msal.justSignedOut ? "signed-out" : "ready";
  status.textContent = msal.justSignedOut ? "Signed out." : `Authority: ${msalConfig.authority}`;
  const account = msal.account;
  if (account) {
    const session = msal;
    await startSession(config, "msal", account.name || account.username, (options) => session.accessToken(options));
  }
}

async function main(): Promise<void> {
  const config = await loadConfig();
  const status = $("config-status");
  status.textContent = config.issuerMintUrl
    ? `Dev issuer: ${config.issuerMintUrl} · tokens of ${config.expiresInMinutes} min · scopes ${config.scopes.join(", ")}`
    : "No dev issuer configured (start with `make run`, or add ?mintUrl=… to the URL).";
  const button = $<HTMLButtonElement>("sign-in-button");
  button.disabled = false;
  const user = new URLSearchParams(location.search).get("user");
  if (user) $<HTMLInputElement>("user-id").value = user;
  $("sign-in").addEventListener("submit", (event) => {
    event.preventDefault();
    button.disabled = true;
    startDev(config, $<HTMLInputElement>("user-id").value.trim())
      .catch(showError)
      .finally(() => (button.disabled = false));
  });
  $("sign-out").addEventListener("click", signOut);
  $("refresh-now").addEventListener("click", () => credential?.refreshNow("manual").catch(showError));
  setUpOperator(config, showError);
  if (config.msal) await setUpMsal(config, config.msal).catch(showError);
  document.body.dataset.ready = "true";
}

main().catch(showError);
