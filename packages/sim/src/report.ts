/**
 * The `--report FILE` page: one self-contained HTML document (inline CSS and SVG, no
 * external assets) with a timeline per node: gateway lanes (up green, down red), the
 * number of routes programmed, ticks where ops were applied, and violations.
 */
import { compareAddresses, type IpAddr } from "@kroute/core";
import { counted } from "./counted.ts";
import type { NodeTimeline, Timeline } from "./timeline.ts";

const WIDTH = 960;
const LANE = 18;
const LABEL = 150;
const MAX_ROWS_PER_NODE = 400;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

interface Scale {
  x(seq: number): number;
}

function scaleFor(timeline: Timeline): Scale {
  const first = Number.isFinite(timeline.firstSeq) ? timeline.firstSeq : 0;
  const span = Math.max(1, timeline.lastSeq - first);
  return { x: (seq) => LABEL + ((seq - first) / span) * (WIDTH - LABEL - 10) };
}

function fmt(n: number): string {
  return n.toFixed(1);
}

function gatewayLanes(node: NodeTimeline, scale: Scale, lastSeq: number, top: number): string[] {
  const parts: string[] = [];
  let y = top;
  // In address order (10.0.0.2 before 10.0.0.10, IPv4 before IPv6), as the tables list them.
  const lanes = [...node.gateways].sort(([a], [b]) => compareAddresses(a as IpAddr, b as IpAddr));
  for (const [gateway, marks] of lanes) {
    parts.push(`<text x="4" y="${y + 12}" class="lbl">gw ${escapeHtml(gateway)}</text>`);
    marks.forEach((mark, i) => {
      const next = marks[i + 1];
      const x1 = scale.x(mark.seq);
      const x2 = scale.x(next?.seq ?? lastSeq);
      const title = `${mark.up ? "up" : "down"} from seq ${mark.seq} (${mark.at})`;
      parts.push(
        `<rect x="${fmt(x1)}" y="${y + 2}" width="${fmt(Math.max(1, x2 - x1))}" height="${LANE - 4}" class="${mark.up ? "up" : "down"}"><title>${escapeHtml(title)}</title></rect>`,
      );
    });
    y += LANE;
  }
  return parts;
}

function routeLane(node: NodeTimeline, scale: Scale, lastSeq: number, top: number): string[] {
  const height = LANE * 2;
  const max = Math.max(1, ...node.steps.map((s) => s.routes));
  const yOf = (routes: number): number => top + height - 2 - (routes / max) * (height - 4);
  let path = "";
  let previousY = yOf(0);
  for (const step of node.steps) {
    const x = scale.x(step.seq);
    const y = yOf(step.routes);
    path += path === "" ? `M${fmt(x)},${fmt(previousY)}` : "";
    path += ` H${fmt(x)} V${fmt(y)}`;
    previousY = y;
  }
  if (path !== "") path += ` H${fmt(scale.x(lastSeq))}`;
  const parts = [
    `<text x="4" y="${top + 14}" class="lbl">routes (max ${max})</text>`,
    `<path d="${path}" class="routes"/>`,
  ];
  const opsTop = top + height;
  parts.push(`<text x="4" y="${opsTop + 12}" class="lbl">ops / violations</text>`);
  for (const step of node.steps) {
    const x = fmt(scale.x(step.seq));
    if (step.ops.length > 0) {
      parts.push(
        `<line x1="${x}" x2="${x}" y1="${opsTop + 2}" y2="${opsTop + LANE - 2}" class="op"><title>seq ${step.seq}: ${step.ops.length} ops</title></line>`,
      );
    }
    if (step.violations.length > 0) {
      parts.push(
        `<circle cx="${x}" cy="${opsTop + LANE / 2}" r="4" class="violation"><title>${escapeHtml(step.violations.join("\n"))}</title></circle>`,
      );
    }
  }
  return parts;
}

function nodeSection(node: NodeTimeline, scale: Scale, lastSeq: number): string {
  const lanes = node.gateways.size;
  const height = lanes * LANE + LANE * 3 + 4;
  const svg = [
    `<svg viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img" aria-label="timeline of ${escapeHtml(node.node)}">`,
    ...gatewayLanes(node, scale, lastSeq, 0),
    ...routeLane(node, scale, lastSeq, lanes * LANE),
    "</svg>",
  ].join("");
  const interesting = node.steps.filter((s) => s.ops.length > 0 || s.violations.length > 0);
  const rows = interesting.slice(0, MAX_ROWS_PER_NODE).map((step) => {
    const ops = step.ops.map((op) => `<div>${escapeHtml(op)}</div>`).join("");
    const violations = step.violations.map((v) => `<div class="v">${escapeHtml(v)}</div>`).join("");
    return `<tr><td>${step.seq}</td><td>${escapeHtml(step.at)}</td><td>${step.routes}</td><td class="ops">${ops}${violations}</td></tr>`;
  });
  const more =
    interesting.length > MAX_ROWS_PER_NODE
      ? `<p>… ${interesting.length - MAX_ROWS_PER_NODE} more steps not shown.</p>`
      : "";
  const violationCount = node.steps.reduce((n, s) => n + s.violations.length, 0);
  return [
    `<section><h2>${escapeHtml(node.node)}${violationCount > 0 ? ` <span class="badge">${violationCount} violations</span>` : ""}</h2>`,
    svg,
    `<details${violationCount > 0 ? " open" : ""}><summary>${interesting.length} steps with ops or violations</summary>`,
    `<table><thead><tr><th>seq</th><th>at</th><th>routes</th><th>ops applied</th></tr></thead><tbody>${rows.join("")}</tbody></table>${more}</details>`,
    "</section>",
  ].join("\n");
}

const STYLE = `
body{font:14px system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:20px}h2{font-size:16px;margin-top:2em}
svg{background:#fafafa;border:1px solid #ddd;display:block}
.lbl{font:11px monospace;fill:#444}
.up{fill:#4caf50}.down{fill:#e53935}
.routes{fill:none;stroke:#1e88e5;stroke-width:1.5}
.op{stroke:#555;stroke-width:1}.violation{fill:#e53935}
table{border-collapse:collapse;font:12px monospace;margin-top:.5em}
td,th{border:1px solid #ddd;padding:2px 6px;vertical-align:top;text-align:left}
.v{color:#c62828;font-weight:bold}.badge{background:#e53935;color:#fff;border-radius:3px;padding:0 6px;font-size:12px}
`;

export function renderReport(title: string, timeline: Timeline): string {
  const scale = scaleFor(timeline);
  const sections = [...timeline.nodes.values()]
    .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0))
    .map((node) => nodeSection(node, scale, timeline.lastSeq));
  const first = Number.isFinite(timeline.firstSeq) ? timeline.firstSeq : 0;
  return [
    "<!doctype html>",
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>`,
    `<h1>${escapeHtml(title)}</h1>`,
    `<p>Events ${first} to ${timeline.lastSeq}; ${counted(timeline.nodes.size, "node")}. Gateway lanes: green up, red down. Ticks: ops applied. Red dots: invariant violations (hover for details).</p>`,
    ...sections,
    "</body></html>",
    "",
  ].join("\n");
}
