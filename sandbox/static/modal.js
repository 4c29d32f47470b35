// The modal dialog: renders the bot's view, collects the person's input by block_id, shows the
// bot's inline errors, keeps what was typed when only the errors change, and sends its buttons'
// clicks (a preview's "Back") as clicks in that view.
import { renderBlock } from "./blocks.js";
import { clear, h } from "./dom.js";
import { inputField } from "./inputs.js";
import { plainText } from "./mrkdwn.js";

const REQUIRED = "Please complete this required field.";

export class Modal {
  /**
   * root: an empty element; actions: {submit(viewId, inputs), close(viewId),
   * action(viewId, element, block)} → Promise<Outcome>, and confirm(element) → Promise<boolean>
   * (the button's confirm dialog; true when it has none).
   */
  constructor(root, actions) {
    this.root = root;
    this.actions = actions;
    this.key = null;
    this.snapshotErrors = "{}";
    this.fields = [];
    this.busy = false;
  }

  /** Called on every state change with snapshot.view (null when no modal is open). */
  update(state, ctx) {
    if (!state || !state.view) {
      this.hide();
      return;
    }
    const key = `${state.id}|${JSON.stringify(state.view)}`;
    const errors = JSON.stringify(state.errors ?? {});
    if (key !== this.key) {
      this.build(state, ctx);
      this.key = key;
      this.snapshotErrors = errors;
      this.showErrors(state.errors ?? {});
    } else if (errors !== this.snapshotErrors) {
      this.snapshotErrors = errors;
      this.showErrors(state.errors ?? {});
    }
  }

  get open() {
    return this.key !== null;
  }

  hide() {
    if (this.key === null) return;
    this.key = null;
    this.fields = [];
    clear(this.root);
    this.root.hidden = true;
    this.onHidden?.();
  }

  build(state, ctx) {
    const view = state.view;
    this.viewId = state.id;
    this.fields = [];
    this.generalError = h("div", { class: "modal-alert", role: "alert", hidden: true });
    const form = h("form", { class: "modal-body", id: "modal-form", novalidate: true });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    (view.blocks ?? []).forEach((block, index) => form.append(this.block(block, index, ctx)));
    const dialog = h(
      "div",
      {
        class: "modal",
        role: "dialog",
        "aria-modal": "true",
        "aria-labelledby": "modal-title",
        testid: "modal",
      },
      h(
        "header",
        { class: "modal-header" },
        h("h2", { id: "modal-title" }, plainText(view.title?.text)),
        h(
          "button",
          { type: "button", class: "modal-x", "aria-label": "Close", onclick: () => this.close() },
          "×",
        ),
      ),
      this.generalError,
      form,
      this.footer(view),
    );
    dialog.addEventListener("keydown", (event) => this.keydown(event, dialog));
    clear(this.root).append(h("div", { class: "modal-backdrop" }, dialog));
    this.root.hidden = false;
    // Focus moves into the dialog, as Slack's does: the first field, else the dialog's buttons.
    const first =
      dialog.querySelector("[data-focus-on-load]") ??
      dialog.querySelector(".modal-body input, .modal-body textarea, .modal-body select") ??
      dialog.querySelector("footer button");
    first?.focus();
  }

  footer(view) {
    this.submitButton = view.submit
      ? h(
          "button",
          {
            type: "submit",
            form: "modal-form",
            class: "button button-primary",
            testid: "modal-submit",
          },
          plainText(view.submit.text),
        )
      : null;
    return h(
      "footer",
      { class: "modal-footer" },
      h(
        "button",
        { type: "button", class: "button", testid: "modal-close", onclick: () => this.close() },
        plainText(view.close?.text ?? "Cancel"),
      ),
      this.submitButton,
    );
  }

  block(block, index, ctx) {
    if (block.type !== "input") {
      const onAction = (element, where, button) => this.click(element, where, button);
      return renderBlock(block, { ...ctx, onAction });
    }
    const blockId = block.block_id ?? `block-${index}`;
    const field = inputField(block, blockId);
    // A field without a reader (a file_input) sends nothing but can still show the bot's error.
    this.fields.push(field);
    return field.node;
  }

  collect() {
    const inputs = {};
    for (const field of this.fields) if (field.reader) inputs[field.blockId] = field.reader();
    return inputs;
  }

  /** Slack itself refuses an empty required field or an over-long text before the app sees it. */
  localErrors(inputs) {
    const errors = {};
    for (const field of this.fields) {
      if (!field.reader) continue;
      const value = inputs[field.blockId];
      const empty = value === null || (Array.isArray(value) && value.length === 0);
      if (empty && !field.optional) errors[field.blockId] = REQUIRED;
      else if (typeof value === "string" && field.maxLength && value.length > field.maxLength) {
        errors[field.blockId] =
          `Must be at most ${field.maxLength} characters (this has ${value.length}).`;
      } else if (typeof value === "string" && field.minLength && value.length < field.minLength) {
        errors[field.blockId] = `Must be at least ${field.minLength} characters.`;
      }
    }
    return errors;
  }

  async submit() {
    if (this.busy || !this.open) return;
    const inputs = this.collect();
    const local = this.localErrors(inputs);
    if (Object.keys(local).length) {
      this.showErrors(local, { focus: true });
      return;
    }
    await this.send(() => this.actions.submit(this.viewId, inputs), this.submitButton);
  }

  async close() {
    if (this.busy || !this.open) return;
    await this.send(() => this.actions.close(this.viewId), null);
  }

  /** A button in the view: Slack sends it as a block_actions from this view; the bot may then
   * update the view (the preview's Back returns the form). */
  async click(element, block, button) {
    if (this.busy || !this.open) return;
    const viewId = this.viewId;
    if (!(await this.actions.confirm(element))) return;
    if (viewId !== this.viewId) return; // the view changed while the confirm dialog was up
    await this.send(() => this.actions.action(viewId, element, block), button);
  }

  async send(request, button) {
    this.busy = true;
    if (button) button.disabled = true;
    this.generalError.hidden = true;
    try {
      const outcome = await request();
      if (outcome.errors && Object.keys(outcome.errors).length)
        this.showErrors(outcome.errors, { focus: true });
      else if (!outcome.ok)
        this.alert(outcome.message || `The request failed (${outcome.result}).`);
    } catch (error) {
      this.alert(`Could not reach the sandbox console: ${error.message}`);
    } finally {
      this.busy = false;
      if (button) button.disabled = false;
    }
  }

  alert(message) {
    if (!this.generalError) return;
    this.generalError.textContent = message;
    this.generalError.hidden = false;
  }

  /** Errors by block_id under their fields; `focus` moves to the first (after a submit only). */
  showErrors(errors, { focus = false } = {}) {
    const known = new Set(this.fields.map((field) => field.blockId));
    for (const field of this.fields) field.setError(errors[field.blockId] ?? null);
    // An error for a block this view does not have is still shown, not dropped.
    const stray = Object.entries(errors).filter(([blockId]) => !known.has(blockId));
    if (stray.length) this.alert(stray.map(([blockId, text]) => `${blockId}: ${text}`).join("\n"));
    else if (this.generalError) this.generalError.hidden = true;
    const firstBad = this.fields.find((field) => errors[field.blockId]);
    if (focus) firstBad?.focusTarget?.focus();
  }

  keydown(event, dialog) {
    if (event.key === "Escape") {
      event.preventDefault();
      this.close();
      return;
    }
    if (event.key !== "Tab") return;
    // Keep keyboard focus inside the dialog while it is open.
    const focusable = [...dialog.querySelectorAll("button, input, select, textarea")].filter(
      (node) => !node.disabled,
    );
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  }
}
