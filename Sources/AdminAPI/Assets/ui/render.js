// meshd dashboard, rendering: DOM helpers and what the overview and the history look like.
//
// Every value from the API reaches the page through textContent or setAttribute, never parsed
// as markup. Loaded before app.js, which fetches the data and calls these.
"use strict";

const SVG = "http://www.w3.org/2000/svg";

// ---------------------------------------------------------------- DOM helpers

/** An element with attributes and children (strings become text nodes). */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  return fill(node, attrs, children);
}

/** An SVG element, same rules as el(). */
function svg(tag, attrs, ...children) {
  return fill(document.createElementNS(SVG, tag), attrs, children);
}

function fill(node, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
  }
  return node;
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- rendering: overview

function percent(weight) { return weight + "%"; }

/** The label of a subset's edge: its weight, per route when the VirtualService has several. */
function weightLabel(weights) {
  if (!weights.length) return "no VirtualService";
  if (weights.length === 1) return percent(weights[0].weight);
  return weights.map((w) => w.route + " " + percent(w.weight)).join(" · ");
}

/** Route targets that are not one of the host's own subsets (another host, or the whole host). */
function otherTargets(service) {
  const own = new Set((service.subsets || []).map((s) => s.name));
  const targets = new Map();
  for (const route of service.routes || []) {
    for (const d of route.destinations || []) {
      if (d.host === service.host && d.subset && own.has(d.subset)) continue;
      const name = (d.host === service.host ? "(all of host)" : d.host) + (d.subset ? " / " + d.subset : "");
      if (!targets.has(name)) targets.set(name, []);
      targets.get(name).push({ route: route.route, weight: d.weight });
    }
  }
  return [...targets.entries()].map(([name, weights]) => ({ name, weights }));
}

function subsetHealth(service, subset) {
  const members = (service.workloads || []).filter((w) => (w.subsets || []).includes(subset));
  if (!members.length) return "empty";
  const healthy = members.filter((w) => w.health === "HEALTHY").length;
  return healthy === members.length ? "healthy" : healthy === 0 ? "unhealthy" : "degraded";
}

/** The observed-traffic reading of one host, from the source chosen (auto: the first with rows). */
function observedFor(traffic, host, chosen) {
  if (!traffic || !traffic.services) return null;
  const service = traffic.services.find((s) => s.host === host);
  if (!service) return null;
  const order = chosen && chosen !== "auto" ? [chosen] : ["client", "envoy", "destination"];
  for (const source of order) {
    const reading = (service.sources || {})[source];
    if (reading && (reading.rows || []).length) return { source, rows: reading.rows };
  }
  return { source: order[0], rows: [] };
}

function fixed(value, places) { return value === null || value === undefined ? "–" : Number(value).toFixed(places); }

/** The second line of an edge: what the subset was seen to take, beside its configured weight. */
function observedLabel(row) {
  if (!row) return "observed: no traffic";
  return "observed " + fixed(row.sharePercent, 1) + "% · " + fixed(row.requestsPerSecond, 1) + " rps · "
    + fixed(row.errorPercent, 1) + "% err · p99 " + (row.p99Ms === null || row.p99Ms === undefined ? "–" : fixed(row.p99Ms, row.p99Ms < 10 ? 2 : 0) + " ms");
}

function renderGraph(services, traffic, chosenSource) {
  const graph = clear($("graph"));
  const observing = !!(traffic && traffic.services);
  const rowGap = 18, nodeHeight = observing ? 44 : 30, hostWidth = 330, childX = 520, childWidth = 380, width = childX + childWidth + 10;
  let y = 10;
  for (const service of services) {
    const children = (service.subsets || []).map((s) => ({ name: s.name, label: weightLabel(s.weights || []), cls: "subset " + subsetHealth(service, s.name), subset: s.name }))
      .concat(otherTargets(service).map((t) => ({ name: t.name, label: weightLabel(t.weights), cls: "target" })));
    const rows = Math.max(1, children.length);
    const height = rows * (nodeHeight + 8) - 8;
    const group = svg("g", { class: "service", "data-host": service.host });
    const hostY = y + height / 2 - nodeHeight / 2;
    group.append(svg("title", {}, service.host + " (" + service.namespace + ")"));
    group.append(svg("rect", { x: 10, y: hostY, width: hostWidth, height: nodeHeight, rx: 6, class: "host" }));
    group.append(svg("text", { x: 20, y: hostY + 20, class: "host-label" }, shorten(shortHost(service.host), 44)));
    const observed = observing ? observedFor(traffic, service.host, chosenSource) : null;
    children.forEach((child, index) => {
      const cy = y + index * (nodeHeight + 8);
      const edge = svg("g", { class: "edge " + child.cls, "data-host": service.host, "data-subset": child.subset || null, "data-target": child.subset ? null : child.name });
      edge.append(svg("path", { d: "M" + (10 + hostWidth) + "," + (hostY + nodeHeight / 2) + " C" + (childX - 90) + "," + (hostY + nodeHeight / 2) + " " + (childX - 40) + "," + (cy + nodeHeight / 2) + " " + childX + "," + (cy + nodeHeight / 2), class: "link" }));
      edge.append(svg("rect", { x: childX, y: cy, width: childWidth, height: nodeHeight, rx: 6, class: "child" }));
      edge.append(svg("text", { x: childX + 10, y: cy + 20, class: "child-label" }, shorten(child.name, 22)));
      edge.append(svg("text", { x: childX + childWidth - 10, y: cy + 20, class: "weight", "text-anchor": "end" }, child.label));
      if (observed) {
        // A route to the whole host is the cluster without a subset ("" in the traffic answer).
        const key = child.subset !== undefined ? child.subset : child.name === "(all of host)" ? "" : null;
        const row = key === null ? null : observed.rows.find((r) => r.subset === key);
        edge.append(svg("text", {
          x: childX + 10, y: cy + 36, class: "observed" + (row && row.errorPercent > 1 ? " failing" : ""), "data-source": observed.source,
          "data-share": row ? row.sharePercent : null, "data-rps": row ? row.requestsPerSecond : null,
          "data-errors": row ? row.errorPercent : null, "data-p99": row ? row.p99Ms : null,
        }, observed.source + " " + observedLabel(row)));
      }
      group.append(edge);
    });
    if (!children.length) {
      group.append(svg("text", { x: childX, y: hostY + 20, class: "muted" }, "no subsets, no VirtualService"));
    }
    graph.append(group);
    y += height + rowGap;
  }
  if (!services.length) graph.append(svg("text", { x: 10, y: 30, class: "muted" }, "no services yet"));
  graph.setAttribute("viewBox", "0 0 " + width + " " + Math.max(y, 50));
  graph.setAttribute("height", String(Math.max(y, 50)));
}

/** `reviews.default.svc.cluster.local` → `reviews.default` (the node's title keeps the full name). */
function shortHost(host) {
  return host.endsWith(".svc.cluster.local") ? host.slice(0, -".svc.cluster.local".length) : host;
}

function shorten(text, max) {
  return text.length <= max ? text : text.slice(0, max - 1) + "…";
}

function labels(map) {
  return Object.keys(map || {}).sort().map((k) => el("span", { class: "label" }, k + "=" + map[k]));
}

function renderServices(services) {
  const root = clear($("services"));
  if (!services.length) root.append(el("p", { class: "muted" }, "no services yet"));
  for (const service of services) {
    const ports = (service.ports || []).map((p) => p.number + "/" + (p.protocol || "?") + (p.name ? " (" + p.name + ")" : "")).join(", ");
    const routing = [
      (service.gatewayRoutes || []).length ? service.gatewayRoutes.join(", ")
        : service.virtualService ? "VirtualService " + service.virtualService : "no VirtualService",
      service.destinationRule ? "DestinationRule " + service.destinationRule : "no DestinationRule",
    ].join(" · ");
    const rows = (service.workloads || []).map((w) => el("tr", { "data-workload": w.name, class: "health-" + String(w.health).toLowerCase() },
      el("td", {}, w.name), el("td", {}, w.address), el("td", {}, labels(w.labels)),
      el("td", {}, (w.subsets || []).join(", ") || "–"), el("td", { class: "health" }, w.health)));
    const weights = (service.subsets || []).map((s) => el("li", { "data-subset": s.name },
      el("strong", {}, s.name), " ", labels(s.labels), " → ", el("span", { class: "weight" }, weightLabel(s.weights || []))));
    root.append(el("article", { class: "service", "data-host": service.host },
      el("h3", {}, service.host), el("p", { class: "meta" }, "namespace " + service.namespace + " · ports " + ports + " · " + routing),
      weights.length ? el("ul", { class: "subsets" }, weights) : null,
      el("table", { class: "workloads" },
        el("thead", {}, el("tr", {}, el("th", {}, "Workload"), el("th", {}, "Address"), el("th", {}, "Labels"), el("th", {}, "Subsets"), el("th", {}, "Health"))),
        el("tbody", {}, rows.length ? rows : el("tr", {}, el("td", { colspan: 5, class: "muted" }, "no workloads"))))));
  }
}

function renderProxies(proxies) {
  const body = clear($("proxies").tBodies[0]);
  for (const proxy of proxies) {
    const types = Object.keys(proxy.types || {}).sort().map((type) => {
      const status = proxy.types[type].status;
      return el("span", { class: "sync " + status.toLowerCase().replace(/ /g, "-"), "data-type": type }, type + " " + status);
    });
    const nacks = (proxy.nacks || []).map((n) => el("div", { class: "nack" }, n.type + ": " + n.message));
    body.append(el("tr", { "data-proxy": proxy.proxyID },
      el("td", { class: "node-id" }, proxy.proxyID), el("td", {}, String(proxy.kind || "")), el("td", {}, String(proxy.namespace || "")),
      el("td", {}, String(proxy.replica || "")), el("td", {}, types), el("td", {}, nacks.length ? nacks : "–")));
  }
  if (!proxies.length) body.append(el("tr", {}, el("td", { colspan: 6, class: "muted" }, "no proxies connected")));
}

// ---------------------------------------------------------------- rendering: history

function renderHistory(history) {
  const body = clear($("history").tBodies[0]);
  const items = history.items || [];
  const newest = items.length ? items[0].revision : null;
  for (const item of items) {
    const changes = (item.changes || []).map((c) => el("div", {}, c.action + " " + c.kind + " " + c.namespace + "/" + c.name));
    const operation = item.operation + (item.rolledBackTo !== undefined && item.rolledBackTo !== null ? " to " + item.rolledBackTo : "");
    const diff = el("button", { type: "button", class: "diff-button" }, "Diff");
    diff.addEventListener("click", () => showDiff(item.revision));
    const rollback = el("button", { type: "button", class: "rollback-button", disabled: item.revision === newest ? "" : null,
      title: item.revision === newest ? "this is the current configuration" : "restore the configuration as it was right after revision " + item.revision },
    "Roll back to here");
    rollback.addEventListener("click", () => rollbackTo(item.revision));
    if (item.reason) changes.push(el("div", { class: "reason" }, item.reason));
    body.append(el("tr", { "data-revision": item.revision },
      el("td", {}, String(item.revision)), el("td", {}, item.time || ""), el("td", {}, item.actor || ""),
      el("td", {}, operation), el("td", {}, changes), el("td", { class: "actions" }, diff, rollback)));
  }
  if (!items.length) body.append(el("tr", {}, el("td", { colspan: 6, class: "muted" }, "no history")));
}

function renderHistoryMissing() {
  clear($("history").tBodies[0]).append(el("tr", {}, el("td", { colspan: 6, class: "muted" }, "this meshd keeps no history (GET /api/v1/history answered 404)")));
}

// ---------------------------------------------------------------- rendering: canaries

/** One row per canary: phase, step, weight, its decisions (newest first) and the operations its phase allows. */
function renderCanaries(canaries, operate) {
  const body = clear($("canaries").tBodies[0]);
  for (const canary of canaries) {
    const spec = canary.spec || {};
    const status = canary.status || {};
    const name = canary.metadata.namespace + "/" + canary.metadata.name;
    const phase = status.phase || "Pending";
    const steps = (spec.steps || []).length;
    const decisions = (status.decisions || []).slice().reverse().map((d) =>
      el("div", { class: "decision", "data-decision": d.decision }, d.time + " " + d.decision + " " + d.weight + "%: " + d.reason));
    const actions = [];
    const active = phase === "Progressing" || phase === "Paused";
    for (const operation of ["resume", "promote", "abort"]) {
      if (!active || (operation === "resume" && phase !== "Paused")) continue;
      const button = el("button", { type: "button", class: operation + "-button" }, operation[0].toUpperCase() + operation.slice(1));
      button.addEventListener("click", () => operate(canary.metadata.namespace, canary.metadata.name, operation));
      actions.push(button);
    }
    body.append(el("tr", { "data-canary": name, "data-phase": phase },
      el("td", {}, name), el("td", {}, String(spec.host || "")), el("td", {}, (spec.from || "") + " → " + (spec.to || "")),
      el("td", { class: "phase " + phase.toLowerCase() }, phase), el("td", {}, status.step === undefined ? "–" : (status.step + 1) + "/" + steps),
      el("td", { class: "canary-weight" }, status.weight === undefined ? "–" : percent(status.weight)),
      el("td", { class: "decisions" }, decisions.length ? decisions : (status.message || "waiting for meshd to start it")),
      el("td", { class: "actions" }, actions)));
  }
  if (!canaries.length) body.append(el("tr", {}, el("td", { colspan: 8, class: "muted" }, "no canaries")));
}
