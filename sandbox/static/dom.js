// Tiny DOM helpers: every node is built with textContent, so no API string is ever parsed as HTML.

/**
 * h("button", {class: "x", testid: "y", onclick: fn, type: "button"}, "label", otherNode)
 * Attributes: class, text, testid (data-testid), on<event> handlers, anything else as an attribute
 * (false/null/undefined skip it, true sets it empty). Children: nodes, strings, arrays, null.
 */
export function h(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "testid") node.dataset.testid = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "value") node.value = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
  return node;
}

/** The raw JSON of something the sandbox cannot render, shown instead of silently dropped. */
export function unknownBox(kind, type, json) {
  return rawBox(`${kind} type ${type} is not rendered by the sandbox`, json);
}

/** A titled box with raw JSON: for whatever the page has no rendering of. */
export function rawBox(title, json, testid = "unknown-block") {
  return h(
    "div",
    { class: "unknown", testid },
    h("div", { class: "unknown-title", text: title }),
    h("pre", { class: "unknown-json", text: JSON.stringify(json, null, 2) }),
  );
}

/** Clock time of a Slack ts ("1764067200.000100") or an ISO string, with the full date as title. */
export function timeLabel(moment, { seconds = false } = {}) {
  const date =
    typeof moment === "string" && moment.includes("-")
      ? new Date(moment)
      : new Date(Number(moment) * 1000);
  if (Number.isNaN(date.getTime())) return h("time", { text: String(moment ?? "") });
  const options = { hour: "2-digit", minute: "2-digit" };
  if (seconds) options.second = "2-digit";
  return h("time", {
    datetime: date.toISOString(),
    title: date.toLocaleString(),
    text: date.toLocaleTimeString([], options),
  });
}

/** A stable colour per person for avatars. */
export function avatarColor(id) {
  const palette = ["#e8912d", "#2bac76", "#1d9bd1", "#cd2553", "#7c3085", "#3aa3e3", "#d4a017"];
  let sum = 0;
  for (const character of String(id)) sum = (sum * 31 + character.charCodeAt(0)) >>> 0;
  return palette[sum % palette.length];
}

export function initials(name) {
  const words = String(name || "?")
    .trim()
    .split(/\s+/);
  return (
    words
      .slice(0, 2)
      .map((word) => word[0]?.toUpperCase() ?? "")
      .join("") || "?"
  );
}
