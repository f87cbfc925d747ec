// Operator tab: sign in as an admin through the dev issuer, list identities with filters and paging,
// preview the next cleanup run, and chart this worker's metrics (the Azure workbook's views). Admin routes need the admin role AND a function key (the devhost's
// local-only key, from /demo/config.json).
import { type MetricsSnapshot, renderMetrics } from "./metrics";
import { problem } from "./problem";

export interface OperatorConfig {
  apiBase: string;
  issuerMintUrl: string | null;
  audience: string | null;
  functionKey: string | null;
}

interface IdentityRecord {
  communicationUserId: string;
  state: string;
  owner: string | null;
  createdAt: string;
  lastTokenIssuedAt: string | null;
}

const ADMIN_ROLE = "TokenService.Admin";
const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

let adminBearer = "";
let continuation: string | null = null;
let pageNumber = 0;

async function adminSignIn(config: OperatorConfig, adminId: string): Promise<string> {
  if (!config.issuerMintUrl) throw new Error("No dev issuer configured: start with `make run`.");
  const body: Record<string, unknown> = { sub: adminId, oid: adminId, roles: [ADMIN_ROLE], lifetime_seconds: 8 * 3600 };
  if (config.audience) body.aud = config.audience;
  const response = await fetch(config.issuerMintUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`Admin sign-in failed: ${await problem(response, "code")}`);
  return (await response.json()).access_token as string;
}

async function adminGet(config: OperatorConfig, path: string): Promise<unknown> {
  const headers: Record<string, string> = { Authorization: `Bearer ${adminBearer}` };
  if (config.functionKey) headers["x-functions-key"] = config.functionKey;
  const response = await fetch(`${config.apiBase}/api/${path}`, { headers });
  if (!response.ok) throw new Error(`GET /api/${path.split("?")[0]} failed: ${await problem(response, "code")}`);
  return response.json();
}

function filterQuery(): URLSearchParams {
  const query = new URLSearchParams();
  const state = $<HTMLSelectElement>("filter-state").value;
  const owner = $<HTMLInputElement>("filter-owner").value.trim();
  const before = $<HTMLInputElement>("filter-activity-before").value;
  const createdAfter = $<HTMLInputElement>("filter-created-after").value;
  if (state) query.set("state", state);
  if (owner) query.set("owner", owner);
  if (before) query.set("lastActivityBefore", `${before}T00:00:00Z`);
  if (createdAfter) query.set("createdAfter", `${createdAfter}T00:00:00Z`);
  query.set("pageSize", $<HTMLInputElement>("filter-page-size").value || "10");
  return query;
}

function cell(text: string | null): HTMLTableCellElement {
  const td = document.createElement("td");
  td.textContent = text ?? "—";
  return td;
}

async function listPage(config: OperatorConfig, next: boolean): Promise<void> {
  const query = filterQuery();
  if (next && continuation) query.set("continuation", continuation);
  const page = (await adminGet(config, `identities?${query}`)) as { items: IdentityRecord[]; continuation: string | null };
  pageNumber = next ? pageNumber + 1 : 1;
  continuation = page.continuation;
  const rows = page.items.map((item) => {
    const tr = document.createElement("tr");
    tr.dataset.id = item.communicationUserId;
    tr.append(cell(item.communicationUserId), cell(item.state), cell(item.owner), cell(item.createdAt), cell(item.lastTokenIssuedAt));
    return tr;
  });
  $("identities").querySelector("tbody")!.replaceChildren(...rows);
  $("page-info").textContent = `Page ${pageNumber}: ${page.items.length} identities${continuation ? "; more follow" : ""}`;
  $("page-info").dataset.page = String(pageNumber);
  $<HTMLButtonElement>("next-page").disabled = !continuation;
}

async function preview(config: OperatorConfig): Promise<void> {
  const body = (await adminGet(config, "cleanup/preview")) as {
    staleCount: number;
    wouldTake: number;
    pendingDeletions: number;
    cutoff: string;
    dryRun: boolean;
    candidates: { communicationUserId: string; lastActivity: string }[];
  };
  $("preview-summary").textContent =
    `${body.staleCount} stale (last activity before ${body.cutoff}); the next run would take ${body.wouldTake}` +
    `${body.pendingDeletions ? ` incl. ${body.pendingDeletions} unfinished deletions` : ""}${body.dryRun ? " (dry run)" : ""}.`;
  $("preview-summary").dataset.stale = String(body.staleCount);
  $("preview-candidates").replaceChildren(
    ...body.candidates.map((candidate) => {
      const li = document.createElement("li");
      li.textContent = `${candidate.communicationUserId} — last activity ${candidate.lastActivity}`;
      return li;
    }),
  );
}

async function showMetrics(config: OperatorConfig): Promise<void> {
  renderMetrics($("metrics"), (await adminGet(config, "metrics")) as MetricsSnapshot);
}

export function setUpOperator(config: OperatorConfig, showError: (error: unknown) => void): void {
  const select = (operator: boolean) => {
    $("user-view").hidden = operator;
    $("operator-view").hidden = !operator;
    $("tab-user").setAttribute("aria-selected", String(!operator));
    $("tab-operator").setAttribute("aria-selected", String(operator));
  };
  $("tab-user").addEventListener("click", () => select(false));
  $("tab-operator").addEventListener("click", () => select(true));
  $("admin-status").textContent = config.functionKey
    ? "Admin routes are called with the devhost's local function key."
    : "No function key in /demo/config.json: admin routes will answer 401 unless the host skips keys.";
  $("admin-sign-in").addEventListener("submit", (event) => {
    event.preventDefault();
    adminSignIn(config, $<HTMLInputElement>("admin-id").value.trim())
      .then(async (token) => {
        adminBearer = token;
        $("admin-sign-in").hidden = true;
        $("operator").hidden = false;
        await listPage(config, false);
        await showMetrics(config);
      })
      .catch(showError);
  });
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    listPage(config, false).catch(showError);
  });
  $("next-page").addEventListener("click", () => listPage(config, true).catch(showError));
  $("preview-button").addEventListener("click", () => preview(config).catch(showError));
  $("metrics-button").addEventListener("click", () => showMetrics(config).catch(showError));
}
