// Demo page: dev sign-in, POST /api/token, and AzureCommunicationTokenCredential refreshing proactively.
import { AzureCommunicationTokenCredential } from "@azure/communication-common";
import { setUpOperator } from "./operator";
import { problem } from "./problem";

interface DemoConfig {
  apiBase: string;
  issuerMintUrl: string | null;
  audience: string | null;
  scopes: string[];
  expiresInMinutes: number;
  functionKey: string | null;
}

interface TokenResponse {
  communicationUserId: string;
  token: string;
  expiresOn: string;
}

// What @azure/communication-common's AutoRefreshTokenCredential does (dist/browser/autoRefreshTokenCredential.js):
// it reads `exp` from the JWT, refreshes 10 minutes before it, or at half the remaining lifetime once inside
// those 10 minutes. Shown on the page only; the SDK schedules the refreshes itself.
const EXPIRING_SOON_MS = 10 * 60 * 1000;

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
let credential: AzureCommunicationTokenCredential | null = null;
let bearer = "";
let currentExpiry = 0;
let countdownTimer: ReturnType<typeof setInterval> | null = null;

async function loadConfig(): Promise<DemoConfig> {
  const response = await fetch("./config.json", { cache: "no-store" });
  const config: DemoConfig = response.ok
    ? await response.json()
    : { apiBase: "", issuerMintUrl: null, audience: null, scopes: ["voip"], expiresInMinutes: 60, functionKey: null };
  const query = new URLSearchParams(location.search);
  return {
    apiBase: query.get("apiBase") ?? config.apiBase ?? "",
    issuerMintUrl: query.get("mintUrl") ?? config.issuerMintUrl,
    audience: query.get("audience") ?? config.audience,
    scopes: query.get("scopes")?.split(",") ?? config.scopes,
    expiresInMinutes: Number(query.get("expiresInMinutes") ?? config.expiresInMinutes),
    functionKey: config.functionKey ?? null,
  };
}

async function signIn(config: DemoConfig, userId: string): Promise<string> {
  if (!config.issuerMintUrl) {
    throw new Error("No dev issuer configured: start with `make run`, or open this page with ?mintUrl=…");
  }
  const body: Record<string, unknown> = { sub: userId, oid: userId, name: userId, lifetime_seconds: 8 * 3600 };
  if (config.audience) body.aud = config.audience;
  const response = await fetch(config.issuerMintUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`Sign-in failed: ${await problem(response, "title")}`);
  return (await response.json()).access_token as string;
}

async function fetchToken(config: DemoConfig, signal?: AbortSignal): Promise<TokenResponse> {
  const response = await fetch(`${config.apiBase}/api/token`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${bearer}` },
    body: JSON.stringify({ scopes: config.scopes, expiresInMinutes: config.expiresInMinutes }),
    signal,
  });
  if (!response.ok) throw new Error(`POST /api/token failed: ${await problem(response, "title")}`);
  return (await response.json()) as TokenResponse;
}

function jwtExpiry(token: string): number {
  const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(atob(payload.padEnd(Math.ceil(payload.length / 4) * 4, "="))).exp * 1000;
}

function record(kind: "initial" | "refresh", token: TokenResponse): void {
  currentExpiry = jwtExpiry(token.token);
  const item = document.createElement("li");
  item.dataset.kind = kind;
  const label = kind === "initial" ? "Token issued at sign-in" : "Proactive refresh";
  item.textContent = `${new Date().toISOString()} — ${label}; expires ${new Date(currentExpiry).toISOString()}`;
  $("refreshes").append(item);
  $("acs-user-id").textContent = token.communicationUserId;
  $("expires-at").textContent = `${new Date(currentExpiry).toLocaleString()} (API: ${token.expiresOn})`;
  const untilWindow = currentExpiry - EXPIRING_SOON_MS - Date.now();
  const next = Date.now() + (untilWindow > 0 ? untilWindow : (currentExpiry - Date.now()) / 2);
  $("next-refresh").textContent = new Date(next).toLocaleTimeString();
  tick();
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

function signOut(): void {
  credential?.dispose();
  credential = null;
  bearer = "";
  if (countdownTimer) clearInterval(countdownTimer);
  $("session").hidden = true;
  $("refreshes").replaceChildren();
  $("sign-in").hidden = false;
}

async function start(config: DemoConfig, userId: string): Promise<void> {
  $("error").hidden = true;
  bearer = await signIn(config, userId);
  const first = await fetchToken(config);
  $("signed-in-as").textContent = userId;
  $("sign-in").hidden = true;
  $("session").hidden = false;
  record("initial", first);
  credential = new AzureCommunicationTokenCredential({
    token: first.token,
    refreshProactively: true,
    tokenRefresher: async (abortSignal) => {
      try {
        const next = await fetchToken(config, abortSignal as AbortSignal | undefined);
        record("refresh", next);
        return next.token;
      } catch (error) {
        showError(error);
        throw error;
      }
    },
  });
  countdownTimer = setInterval(tick, 1000);
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
    start(config, $<HTMLInputElement>("user-id").value.trim())
      .catch(showError)
      .finally(() => (button.disabled = false));
  });
  $("sign-out").addEventListener("click", signOut);
  setUpOperator(config, showError);
  document.body.dataset.ready = "true";
}

main().catch(showError);
