// Small floating pieces: the add-reaction picker, a button's confirm dialog, and a toast.
import { clear, h } from "./dom.js";
import { emojiFor, plainText } from "./mrkdwn.js";

const QUICK_REACTIONS = ["white_check_mark", "x", "thumbsup", "eyes", "tada"];

/** Opens the picker under `anchor`; onPick(name) is called with a reaction name. */
export function openPicker(root, anchor, onPick) {
  const close = () => {
    root.hidden = true;
    clear(root);
    document.removeEventListener("mousedown", outside, true);
  };
  const outside = (event) => {
    if (!root.contains(event.target) && event.target !== anchor) close();
  };
  const pick = (name) => {
    const cleaned = name.trim().replace(/^:|:$/g, "");
    if (!cleaned) return;
    close();
    onPick(cleaned);
  };
  const field = h("input", {
    type: "text",
    id: "reaction-name",
    testid: "reaction-name",
    placeholder: "emoji name, e.g. white_check_mark",
    autocomplete: "off",
  });
  const form = h(
    "form",
    {
      class: "picker-form",
      onsubmit: (event) => {
        event.preventDefault();
        pick(field.value);
      },
    },
    h("label", { for: "reaction-name", class: "visually-hidden", text: "Reaction name" }),
    field,
    h("button", { type: "submit", class: "button button-small", testid: "reaction-add" }, "Add"),
  );
  const quick = QUICK_REACTIONS.map((name) =>
    h(
      "button",
      {
        type: "button",
        class: "picker-emoji",
        testid: `pick-${name}`,
        title: `:${name}:`,
        "aria-label": `React with :${name}:`,
        onclick: () => pick(name),
      },
      emojiFor(name),
    ),
  );
  const escape = (event) => {
    if (event.key === "Escape") close();
  };
  clear(root).append(
    h("div", { onkeydown: escape }, h("div", { class: "picker-quick" }, quick), form),
  );
  root.dataset.testid = "reaction-picker";
  root.hidden = false;
  const box = anchor.getBoundingClientRect();
  const width = 300;
  root.style.left = `${Math.max(8, Math.min(box.left, window.innerWidth - width - 8))}px`;
  root.style.top = `${Math.min(box.bottom + 4, window.innerHeight - 110)}px`;
  document.addEventListener("mousedown", outside, true);
  field.focus();
  return close;
}

/** Slack's confirm object on a button: resolves true when the person confirms. */
export function confirmDialog(root, confirm) {
  return new Promise((resolve) => {
    const done = (answer) => {
      root.hidden = true;
      clear(root);
      resolve(answer);
    };
    const ok = h(
      "button",
      {
        type: "button",
        class: `button ${confirm.style === "danger" ? "button-danger" : "button-primary"}`,
        testid: "confirm-ok",
        onclick: () => done(true),
      },
      plainText(confirm.confirm?.text ?? "Yes"),
    );
    const dialog = h(
      "div",
      {
        class: "modal confirm",
        role: "alertdialog",
        "aria-modal": "true",
        "aria-labelledby": "confirm-title",
        testid: "confirm-dialog",
      },
      h(
        "header",
        { class: "modal-header" },
        h("h2", { id: "confirm-title" }, plainText(confirm.title?.text ?? "Are you sure?")),
      ),
      h("div", { class: "modal-body" }, plainText(confirm.text?.text ?? "")),
      h(
        "footer",
        { class: "modal-footer" },
        h(
          "button",
          { type: "button", class: "button", testid: "confirm-cancel", onclick: () => done(false) },
          plainText(confirm.deny?.text ?? "Cancel"),
        ),
        ok,
      ),
    );
    dialog.addEventListener("keydown", (event) => {
      if (event.key === "Escape") done(false);
    });
    clear(root).append(h("div", { class: "modal-backdrop" }, dialog));
    root.hidden = false;
    ok.focus();
  });
}

let toastTimer = null;

/** A short message at the bottom of the screen (errors the person should see). */
export function toast(root, message) {
  root.textContent = message;
  root.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    root.hidden = true;
  }, 7000);
}
