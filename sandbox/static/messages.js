// A channel's timeline: messages with their blocks, reactions and thread replies, and the viewer's
// ephemeral messages ("Only visible to you") in time order.
import { avatarColor, h, initials, rawBox, timeLabel } from "./dom.js";
import { renderBlocks } from "./blocks.js";
import { fileCards } from "./files.js";
import { emojiNode, mrkdwn } from "./mrkdwn.js";

/**
 * ctx: {users: Map id→name, channels: Map id→name, viewer, botId, channelId,
 *       act(message, element, block), react(message, name), pick(message, anchor), dismiss(ts)}
 */
export function timeline(channel, ephemerals, ctx) {
  const items = [
    ...(channel.messages ?? []).map((message) => ({ message, ephemeral: false })),
    ...ephemerals.map((message) => ({ message, ephemeral: true })),
  ];
  items.sort((a, b) => Number(a.message.ts) - Number(b.message.ts));
  if (!items.length) return [emptyChannel(channel)];
  return items.map((item, index) => {
    if (item.ephemeral) return ephemeralNode(item.message, ctx);
    const previous = items[index - 1];
    return messageNode(item.message, ctx, { compact: continues(previous, item.message) });
  });
}

/** As Slack does, a message right after one by the same author drops its name and avatar. */
function continues(previous, message) {
  if (!previous || previous.ephemeral || previous.message.user !== message.user) return false;
  if ((previous.message.replies ?? []).length) return false;
  return Number(message.ts) - Number(previous.message.ts) < GROUP_SECONDS;
}

const GROUP_SECONDS = 300;

function emptyChannel(channel) {
  const name = channel.kind === "im" ? channel.name : `#${channel.name}`;
  return h(
    "div",
    { class: "empty-channel" },
    h("h2", { text: `This is the very beginning of ${name}` }),
    h("p", {
      text: "Nothing here yet. Messages the bot posts, and your own slash commands' answers, appear here.",
    }),
  );
}

function author(userId, ctx) {
  if (userId === ctx.botId) return { name: "zoombot", bot: true };
  return { name: ctx.users.get(userId) ?? userId ?? "unknown", bot: false };
}

function avatar(userId, who, small) {
  return h("div", {
    class: `avatar${who.bot ? " avatar-bot" : ""}${small ? " avatar-small" : ""}`,
    style: who.bot ? null : `background:${avatarColor(userId)}`,
    "aria-hidden": "true",
    text: who.bot ? "Z" : initials(who.name),
  });
}

function header(message, who, extra) {
  return h(
    "div",
    { class: "msg-header" },
    h("span", { class: "msg-author", text: who.name }),
    who.bot ? h("span", { class: "app-badge", text: "APP" }) : null,
    h("span", { class: "msg-time" }, timeLabel(message.ts)),
    extra,
  );
}

// What the timeline renders of a message (or an ephemeral); any other field is shown raw.
const RENDERED_FIELDS = new Set([
  ...["ts", "user", "text", "blocks", "edited", "thread_ts", "broadcast"],
  ...["replies", "reactions", "files", "channel"],
]);

/** Blocks when the message has them (as Slack shows), else its text as mrkdwn; then its files
 * and, raw, any field the page does not render (legacy attachments, …). */
function content(message, ctx) {
  const blockCtx = {
    ...ctx,
    onAction: (element, block, button) => ctx.act(message, element, block, button),
  };
  const hasText = String(message.text ?? "").trim() !== "";
  let body = null;
  if (message.blocks?.length) body = renderBlocks(message.blocks, blockCtx);
  else if (hasText) body = mrkdwn(message.text, ctx);
  const files = fileCards(message.files);
  const extras = unrenderedFields(message);
  if (!body && !files && !extras.length) {
    body = rawBox("A message with nothing the sandbox can show", withoutReplies(message));
  }
  const edited = message.edited ? h("span", { class: "edited", text: " (edited)" }) : null;
  // Inline after the text, as Slack shows it; on its own line after files only.
  if (body && edited) body.append(edited);
  return [
    message.broadcast
      ? h("div", { class: "broadcast", text: "replied to a thread and sent to the channel" })
      : null,
    body,
    files,
    body ? null : edited,
    extras,
  ];
}

function unrenderedFields(message) {
  return Object.entries(message)
    .filter(([key]) => !RENDERED_FIELDS.has(key))
    .map(([key, value]) =>
      rawBox(`Message field “${key}” is not rendered by the sandbox`, value, "unknown-field"),
    );
}

function withoutReplies(message) {
  const { replies: _replies, ...rest } = message;
  return rest;
}

function messageNode(message, ctx, { reply = false, compact = false } = {}) {
  const who = author(message.user, ctx);
  const replies = message.replies ?? [];
  const kind = reply ? " msg-reply" : compact ? " msg-compact" : "";
  return h(
    "article",
    { class: `msg${kind}`, testid: `message-${message.ts}`, "data-ts": message.ts },
    compact
      ? h("div", { class: "msg-gutter" }, timeLabel(message.ts))
      : avatar(message.user, who, reply),
    h(
      "div",
      { class: "msg-body" },
      compact ? null : header(message, who),
      content(message, ctx),
      reactions(message, ctx),
      replies.length ? thread(replies, ctx) : null,
    ),
    // One add-reaction control per message: beside the pills, or on hover when there are none.
    (message.reactions ?? []).length
      ? null
      : h("div", { class: "msg-tools" }, addReactionButton(message, ctx)),
  );
}

function ephemeralNode(message, ctx) {
  const who = author(ctx.botId, ctx);
  return h(
    "article",
    { class: "msg msg-ephemeral", testid: `ephemeral-${message.ts}`, "data-ts": message.ts },
    avatar(ctx.botId, who, false),
    h(
      "div",
      { class: "msg-body" },
      header(message, who, h("span", { class: "only-you" }, "👁 Only visible to you")),
      content(message, ctx),
      h(
        "button",
        { type: "button", class: "link-button dismiss", onclick: () => ctx.dismiss(message.ts) },
        "Dismiss message",
      ),
    ),
  );
}

function thread(replies, ctx) {
  const count = `${replies.length} ${replies.length === 1 ? "reply" : "replies"}`;
  return h(
    "section",
    { class: "thread", "aria-label": "Thread" },
    h("div", { class: "thread-count", text: count }),
    replies.map((reply) => messageNode(reply, ctx, { reply: true })),
  );
}

function reactions(message, ctx) {
  const list = message.reactions ?? [];
  if (!list.length) return null;
  return h(
    "div",
    { class: "reactions" },
    list.map((reaction) => {
      const mine = (reaction.users ?? []).includes(ctx.viewer);
      const names = (reaction.users ?? []).map((id) => author(id, ctx).name).join(", ");
      return h(
        "button",
        {
          type: "button",
          class: `reaction${mine ? " reaction-mine" : ""}`,
          testid: `reaction-${reaction.name}`,
          title: `${names} reacted with :${reaction.name}:${mine ? "" : " — click to add yours"}`,
          "aria-pressed": mine ? "true" : "false",
          onclick: () => ctx.react(message, reaction.name),
        },
        emojiNode(reaction.name),
        h("span", {
          class: "reaction-count",
          text: String(reaction.count ?? reaction.users?.length ?? 0),
        }),
      );
    }),
    addReactionButton(message, ctx, "inline"),
  );
}

function addReactionButton(message, ctx, where = "hover") {
  return h(
    "button",
    {
      type: "button",
      class: `add-reaction add-reaction-${where}`,
      testid: "add-reaction",
      title: "Add reaction",
      "aria-label": "Add reaction",
      onclick: (event) => ctx.pick(message, event.currentTarget),
    },
    "☺+",
  );
}
