// The sandbox page: polls the console's state, renders the Slack-like workspace for the chosen
// person (channels, DMs, the App Home), and turns clicks and typing into the console's JSON API.
import { setupComposer } from "./composer.js";
import { clear } from "./dom.js";
import { homePane } from "./home.js";
import { Modal } from "./modal.js";
import { timeline } from "./messages.js";
import { auditLog, guide, zoomReceived } from "./panel.js";
import { channelEntries, homeEntry, personEntries, viewerChip } from "./sidebar.js";
import { confirmDialog, openPicker, toast } from "./widgets.js";

const POLL_MS = 700;
const DEFAULT_PERSON = "URILEY01";
const DEFAULT_CHANNEL = "CREQUESTS";
// Not a channel: the app's Home tab, shown in the channel pane.
const HOME = "home";
const TOPICS = {
  "zoom-requests": "Run /zoom-subaccount here to ask for a Zoom sub account.",
  "zoom-approvals":
    "zoombot posts requests here. Approvers click Approve / Reject or react ✅ / ❌.",
};
const $ = (id) => document.getElementById(id);

const app = {
  me: param("as") || localStorage.getItem("zoombot.as") || DEFAULT_PERSON,
  channelId: param("channel") || localStorage.getItem("zoombot.channel") || DEFAULT_CHANNEL,
  tab: localStorage.getItem("zoombot.tab") || "guide",
  data: null,
  keys: {},
  inFlight: false,
  again: false,
  home: { opening: false, problem: null },
  seen: JSON.parse(localStorage.getItem("zoombot.seen") || "{}"),
  dismissed: new Set(JSON.parse(sessionStorage.getItem("zoombot.dismissed") || "[]")),
};

function param(name) {
  return new URLSearchParams(location.search).get(name);
}

// -- talking to the console ------------------------------------------------------------------

async function post(path, body) {
  const response = await fetch(`/sandbox/api/${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user: app.me, ...body }),
  });
  const outcome = await response
    .json()
    .catch(() => ({ ok: false, message: `HTTP ${response.status}` }));
  refresh();
  return outcome;
}

/** Posts and shows a toast when the bot or the console did not accept it. */
async function send(path, body) {
  try {
    const outcome = await post(path, body);
    if (!outcome.ok) toast($("toast"), outcome.message || `Not delivered (${outcome.result}).`);
    return outcome;
  } catch (error) {
    toast($("toast"), `Could not reach the sandbox console: ${error.message}`);
    return { ok: false };
  }
}

async function poll() {
  if (app.inFlight) {
    app.again = true;
    return;
  }
  app.inFlight = true;
  const asked = app.me;
  try {
    const response = await fetch(`/sandbox/api/state?user=${encodeURIComponent(asked)}`, {
      cache: "no-store",
    });
    const data = await response.json().catch(() => null);
    if (asked !== app.me) return;
    if (response.ok && data?.slack) {
      banner(null);
      apply(data);
    } else if (response.status === 400 && asked !== DEFAULT_PERSON) {
      // A remembered or deep-linked person this sandbox does not have: start as the requester.
      setMe(DEFAULT_PERSON);
    } else {
      banner(
        `The sandbox console answered HTTP ${response.status}: ${data?.message ?? "no details"}. Retrying…`,
      );
    }
  } catch (error) {
    banner(
      `The sandbox console is unreachable (${error.message}). Is “python app.py sandbox” still running? Retrying…`,
    );
  } finally {
    app.inFlight = false;
    if (app.again) {
      app.again = false;
      poll();
    }
  }
}

function refresh() {
  poll();
}

function loop() {
  poll().finally(() => setTimeout(loop, POLL_MS));
}

function banner(message) {
  const node = $("banner");
  node.hidden = !message;
  node.textContent = message ?? "";
}

// -- rendering: each region only when its inputs changed -------------------------------------

function apply(data) {
  app.data = data;
  const slack = data.slack;
  resolveChannel(slack);
  const changed = (name, value) => {
    const key = JSON.stringify(value);
    if (app.keys[name] === key) return false;
    app.keys[name] = key;
    return true;
  };
  const base = [app.me, app.channelId];
  const timelineKey = [
    slack.version,
    slack.channels,
    slack.ephemerals,
    slack.users,
    [...app.dismissed],
  ];
  if (changed("sidebar", [...base, data.people, timelineKey, app.seen])) renderSidebar();
  if (changed("channel", [...base, timelineKey, slack.home, app.home])) renderChannel();
  if (changed("guide", [data.people, data.zoom?.scenarios, data.command])) renderGuide();
  if (changed("audit", [data.audit, slack.users])) renderAudit();
  if (changed("zoom", data.zoom?.received)) renderZoom();
  modal.update(slack.view, context());
}

/** The shown channel must be one of this person's (a DM id belongs to one viewer). */
function resolveChannel(slack) {
  if (app.channelId === HOME) return;
  const channels = slack.channels ?? [];
  if (channels.some((channel) => channel.id === app.channelId)) return;
  const dm = channels.find((channel) => channel.kind === "im");
  const wanted =
    app.channelId.startsWith("D") && dm
      ? dm
      : channels.find((channel) => channel.id === DEFAULT_CHANNEL);
  app.channelId = (wanted ?? channels[0])?.id ?? DEFAULT_CHANNEL;
}

function context() {
  const slack = app.data.slack;
  return {
    users: new Map((slack.users ?? []).map((user) => [user.id, user.name])),
    channels: new Map((slack.channels ?? []).map((channel) => [channel.id, channel.name])),
    viewer: app.me,
    botId: slack.bot_user_id,
    channelId: app.channelId,
    act: clickButton,
    actInView: clickInHome,
    react,
    pick: (message, anchor) =>
      openPicker($("picker"), anchor, (name) => addReaction(message, name)),
    dismiss,
  };
}

function person(id) {
  return app.data?.people?.find((item) => item.id === id);
}

function renderSidebar() {
  const channels = app.data.slack.channels ?? [];
  const options = { current: app.channelId, unread: unreadCount, onSelect: setChannel };
  const rooms = channels.filter((channel) => channel.kind !== "im");
  const dms = channels.filter((channel) => channel.kind === "im");
  clear($("channels")).append(...channelEntries(rooms, options));
  clear($("dms")).append(
    ...channelEntries(dms, options),
    homeEntry({ active: app.channelId === HOME, onSelect: () => setChannel(HOME) }),
  );
  const people = app.data.people ?? [];
  clear($("people")).append(...personEntries(people, { me: app.me, onSelect: setMe }));
}

/** Top-level messages and ephemerals newer than what this person last saw in that channel. */
function unreadCount(channel) {
  if (channel.id === app.channelId) return 0;
  const seen = Number(app.seen[app.me]?.[channel.id] ?? 0);
  return channelItems(channel).filter((ts) => Number(ts) > seen).length;
}

function channelItems(channel) {
  const ephemerals = (app.data.slack.ephemerals ?? []).filter(
    (item) => item.channel === channel.id && !app.dismissed.has(item.ts),
  );
  return [...(channel.messages ?? []), ...ephemerals].map((item) => item.ts);
}

function markSeen(channel) {
  const latest = Math.max(0, ...channelItems(channel).map(Number));
  const mine = (app.seen[app.me] ??= {});
  if (Number(mine[channel.id] ?? 0) >= latest) return;
  mine[channel.id] = String(latest);
  localStorage.setItem("zoombot.seen", JSON.stringify(app.seen));
}

function renderChannel() {
  const isHome = app.channelId === HOME;
  document.querySelector(".composer-area").hidden = isHome;
  $("messages").setAttribute("aria-label", isHome ? "App Home" : "Messages");
  if (isHome) {
    renderHome();
    return;
  }
  const slack = app.data.slack;
  const channel = (slack.channels ?? []).find((item) => item.id === app.channelId) ?? {
    id: app.channelId,
    name: app.channelId,
    messages: [],
  };
  const title = channel.kind === "im" ? channel.name : `# ${channel.name}`;
  $("channel-title").textContent = title;
  $("channel-topic").textContent =
    channel.kind === "im"
      ? "Your direct messages with zoombot: decisions, outcomes and generated passwords."
      : (TOPICS[channel.name] ?? "");
  $("composer").placeholder =
    `Message ${channel.kind === "im" ? channel.name : `#${channel.name}`} — try ${app.data.command ?? "/zoom-subaccount"}`;
  clear($("viewer-chip")).append(...viewerChip(app.me, person(app.me)));
  const ephemerals = (slack.ephemerals ?? []).filter(
    (item) => item.channel === channel.id && !app.dismissed.has(item.ts),
  );
  keepPlace($("messages"), channel.id, () => timeline(channel, ephemerals, context()));
  markSeen(channel);
}

function renderHome() {
  $("channel-title").textContent = "zoombot · Home";
  $("channel-topic").textContent =
    "Your requests, and those waiting for your decision, as zoombot last published them.";
  clear($("viewer-chip")).append(...viewerChip(app.me, person(app.me)));
  keepPlace($("messages"), HOME, () => homePane(app.data.slack.home, app.home, context()));
}

/** Re-renders the message list, keeping the scroll position (or the bottom) and the focus. */
function keepPlace(list, channelId, build) {
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 60;
  const sameChannel = list.dataset.channel === channelId;
  const top = list.scrollTop;
  const focused = list.contains(document.activeElement) ? document.activeElement : null;
  const focusTs = focused?.closest("[data-ts]")?.dataset.ts;
  const focusId = focused?.dataset.testid;
  clear(list).append(...build());
  list.dataset.channel = channelId;
  list.scrollTop = sameChannel && !atBottom ? top : list.scrollHeight;
  if (focusTs && focusId)
    list
      .querySelector(`[data-ts="${CSS.escape(focusTs)}"] [data-testid="${CSS.escape(focusId)}"]`)
      ?.focus();
}

function renderGuide() {
  const data = app.data;
  clear($("panel-guide")).append(
    guide({
      people: data.people ?? [],
      scenarios: data.zoom?.scenarios ?? [],
      command: data.command ?? "/zoom-subaccount",
      switchTo: setMe,
    }),
  );
}

function nameOf(id) {
  if (!id) return "";
  if (id === app.data.slack.bot_user_id) return "zoombot";
  return (
    (app.data.slack.users ?? []).find((user) => user.id === id)?.name ?? person(id)?.name ?? id
  );
}

function renderAudit() {
  const requests = app.data.audit?.requests ?? [];
  $("count-audit").textContent = requests.length ? String(requests.length) : "";
  clear($("panel-audit")).append(auditLog({ audit: app.data.audit, name: nameOf }));
}

function renderZoom() {
  const received = app.data.zoom?.received ?? [];
  $("count-zoom").textContent = received.length ? String(received.length) : "";
  clear($("panel-zoom")).append(zoomReceived({ received }));
}

function showTab(tab) {
  app.tab = ["guide", "audit", "zoom"].includes(tab) ? tab : "guide";
  localStorage.setItem("zoombot.tab", app.tab);
  for (const button of document.querySelectorAll("[role=tab]")) {
    const selected = button.dataset.tab === app.tab;
    button.setAttribute("aria-selected", selected ? "true" : "false");
    button.classList.toggle("active", selected);
    $(`panel-${button.dataset.tab}`).hidden = !selected;
  }
}

// -- what the person does --------------------------------------------------------------------

function setMe(id) {
  if (id === app.me) return;
  app.me = id;
  localStorage.setItem("zoombot.as", id);
  updateUrl();
  app.keys = {};
  modal.update(null);
  $("picker").hidden = true;
  if (app.channelId === HOME) openHome();
  refresh();
}

function setChannel(id) {
  app.channelId = id;
  localStorage.setItem("zoombot.channel", id);
  updateUrl();
  if (id === HOME) openHome();
  if (app.data) apply(app.data);
  if (id !== HOME) $("composer").focus();
}

/** As Slack does each time the tab is opened: app_home_opened, to which the bot answers by
 * publishing the Home (views.publish) a moment later; the poll then shows it. */
async function openHome() {
  const asked = app.me;
  app.home = { opening: true, problem: null };
  let problem = null;
  try {
    const outcome = await post("home/open", {});
    if (!outcome.ok) problem = `Opening the Home failed: ${outcome.message || outcome.result}`;
  } catch (error) {
    problem = `Could not reach the sandbox console: ${error.message}`;
  }
  if (asked !== app.me) return;
  app.home = { opening: false, problem };
  if (app.data) apply(app.data);
}

function updateUrl() {
  const url = new URL(location.href);
  url.searchParams.set("as", app.me);
  url.searchParams.set("channel", app.channelId);
  history.replaceState(null, "", url);
}

function confirmed(element) {
  return element.confirm ? confirmDialog($("confirm"), element.confirm) : Promise.resolve(true);
}

/** A button: its confirm dialog first, then one delivery (the button rests until answered). */
async function press(element, button, deliver) {
  if (!(await confirmed(element))) return;
  if (element.url) window.open(element.url, "_blank", "noopener");
  button.disabled = true;
  try {
    await deliver();
  } finally {
    button.disabled = false;
  }
}

function clickButton(message, element, block, button) {
  return press(element, button, () =>
    send("action", {
      channel: message.channel ?? app.channelId,
      ts: message.ts,
      action_id: element.action_id,
      block_id: block.block_id ?? null,
      value: element.value ?? null,
    }),
  );
}

/** A button in a view (the App Home, a modal): Slack names the view, not a message. */
function viewClick(viewId, element, block) {
  return {
    view_id: viewId,
    action_id: element.action_id,
    block_id: block.block_id ?? null,
    value: element.value ?? null,
  };
}

function clickInHome(viewId, element, block, button) {
  return press(element, button, () => send("view/action", viewClick(viewId, element, block)));
}

function react(message, name) {
  const reaction = (message.reactions ?? []).find((item) => item.name === name);
  if (reaction?.users?.includes(app.me)) {
    toast(
      $("toast"),
      `You already reacted with :${name}:. Removing a reaction is not supported in the sandbox.`,
    );
    return;
  }
  addReaction(message, name);
}

function addReaction(message, name) {
  send("reaction", { channel: app.channelId, ts: message.ts, name });
}

function dismiss(ts) {
  app.dismissed.add(ts);
  sessionStorage.setItem("zoombot.dismissed", JSON.stringify([...app.dismissed]));
  if (app.data) apply(app.data);
}

// -- start -----------------------------------------------------------------------------------

const modal = new Modal($("modal-root"), {
  submit: (viewId, inputs) => post("view/submit", { view_id: viewId, inputs }),
  close: (viewId) => post("view/close", { view_id: viewId }),
  action: (viewId, element, block) => {
    if (element.url) window.open(element.url, "_blank", "noopener");
    return post("view/action", viewClick(viewId, element, block));
  },
  confirm: confirmed,
});
modal.onHidden = () => $("composer").focus();

setupComposer({
  command: () => app.data?.command ?? "/zoom-subaccount",
  run: (text) => send("command", { channel: app.channelId, text }),
});
for (const button of document.querySelectorAll("[role=tab]"))
  button.addEventListener("click", () => showTab(button.dataset.tab));
localStorage.setItem("zoombot.as", app.me);
updateUrl();
showTab(app.tab);
if (app.channelId === HOME) openHome();
else $("composer").focus();
loop();
