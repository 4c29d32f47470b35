// Slack mrkdwn → DOM: *bold*, _italic_, ~strike~, `code`, ```pre```, > quotes, <@U…>, <#C…>,
// <!date^…|fallback>, <url|label>, :emoji: and Slack's three escaped characters.
import { h } from "./dom.js";

// The names the bot uses, plus common ones; anything else stays as ":name:" text.
export const EMOJI = {
  white_check_mark: "✅",
  heavy_check_mark: "✔️",
  ballot_box_with_check: "☑️",
  x: "❌",
  heavy_multiplication_x: "✖️",
  negative_squared_cross_mark: "❎",
  hourglass: "⌛",
  hourglass_flowing_sand: "⏳",
  gear: "⚙️",
  thumbsup: "👍",
  "+1": "👍",
  thumbsdown: "👎",
  "-1": "👎",
  warning: "⚠️",
  no_entry: "⛔",
  no_entry_sign: "🚫",
  lock: "🔒",
  key: "🔑",
  grey_question: "❔",
  question: "❓",
  grey_exclamation: "❕",
  exclamation: "❗",
  clock3: "🕒",
  information_source: "ℹ️",
  tada: "🎉",
  eyes: "👀",
  rocket: "🚀",
  wave: "👋",
  ok_hand: "👌",
  smile: "😄",
  slightly_smiling_face: "🙂",
  heart: "❤️",
  memo: "📝",
  email: "📧",
  envelope: "✉️",
  bust_in_silhouette: "👤",
  robot_face: "🤖",
  zap: "⚡",
  fire: "🔥",
  arrows_counterclockwise: "🔄",
  link: "🔗",
  calendar: "📅",
  mag: "🔍",
  sparkles: "✨",
  star: "⭐",
  pray: "🙏",
  raised_hands: "🙌",
  red_circle: "🔴",
  large_green_circle: "🟢",
  large_yellow_circle: "🟡",
  stopwatch: "⏱️",
  bell: "🔔",
  white_circle: "⚪",
  rotating_light: "🚨",
  page_facing_up: "📄",
  house: "🏠",
};

export function emojiFor(name) {
  return EMOJI[name] ?? null;
}

/** A reaction's or text's emoji as a node: the character, or ":name:" when unknown. */
export function emojiNode(name) {
  const character = emojiFor(name);
  return character
    ? h("span", { class: "emoji", title: `:${name}:`, text: character })
    : h("span", { class: "emoji-unknown", text: `:${name}:` });
}

const ENTITIES = { amp: "&", lt: "<", gt: ">" };

export function unescapeSlack(text) {
  return String(text).replace(/&(amp|lt|gt);/g, (_, name) => ENTITIES[name]);
}

/** Renders mrkdwn into a container; ctx = {users: Map, channels: Map, viewer}. */
export function mrkdwn(text, ctx, className = "mrkdwn") {
  const container = h("div", { class: className });
  const parts = String(text ?? "").split(/```/);
  parts.forEach((part, index) => {
    // Odd parts sit between ``` fences: preformatted, no formatting inside.
    if (index % 2 === 1 && index < parts.length - 1) {
      container.append(h("pre", { class: "pre", text: unescapeSlack(part.replace(/^\n/, "")) }));
    } else {
      const literal = index % 2 === 1 ? "```" + part : part;
      container.append(...lines(literal, ctx));
    }
  });
  return container;
}

/** Groups ">"-prefixed lines into quotes; other lines keep their line breaks. */
function lines(text, ctx) {
  const nodes = [];
  let quote = null;
  const rows = text.split("\n");
  rows.forEach((row, index) => {
    const last = index === rows.length - 1;
    if (row.startsWith(">")) {
      if (!quote) {
        quote = h("blockquote", { class: "quote" });
        nodes.push(quote);
      } else {
        quote.append(h("br"));
      }
      quote.append(...inline(row.slice(1).replace(/^ /, ""), ctx));
      return;
    }
    quote = null;
    nodes.push(...inline(row, ctx));
    if (!last) nodes.push(h("br"));
  });
  return nodes;
}

const INLINE = new RegExp(
  [
    "(?<code>`[^`\\n]+`)",
    "(?<angle><[^<>\\n]+>)",
    "(?<bold>(?<![\\w*])\\*(?!\\s)[^*\\n]+?(?<!\\s)\\*(?![\\w*]))",
    "(?<italic>(?<![\\w_])_(?!\\s)[^_\\n]+?(?<!\\s)_(?![\\w_]))",
    "(?<strike>(?<![\\w~])~(?!\\s)[^~\\n]+?(?<!\\s)~(?![\\w~]))",
    "(?<emoji>:[a-z0-9_+-]+:)",
  ].join("|"),
  "g",
);

/** One line of mrkdwn as a list of nodes (recursive for nested styles). */
export function inline(text, ctx) {
  const nodes = [];
  let cursor = 0;
  for (const match of text.matchAll(INLINE)) {
    if (match.index > cursor) nodes.push(unescapeSlack(text.slice(cursor, match.index)));
    nodes.push(token(match, ctx));
    cursor = match.index + match[0].length;
  }
  if (cursor < text.length) nodes.push(unescapeSlack(text.slice(cursor)));
  return nodes;
}

function token(match, ctx) {
  const { code, angle, bold, italic, strike, emoji } = match.groups;
  const inner = match[0].slice(1, -1);
  if (code) return h("code", { class: "code", text: unescapeSlack(inner) });
  if (angle) return special(inner, ctx);
  if (bold) return h("strong", {}, inline(inner, ctx));
  if (italic) return h("em", {}, inline(inner, ctx));
  if (strike) return h("s", {}, inline(inner, ctx));
  if (emoji) return emojiFor(inner) ? emojiNode(inner) : match[0];
  return match[0];
}

/** What Slack writes between < and >: mentions, channels, dates, special mentions, links. */
function special(inner, ctx) {
  const [target, ...rest] = inner.split("|");
  const label = rest.length ? unescapeSlack(rest.join("|")) : null;
  if (target.startsWith("@")) {
    const id = target.slice(1);
    const name = ctx.users?.get(id) ?? label ?? id;
    const mine = id === ctx.viewer ? " mention-me" : "";
    return h("span", { class: `mention${mine}`, title: id, text: `@${name}` });
  }
  if (target.startsWith("#")) {
    const id = target.slice(1);
    const name = ctx.channels?.get(id) ?? label ?? id;
    return h("span", { class: "mention channel-mention", title: id, text: `#${name}` });
  }
  if (target.startsWith("!date^")) return dateToken(target, label);
  if (target.startsWith("!subteam^")) {
    return h("span", { class: "mention", text: label ?? `@${target.split("^")[1]}` });
  }
  if (target.startsWith("!")) {
    return h("span", { class: "mention", text: `@${label ?? target.slice(1)}` });
  }
  return link(unescapeSlack(target), label);
}

function dateToken(target, fallback) {
  const seconds = Number(target.split("^")[1]);
  const title = Number.isFinite(seconds) ? new Date(seconds * 1000).toLocaleString() : "";
  return h("span", { class: "date", title, text: fallback ?? title });
}

function link(url, label) {
  // Only web and mail links become anchors; anything else (javascript:, …) stays text.
  if (!/^(https?:|mailto:)/i.test(url)) return label ?? url;
  const text = label ?? url.replace(/^mailto:/i, "");
  return h("a", { href: url, target: "_blank", rel: "noopener noreferrer", text });
}

/** Slack's plain_text: emoji shortcodes become emoji (unless emoji: false), nothing else. */
export function plainText(text, { emoji = true } = {}) {
  const value = String(text ?? "");
  if (!emoji) return [value];
  const nodes = [];
  let cursor = 0;
  for (const match of value.matchAll(/:([a-z0-9_+-]+):/g)) {
    if (!emojiFor(match[1])) continue;
    nodes.push(value.slice(cursor, match.index), emojiNode(match[1]));
    cursor = match.index + match[0].length;
  }
  nodes.push(value.slice(cursor));
  return nodes;
}
