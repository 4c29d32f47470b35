// The right-hand panel: a getting-started guide with Zoom's scenarios, the bot's audit log, and
// the requests the Zoom simulator received (passwords already masked by the console).
import { h, timeLabel } from "./dom.js";
import { inline } from "./mrkdwn.js";

/** The guide: a short how-to whose names switch the person, then the Zoom scenarios. */
export function guide({ people, scenarios, command, switchTo }) {
  const who = (id, fallback) => {
    const person = people.find((item) => item.id === id);
    if (!person) return h("strong", { text: fallback });
    return h(
      "button",
      {
        type: "button",
        class: "link-button",
        onclick: () => switchTo(id),
        title: `Switch to ${person.name}`,
      },
      person.name,
    );
  };
  const steps = [
    [
      "As ",
      who("URILEY01", "Riley"),
      " (requester), in ",
      h("b", { text: "#zoom-requests" }),
      " type ",
      h("code", { text: command }),
      " and press Enter. Fill the form; leave Password empty and the bot sends a generated one by DM.",
    ],
    [
      "Switch to ",
      who("UBLAKE01", "Blake"),
      " (approver). In ",
      h("b", { text: "#zoom-approvals" }),
      " click ",
      h("b", { text: "Approve" }),
      " on the request, or react with ✅ — or decide it from zoombot's ",
      h("b", { text: "Home" }),
      " in the sidebar.",
    ],
    [
      "Watch the message update, the thread reply with the Zoom account id, Riley's DM from zoombot, the ",
      h("b", { text: "Audit log" }),
      " and what ",
      h("b", { text: "Zoom received" }),
      ".",
    ],
    [
      "Request the same email again and approve it: Zoom answers ",
      h("b", { text: "409 / code 1005" }),
      " (email already used).",
    ],
    [
      "Try ",
      who("UOLIVE01", "Olive"),
      " (not allowed) to see a refusal; ",
      who("UAVERY01", "Avery"),
      " may request and approve, but not her own request.",
    ],
  ];
  return h(
    "div",
    { class: "guide" },
    h("h3", { text: "How to" }),
    h(
      "ol",
      { class: "steps" },
      steps.map((step) => h("li", {}, step)),
    ),
    h(
      "p",
      { class: "muted" },
      "Also: ",
      h("code", { text: `${command} help` }),
      ", ",
      h("code", { text: `${command} status 1` }),
      ".",
    ),
    h("h3", { text: "Try these (Zoom simulator)" }),
    scenarios.length
      ? h("ul", { class: "scenarios" }, scenarios.map(scenario))
      : h("p", { class: "muted", text: "The Zoom simulator lists no scenarios." }),
  );
}

function scenario(item) {
  const code = item.code === null || item.code === undefined ? "" : ` · code ${item.code}`;
  const label = `${item.status}${code}`;
  // The answer may already open with the status and code the pill shows.
  const full = String(item.answer ?? "");
  const answer = full.startsWith(label) ? full.slice(label.length).replace(/^ · /, "") : full;
  return h(
    "li",
    { class: "scenario", testid: "scenario" },
    // Triggers quote what to type in `backticks`: shown as code, like the rest of the page.
    h("div", { class: "scenario-trigger" }, inline(String(item.trigger ?? ""), {})),
    h(
      "div",
      { class: "scenario-answer" },
      h("span", { class: `pill ${statusClass(item.status)}`, text: label }),
      " ",
      inline(answer, {}),
    ),
  );
}

function statusClass(status) {
  const number = Number(status);
  if (number >= 200 && number < 300) return "pill-good";
  if (number >= 400) return "pill-bad";
  return "pill-neutral";
}

const STATUS_PILLS = {
  created: "pill-good",
  pending_approval: "pill-wait",
  provisioning: "pill-busy",
  failed: "pill-bad",
  rejected: "pill-bad",
  denied: "pill-bad",
  unknown: "pill-neutral",
  expired: "pill-neutral",
};

/** The audit log: requests (newest first), then events (newest first). */
export function auditLog({ audit, name }) {
  const requests = audit?.requests ?? [];
  const events = audit?.events ?? [];
  return h(
    "div",
    { class: "audit" },
    h("h3", { text: `Requests (${requests.length})` }),
    requests.length
      ? requestList(requests, name)
      : h("p", { class: "muted", text: "No requests yet." }),
    h("h3", { text: `Events (${events.length})` }),
    events.length
      ? h(
          "ol",
          { class: "events" },
          events.map((event) => eventRow(event, name)),
        )
      : h("p", { class: "muted", text: "No events yet." }),
  );
}

// One card per request: a table squeezed into the panel's width would cut every cell short.
function requestList(requests, name) {
  return h(
    "ol",
    { class: "requests" },
    requests.map((row) => requestRow(row, name)),
  );
}

function requestRow(row, name) {
  const zoom = [
    row.zoom_http_status !== null && row.zoom_http_status !== undefined
      ? `HTTP ${row.zoom_http_status}`
      : null,
    row.zoom_error_code !== null && row.zoom_error_code !== undefined
      ? `code ${row.zoom_error_code}`
      : null,
  ]
    .filter(Boolean)
    .join(" · ");
  const said = [
    row.zoom_account_id ? `account ${row.zoom_account_id}` : null,
    row.zoom_error_message ? `“${row.zoom_error_message}”` : null,
  ]
    .filter(Boolean)
    .join(" ");
  return h(
    "li",
    { class: "request", testid: `audit-request-${row.id}` },
    h(
      "div",
      { class: "request-line" },
      h("span", { class: "request-id", text: `#${row.id}` }),
      h("span", {
        class: `pill ${STATUS_PILLS[row.status] ?? "pill-neutral"}`,
        testid: "audit-status",
        text: row.status,
      }),
      h("span", { class: "request-email", text: row.email ?? "" }),
      row.updated_at
        ? h("span", { class: "request-time" }, timeLabel(row.updated_at, { seconds: true }))
        : null,
    ),
    h(
      "div",
      { class: "request-people" },
      "Requested by ",
      h("b", { text: name(row.requester_id) || "—" }),
      row.approver_id ? [" · decided by ", h("b", { text: name(row.approver_id) })] : null,
    ),
    zoom || said
      ? h("div", { class: "request-zoom" }, "Zoom: ", zoom, said ? ` ${said}` : "")
      : null,
  );
}

function eventRow(event, name) {
  const detail = describe(event.detail);
  return h(
    "li",
    { class: "event", testid: `audit-event-${event.id}` },
    h(
      "div",
      { class: "event-line" },
      timeLabel(event.at, { seconds: true }),
      h("span", { class: "event-request", text: event.request_id ? `#${event.request_id}` : "" }),
      h("span", { class: "event-kind", text: event.kind }),
      h("span", { class: "event-actor", text: event.actor_id ? name(event.actor_id) : "" }),
    ),
    detail ? h("div", { class: "event-detail", text: detail }) : null,
  );
}

/** An event's detail as "key: value · key: value" (nested values as JSON), or null. */
function describe(detail) {
  if (detail === null || detail === undefined || detail === "") return null;
  if (typeof detail !== "object" || Array.isArray(detail))
    return typeof detail === "string" ? detail : JSON.stringify(detail);
  return Object.entries(detail)
    .map(
      ([key, value]) =>
        `${key.replaceAll("_", " ")}: ${typeof value === "object" && value !== null ? JSON.stringify(value) : value}`,
    )
    .join(" · ");
}

const ZOOM_KNOWN = new Set([
  "at",
  "received_at",
  "method",
  "path",
  "status",
  "code",
  "body",
  "answer",
  "response",
]);

/** What the Zoom simulator received: newest first, each POST /v2/accounts with its answer. */
export function zoomReceived({ received }) {
  if (!received?.length) {
    return h("p", {
      class: "muted",
      text: "Zoom has received no account creations yet. Approve a request to send one.",
    });
  }
  return h("ol", { class: "zoom-list" }, received.map(zoomEntry));
}

function zoomEntry(entry) {
  const status = entry.status ?? entry.answer?.status ?? entry.response?.status;
  const code = entry.code ?? entry.answer?.body?.code ?? entry.answer?.code;
  const answer = entry.answer ?? entry.response;
  const extra = Object.fromEntries(Object.entries(entry).filter(([key]) => !ZOOM_KNOWN.has(key)));
  const moment = entry.at ?? entry.received_at;
  return h(
    "li",
    { class: "zoom-entry", testid: "zoom-received" },
    h(
      "div",
      { class: "zoom-line" },
      h("span", {
        class: "zoom-method",
        text: `${entry.method ?? "POST"} ${entry.path ?? "/v2/accounts"}`,
      }),
      status !== undefined
        ? h("span", {
            class: `pill ${statusClass(status)}`,
            text: code !== undefined && code !== null ? `${status} · code ${code}` : String(status),
          })
        : null,
      moment !== undefined
        ? timeLabel(typeof moment === "number" ? String(moment) : moment, { seconds: true })
        : null,
    ),
    h("div", { class: "zoom-label", text: "Request body (password masked)" }),
    h("pre", { class: "json", text: JSON.stringify(entry.body ?? null, null, 2) }),
    answer !== undefined ? h("div", { class: "zoom-label", text: "Answer" }) : null,
    answer !== undefined
      ? h("pre", {
          class: "json",
          text: typeof answer === "string" ? answer : JSON.stringify(answer, null, 2),
        })
      : null,
    Object.keys(extra).length
      ? h("pre", { class: "json muted", text: JSON.stringify(extra, null, 2) })
      : null,
  );
}
