// Files shared in a message (a bulk request's outcome CSV, an audit export): a card per file with
// its name, size and a download link to the emulator, which serves the bytes.
import { h, rawBox } from "./dom.js";

const SHOWN_FIELDS = new Set(["id", "name", "title", "size", "url"]);

/** The cards of a message's `files`, or null when it has none. */
export function fileCards(files) {
  if (!Array.isArray(files) || !files.length) return null;
  return h("div", { class: "files" }, files.map(fileCard));
}

function fileCard(file) {
  const name = String(file?.name ?? file?.id ?? "file");
  const title = String(file?.title || name);
  const href = downloadUrl(file?.url);
  // A field the card does not show is listed raw, never dropped.
  const extra = Object.fromEntries(
    Object.entries(file ?? {}).filter(([key]) => !SHOWN_FIELDS.has(key)),
  );
  return h(
    "div",
    { class: "file-card", testid: `file-${file?.id ?? name}` },
    h("div", { class: "file-icon", "aria-hidden": "true", text: fileKind(name) }),
    h(
      "div",
      { class: "file-text" },
      h("div", { class: "file-title", testid: "file-title", text: title }),
      h("div", {
        class: "file-meta",
        testid: "file-meta",
        text: `${name} · ${fileSize(file?.size)}`,
      }),
    ),
    href
      ? h(
          "a",
          {
            class: "button button-small file-download",
            testid: "file-download",
            href,
            download: name,
            rel: "noopener noreferrer",
            title: `Download ${name}`,
          },
          "Download",
        )
      : h("span", { class: "muted file-missing", text: "no download link" }),
    Object.keys(extra).length ? rawBox("File fields the sandbox does not show", extra) : null,
  );
}

/** Only web links: a `javascript:` or other URL is never put in an href. */
function downloadUrl(url) {
  if (typeof url !== "string" || !url) return null;
  try {
    const parsed = new URL(url, location.href);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

/** "CSV", "TXT", … from the name, as Slack's file icon shows the type. */
function fileKind(name) {
  const dot = name.lastIndexOf(".");
  const extension = dot > 0 ? name.slice(dot + 1) : "";
  return extension ? extension.slice(0, 4).toUpperCase() : "FILE";
}

/** Bytes as Slack writes them: "812 B", "3 KB", "1.2 MB". */
export function fileSize(bytes) {
  const size = Number(bytes);
  if (!Number.isFinite(size) || size < 0) return "size unknown";
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${Math.round(size / 1024)} KB`;
  return `${(size / (1024 * 1024)).toFixed(1)} MB`;
}
