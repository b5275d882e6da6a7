// meshd dashboard: plain JavaScript, no framework, nothing fetched but meshd's own API.
// This file: the token, API calls, live updates and actions; render.js draws the page.
//
// The admin token lives only in sessionStorage and goes out only as `Authorization: Bearer`
// to this origin.
"use strict";

const TOKEN_KEY = "meshd-admin-token";
const HISTORY_LIMIT = 25;

const TRAFFIC_INTERVAL_MS = 5000;
/** Without --prometheus-url there is nothing to poll for; ask again now and then (meshd may restart with it). */
const TRAFFIC_UNCONFIGURED_INTERVAL_MS = 60000;

const state = { overview: null, history: null, stream: null, refreshTimer: null, refreshing: false, again: false, traffic: null, trafficSource: "auto" };

// ---------------------------------------------------------------- token and API

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

function headers(extra) {
  const result = Object.assign({ Accept: "application/json" }, extra || {});
  if (token()) result.Authorization = "Bearer " + token();
  return result;
}

/** An API error as the page shows it: the call, the status and meshd's own message. */
class ApiError extends Error {
  constructor(call, status, body) {
    const error = (body && body.error) || {};
    const parts = [call + " → " + status + (error.code ? " " + error.code : "")];
    if (error.message) parts.push(error.message);
    if (error.resource) parts.push("(" + error.resource + (error.field ? " " + error.field : "") + ")");
    super(parts.join(": "));
    this.status = status;
    this.code = error.code || "";
  }
}

async function api(method, path, body) {
  const init = { method, headers: headers(), cache: "no-store", credentials: "omit" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const call = method + " " + path;
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(call, "network error", { error: { message: String(error.message || error) } });
  }
  let parsed = null;
  try { parsed = await response.json(); } catch (_) { parsed = null; }
  if (!response.ok) throw new ApiError(call, response.status, parsed);
  return parsed;
}

function showError(error) {
  const list = $("errors");
  const text = error instanceof ApiError ? error.message : String(error && error.message || error);
  // One line per distinct message: a refetch failing every second must not flood the page.
  for (const line of list.querySelectorAll(".error")) {
    if (line.dataset.text === text) { line.remove(); }
  }
  const hint = error && error.status === 401 ? " — type the admin token above (meshd writes it to DATA_DIR/admin-token)." : "";
  const close = el("button", { type: "button", class: "dismiss", "aria-label": "dismiss" }, "×");
  const line = el("div", { class: "error", "data-status": error && error.status, "data-text": text }, text + hint, close);
  close.addEventListener("click", () => line.remove());
  list.prepend(line);
  while (list.children.length > 5) list.lastChild.remove();
}

function clearErrors(prefix) {
  for (const line of $("errors").querySelectorAll(".error")) {
    if (!prefix || line.dataset.text.startsWith(prefix)) line.remove();
  }
}

function notice(text) {
  clear($("notice")).append(el("div", { class: "ok" }, text));
}

// ---------------------------------------------------------------- refresh

/** Re-reads the overview (and the history when `withHistory`), at most one fetch at a time. */
function scheduleRefresh(withHistory) {
  if (withHistory) state.historyDue = true;
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(refresh, 150);
}

async function refresh() {
  if (state.refreshing) { state.again = true; return; }
  state.refreshing = true;
  const withHistory = state.historyDue;
  state.historyDue = false;
  try {
    const overview = await api("GET", "/api/v1/overview");
    clearErrors("GET /api/v1/overview");
    state.overview = overview;
    renderOverview(overview);
  } catch (error) { showError(error); }
  if (withHistory || !state.canaries) {
    try {
      const canaries = await api("GET", "/api/v1/canaries");
      clearErrors("GET /api/v1/canaries");
      state.canaries = canaries.items || [];
      renderCanaries(state.canaries, operateCanary);
    } catch (error) { showError(error); }
  }
  if (withHistory || !state.history) {
    try {
      const history = await api("GET", "/api/v1/history?limit=" + HISTORY_LIMIT);
      clearErrors("GET /api/v1/history");
      state.history = history;
      renderHistory(history);
    } catch (error) {
      if (error.status === 404) renderHistoryMissing(); else showError(error);
    }
  }
  state.refreshing = false;
  if (state.again) { state.again = false; scheduleRefresh(false); }
}

// ---------------------------------------------------------------- live updates

/**
 * Follows /api/v1/events with fetch (EventSource cannot send the Authorization header) and
 * reconnects after a drop; each event schedules a refetch.
 */
async function follow() {
  let backoff = 1000;
  for (;;) {
    if (!token()) { setLive("off", "no token"); await tokenChanged(); continue; }
    const controller = new AbortController();
    state.stream = controller;
    try {
      const response = await fetch("/api/v1/events", {
        headers: headers({ Accept: "text/event-stream" }), cache: "no-store", credentials: "omit", signal: controller.signal,
      });
      if (!response.ok) {
        let body = null;
        try { body = await response.json(); } catch (_) { body = null; }
        throw new ApiError("GET /api/v1/events", response.status, body);
      }
      clearErrors("GET /api/v1/events");
      setLive("on", "live");
      backoff = 1000;
      scheduleRefresh(true);
      await readEvents(response.body);
    } catch (error) {
      if (!controller.signal.aborted) showError(error);
    }
    if (controller.signal.aborted) continue;  // the token changed: reconnect at once
    setLive("off", "reconnecting");
    await Promise.race([delay(backoff), tokenChanged()]);
    backoff = Math.min(backoff * 2, 15000);
  }
}

async function readEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      handleFrame(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
    }
  }
}

function handleFrame(frame) {
  let type = "message", data = "";
  for (const line of frame.split("\n")) {
    if (line.startsWith(":")) continue;  // keep-alive comment
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") type = value;
    else if (field === "data") data += value;
  }
  if (type === "revision") {
    try { setRevision(JSON.parse(data).revision, "stored"); } catch (_) { /* a malformed frame only skips the label */ }
    scheduleRefresh(true);
  } else if (type === "proxies") {
    scheduleRefresh(false);
  } else if (type === "canary") {
    try {
      const event = JSON.parse(data);
      notice("Canary " + event.namespace + "/" + event.name + ": " + event.decision + " at " + event.weight + "% (" + event.phase + "): " + event.reason);
    } catch (_) { /* a malformed frame only skips the notice */ }
    scheduleRefresh(true);
  }
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let tokenWaiters = [];
function tokenChanged() {
  return new Promise((resolve) => tokenWaiters.push(resolve));
}

function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value); else sessionStorage.removeItem(TOKEN_KEY);
  const waiters = tokenWaiters;
  tokenWaiters = [];
  waiters.forEach((resolve) => resolve());
  if (state.stream) state.stream.abort();
  clearErrors();
  scheduleRefresh(true);
}

function setLive(cls, text) {
  const live = $("live");
  live.className = "pill " + cls;
  live.textContent = text;
}

function setRevision(revision, what) {
  if (typeof revision === "number") $("revision").textContent = "revision " + revision + (what ? " (" + what + ")" : "");
}

// ---------------------------------------------------------------- rendering

function renderOverview(overview) {
  setRevision(overview.revision, "pushed");
  renderGraph(overview.services || [], state.traffic, state.trafficSource);
  renderServices(overview.services || []);
  renderProxies(overview.proxies || []);
}

// ---------------------------------------------------------------- observed traffic

/**
 * Reads /api/v1/traffic every few seconds while a token is set. Unavailable (no
 * --prometheus-url, Prometheus down) is said beside the graph, which then shows weights only;
 * nothing else on the page depends on it.
 */
async function followTraffic() {
  for (;;) {
    let unconfigured = false;
    if (token() && document.visibilityState !== "hidden") {
      const status = $("traffic-status");
      try {
        const traffic = await api("GET", "/api/v1/traffic");
        state.traffic = traffic;
        status.className = "traffic-status on";
        status.textContent = "Observed traffic over " + traffic.window + " from " + traffic.prometheus + ", refreshed every "
          + (TRAFFIC_INTERVAL_MS / 1000) + " s.";
      } catch (error) {
        state.traffic = null;
        status.className = "traffic-status off";
        status.textContent = "Observed traffic unavailable: " + (error.message || error);
        unconfigured = String(error.message || "").includes("--prometheus-url");
      }
      if (state.overview) renderGraph(state.overview.services || [], state.traffic, state.trafficSource);
    }
    await Promise.race([delay(unconfigured ? TRAFFIC_UNCONFIGURED_INTERVAL_MS : TRAFFIC_INTERVAL_MS), tokenChanged()]);
  }
}

// ---------------------------------------------------------------- history actions

async function showDiff(revision) {
  const from = Math.max(revision - 1, 0);
  try {
    const diff = await api("GET", "/api/v1/history/diff?from=" + from + "&to=" + revision);
    $("diff-view").hidden = false;
    $("diff-title").textContent = "Diff from revision " + diff.from + " to " + diff.to;
    const pre = clear($("diff"));
    pre.dataset.from = diff.from;
    pre.dataset.to = diff.to;
    for (const line of String(diff.diff || "").split("\n")) {
      const cls = line.startsWith("+++") || line.startsWith("---") ? "file" : line.startsWith("@@") ? "hunk"
        : line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : "same";
      pre.append(el("span", { class: cls }, line + "\n"));
    }
    if (!diff.diff) pre.append(el("span", { class: "same" }, "(no difference)"));
  } catch (error) { showError(error); }
}

async function rollbackTo(revision) {
  if (!window.confirm("Restore the whole configuration as it was right after revision " + revision + "? This is one new revision, pushed at once.")) return;
  try {
    const result = await api("POST", "/api/v1/rollback", { toRevision: revision });
    clearErrors("POST /api/v1/rollback");
    notice("Rolled back to revision " + result.rolledBackTo + " as revision " + result.revision
      + ((result.warnings || []).length ? " (" + result.warnings.length + " warning(s))" : ""));
    scheduleRefresh(true);
  } catch (error) { showError(error); }
}

// ---------------------------------------------------------------- canary actions

async function operateCanary(namespace, name, operation) {
  const what = { abort: "restore its VirtualService as it was before the canary", promote: "send 100% to the new subset",
    resume: "apply the current step's weights again and go on" }[operation];
  if (!window.confirm(operation[0].toUpperCase() + operation.slice(1) + " canary " + namespace + "/" + name + ": " + what + "?")) return;
  try {
    const path = "/api/v1/canaries/" + encodeURIComponent(namespace) + "/" + encodeURIComponent(name) + "/" + operation;
    const result = await api("POST", path, {});
    clearErrors("POST /api/v1/canaries");
    notice("Canary " + namespace + "/" + name + ": " + ((result.canary.status || {}).message || operation));
    scheduleRefresh(true);
  } catch (error) { showError(error); }
}

// ---------------------------------------------------------------- start

document.addEventListener("DOMContentLoaded", () => {
  $("token").value = token();
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setToken($("token").value.trim());
  });
  $("token-forget").addEventListener("click", () => {
    $("token").value = "";
    setToken("");
  });
  $("traffic-source").addEventListener("change", (event) => {
    state.trafficSource = event.target.value;
    if (state.overview) renderGraph(state.overview.services || [], state.traffic, state.trafficSource);
  });
  scheduleRefresh(true);
  follow();
  followTraffic();
});
