// Block Kit → DOM for messages and for the display blocks of modals. Anything this file does not
// know becomes a visible box with the raw JSON: nothing is ever dropped silently.
import { h, unknownBox } from "./dom.js";
import { inline, mrkdwn, plainText } from "./mrkdwn.js";

/** ctx: {users, channels, viewer, onAction(element, block)} (onAction may be absent). */
export function renderBlocks(blocks, ctx) {
  return h(
    "div",
    { class: "blocks" },
    (blocks ?? []).map((block) => renderBlock(block, ctx)),
  );
}

const RENDERERS = {
  section: section,
  header: (block) => h("div", { class: "block block-header" }, plainText(block.text?.text)),
  divider: () => h("hr", { class: "block block-divider" }),
  context: context,
  actions: actions,
  image: image,
  rich_text: richText,
};

export function renderBlock(block, ctx) {
  const render = RENDERERS[block?.type];
  const node = render ? render(block, ctx) : unknownBox("Block", block?.type ?? "(none)", block);
  // The bot's block ids stay visible to the page's tests and to anyone inspecting the page.
  if (block?.block_id) node.dataset.blockId = block.block_id;
  return node;
}

/** A text object: mrkdwn or plain_text. */
export function textObject(object, ctx, className = "mrkdwn") {
  if (!object) return null;
  if (object.type === "plain_text") {
    return h(
      "div",
      { class: className },
      plainText(object.text, { emoji: object.emoji !== false }),
    );
  }
  if (object.type === "mrkdwn") return mrkdwn(object.text, ctx, className);
  return unknownBox("Text object", object.type, object);
}

function section(block, ctx) {
  const body = h(
    "div",
    { class: "section-body" },
    textObject(block.text, ctx),
    block.fields?.length
      ? h(
          "div",
          { class: "fields" },
          block.fields.map((field) => textObject(field, ctx, "field")),
        )
      : null,
  );
  const accessory = block.accessory
    ? h("div", { class: "accessory" }, element(block.accessory, block, ctx))
    : null;
  return h("div", { class: "block block-section" }, body, accessory);
}

function context(block, ctx) {
  return h(
    "div",
    { class: "block block-context" },
    (block.elements ?? []).map((item) => {
      if (item.type === "image") return imageChip(item);
      if (item.type === "mrkdwn" || item.type === "plain_text")
        return textObject(item, ctx, "context-text");
      return unknownBox("Context element", item.type, item);
    }),
  );
}

function actions(block, ctx) {
  return h(
    "div",
    { class: "block block-actions" },
    (block.elements ?? []).map((item) => element(item, block, ctx)),
  );
}

/** An interactive element of a message (buttons only; others are shown raw). */
function element(item, block, ctx) {
  if (item.type === "button") return button(item, block, ctx);
  if (item.type === "image") return imageChip(item);
  return unknownBox("Element", item.type, item);
}

function button(item, block, ctx) {
  const style = item.style === "primary" || item.style === "danger" ? ` button-${item.style}` : "";
  return h(
    "button",
    {
      type: "button",
      class: `button${style}`,
      testid: `action-${item.action_id}`,
      disabled: !ctx.onAction,
      onclick: (event) => ctx.onAction?.(item, block, event.currentTarget),
    },
    plainText(item.text?.text, { emoji: item.text?.emoji !== false }),
  );
}

// No network in the sandbox: an image is shown as its alt text, never fetched.
function image(block, ctx) {
  return h(
    "figure",
    { class: "block block-image" },
    block.title ? textObject(block.title, ctx, "image-title") : null,
    h(
      "div",
      { class: "image-placeholder", title: block.image_url ?? "" },
      `🖼 ${block.alt_text ?? "image"}`,
    ),
  );
}

function imageChip(item) {
  return h("span", {
    class: "image-chip",
    title: item.image_url ?? "",
    text: `🖼 ${item.alt_text ?? "image"}`,
  });
}

// rich_text is what Slack's own composer produces; the common parts are rendered.
function richText(block, ctx) {
  return h(
    "div",
    { class: "block block-rich" },
    (block.elements ?? []).map((part) => richPart(part, ctx)),
  );
}

function richPart(part, ctx) {
  const runs = () => (part.elements ?? []).map((run) => richRun(run, ctx));
  switch (part.type) {
    case "rich_text_section":
      return h("div", {}, runs());
    case "rich_text_preformatted":
      return h("pre", { class: "pre" }, runs());
    case "rich_text_quote":
      return h("blockquote", { class: "quote" }, runs());
    case "rich_text_list":
      return h(
        part.style === "ordered" ? "ol" : "ul",
        {},
        (part.elements ?? []).map((item) => h("li", {}, richPart(item, ctx))),
      );
    default:
      return unknownBox("Rich text element", part.type, part);
  }
}

function richRun(run, ctx) {
  let node;
  if (run.type === "text") node = document.createTextNode(run.text ?? "");
  else if (run.type === "link") node = inline(`<${run.url}|${run.text ?? run.url}>`, ctx)[0];
  else if (run.type === "user") node = inline(`<@${run.user_id}>`, ctx)[0];
  else if (run.type === "channel") node = inline(`<#${run.channel_id}>`, ctx)[0];
  else if (run.type === "emoji") node = inline(`:${run.name}:`, ctx)[0];
  else return unknownBox("Rich text run", run.type, run);
  const style = run.style ?? {};
  if (typeof node === "string") node = document.createTextNode(node);
  if (style.code) node = h("code", { class: "code" }, node);
  if (style.strike) node = h("s", {}, node);
  if (style.italic) node = h("em", {}, node);
  if (style.bold) node = h("strong", {}, node);
  return node;
}
