// Operator tab: the views of the Azure workbook (infra/monitoring/workbook.json, same names), drawn as bar
// charts from this worker's GET /api/metrics, so an operator can see them before deploying.

export interface MetricPoint {
  attributes: Record<string, string | number>;
  value?: number;
  count?: number;
  sum?: number;
  max?: number;
}

export interface MetricsSnapshot {
  metrics: { name: string; unit: string; points: MetricPoint[] }[];
}

interface View {
  id: string; // the workbook item's name
  title: string;
  metric: string;
  by: string[];
  measure: "sum" | "average";
}

export const VIEWS: View[] = [
  { id: "tokens", title: "Tokens issued", metric: "acs_token_service.tokens.issued", by: ["function"], measure: "sum" },
  { id: "acs_calls", title: "ACS calls by outcome", metric: "acs_token_service.acs.calls", by: ["operation", "outcome"], measure: "sum" },
  { id: "acs_latency", title: "ACS latency by outcome (average ms)", metric: "acs_token_service.acs.duration", by: ["outcome"], measure: "average" },
  { id: "rate_limited", title: "Requests refused by the per-user limit", metric: "acs_token_service.http.rate_limited", by: ["function"], measure: "sum" },
  { id: "cleanup_items", title: "Cleanup items by result", metric: "acs_token_service.cleanup.run.items", by: ["result"], measure: "sum" },
];

const SVG = "http://www.w3.org/2000/svg";
const BAR_HEIGHT = 22;
const LABEL_WIDTH = 190;
const BAR_WIDTH = 260;

/** label -> value for one view: points grouped by its attributes; sums added, averages weighted by count. */
export function aggregate(snapshot: MetricsSnapshot, view: View): [string, number][] {
  const totals = new Map<string, { sum: number; count: number }>();
  for (const metric of snapshot.metrics.filter((m) => m.name === view.metric)) {
    for (const point of metric.points) {
      const label = view.by.map((key) => String(point.attributes[key] ?? "—")).join(" · ");
      const entry = totals.get(label) ?? { sum: 0, count: 0 };
      entry.sum += point.sum ?? point.value ?? 0;
      entry.count += point.count ?? 1;
      totals.set(label, entry);
    }
  }
  return [...totals.entries()]
    .map(([label, { sum, count }]): [string, number] => [label, view.measure === "average" ? sum / count : sum])
    .sort((a, b) => b[1] - a[1]);
}

function svgElement<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Record<string, string | number>): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  return element;
}

function chart(view: View, rows: [string, number][]): HTMLElement {
  const figure = document.createElement("figure");
  figure.className = "chart";
  figure.dataset.view = view.id;
  figure.dataset.metric = view.metric;
  const caption = document.createElement("figcaption");
  caption.textContent = view.title;
  figure.append(caption);
  if (rows.length === 0) {
    const empty = document.createElement("p");
    empty.className = "muted";
    empty.textContent = "No data yet on this worker.";
    figure.dataset.empty = "true";
    figure.append(empty);
    return figure;
  }
  const largest = Math.max(...rows.map(([, value]) => value)) || 1;
  const svg = svgElement("svg", { role: "img", width: LABEL_WIDTH + BAR_WIDTH + 70, height: rows.length * BAR_HEIGHT + 4 });
  svg.setAttribute("aria-label", view.title);
  rows.forEach(([label, value], index) => {
    const y = index * BAR_HEIGHT + 2;
    const shown = Number.isInteger(value) ? String(value) : value.toFixed(1);
    const bar = svgElement("g", { class: "bar" });
    bar.dataset.label = label;
    bar.dataset.value = String(value);
    const title = svgElement("title", {});
    title.textContent = `${label}: ${shown}`;
    const name = svgElement("text", { x: 0, y: y + 15 });
    name.textContent = label;
    const rect = svgElement("rect", { x: LABEL_WIDTH, y, height: BAR_HEIGHT - 6, width: Math.max(2, (value / largest) * BAR_WIDTH) });
    const amount = svgElement("text", { x: LABEL_WIDTH + Math.max(2, (value / largest) * BAR_WIDTH) + 6, y: y + 15 });
    amount.textContent = shown;
    bar.append(title, name, rect, amount);
    svg.append(bar);
  });
  figure.append(svg);
  return figure;
}

export function renderMetrics(container: HTMLElement, snapshot: MetricsSnapshot): void {
  container.replaceChildren(...VIEWS.map((view) => chart(view, aggregate(snapshot, view))));
  container.dataset.loaded = String(Date.now());
}
