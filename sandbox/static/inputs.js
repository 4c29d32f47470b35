// The modal's input blocks: label, the element by type, hint and error line, and a reader that
// gives the element's value as the console expects it (string | null | list of option values).
import { textObject } from "./blocks.js";
import { h, unknownBox } from "./dom.js";
import { plainText } from "./mrkdwn.js";

/** One input block: label, element, hint, error line. Returns {node, blockId, reader, …}. */
export function inputField(block, blockId) {
  const element = block.element ?? {};
  const controlId = `input-${blockId}`;
  const hintId = `hint-${blockId}`;
  const errorId = `error-${blockId}`;
  const build = ELEMENTS[element.type];
  const grouped = element.type === "checkboxes" || element.type === "radio_buttons";
  const labelText = [
    plainText(block.label?.text),
    block.optional ? h("span", { class: "optional", text: " (optional)" }) : null,
  ];
  const label = grouped
    ? h("legend", { class: "input-label", id: `label-${blockId}` }, labelText)
    : h("label", { class: "input-label", for: controlId }, labelText);
  const control = build
    ? build(element, { controlId, blockId, describedBy: `${hintId} ${errorId}` })
    : { node: unknownBox("Element", element.type ?? "(none)", element), reader: null };
  const error = h("div", {
    class: "field-error",
    id: errorId,
    testid: errorId,
    role: "alert",
    hidden: true,
  });
  const hint = block.hint
    ? h("div", { class: "hint", id: hintId }, plainText(block.hint.text))
    : null;
  const node = h(
    grouped ? "fieldset" : "div",
    { class: "input-block", "data-block-id": blockId },
    label,
    control.node,
    error,
    hint,
  );
  return {
    node,
    blockId,
    reader: control.reader,
    optional: Boolean(block.optional),
    maxLength: element.max_length,
    minLength: element.min_length,
    focusTarget: control.focus ?? null,
    setError(text) {
      error.textContent = text ?? "";
      error.hidden = !text;
      node.classList.toggle("has-error", Boolean(text));
      control.focus?.setAttribute("aria-invalid", text ? "true" : "false");
    },
  };
}

function textReader(input) {
  return () => (input.value === "" ? null : input.value);
}

function textInput(type) {
  return (element, { controlId, describedBy }) => {
    const multiline = type === "text" && element.multiline;
    const input = h(multiline ? "textarea" : "input", {
      id: controlId,
      testid: controlId,
      class: "text-input",
      type: multiline ? null : type,
      rows: multiline ? 4 : null,
      placeholder: element.placeholder?.text ?? null,
      "aria-describedby": describedBy,
      autocomplete: "off",
      inputmode: type === "number" ? (element.is_decimal_allowed ? "decimal" : "numeric") : null,
      step: type === "number" && element.is_decimal_allowed ? "any" : null,
      "data-focus-on-load": element.focus_on_load ? true : null,
    });
    input.value = element.initial_value ?? "";
    return { node: input, reader: textReader(input), focus: input };
  };
}

function staticSelect(element, { controlId, describedBy }) {
  const select = h("select", {
    id: controlId,
    testid: controlId,
    class: "select",
    "aria-describedby": describedBy,
  });
  // An empty first choice, as Slack shows its placeholder until something is picked.
  select.append(h("option", { value: "", text: element.placeholder?.text ?? "Select an option" }));
  const option = (item) =>
    h("option", { value: item.value }, plainText(item.text?.text, { emoji: false }));
  for (const item of element.options ?? []) select.append(option(item));
  for (const group of element.option_groups ?? []) {
    select.append(
      h("optgroup", { label: group.label?.text ?? "" }, (group.options ?? []).map(option)),
    );
  }
  select.value = element.initial_option?.value ?? "";
  return { node: select, reader: () => (select.value === "" ? null : select.value), focus: select };
}

function choices(kind) {
  return (element, { controlId, blockId, describedBy }) => {
    const initial = new Set(
      kind === "checkbox"
        ? (element.initial_options ?? []).map((item) => item.value)
        : [element.initial_option?.value].filter(Boolean),
    );
    const boxes = [];
    const list = h("div", {
      class: "choices",
      testid: controlId,
      id: controlId,
      "aria-describedby": describedBy,
    });
    (element.options ?? []).forEach((item, index) => {
      const id = `${controlId}-${index}`;
      const box = h("input", {
        type: kind,
        id,
        name: blockId,
        value: item.value,
        testid: `${controlId}-${item.value}`,
      });
      box.checked = initial.has(item.value);
      boxes.push(box);
      list.append(
        h(
          "div",
          { class: "choice" },
          box,
          h(
            "label",
            { for: id },
            textObject(item.text, {}, "choice-text"),
            item.description ? textObject(item.description, {}, "choice-description") : null,
          ),
        ),
      );
    });
    const checked = () => boxes.filter((box) => box.checked).map((box) => box.value);
    const reader = kind === "checkbox" ? checked : () => checked()[0] ?? null;
    return { node: list, reader, focus: boxes[0] ?? null };
  };
}

/** No uploads in the sandbox: the element is listed with a note, and nothing is sent for it. */
function fileInput(element, { controlId, describedBy }) {
  const accepts = (element.filetypes ?? []).map((type) => `.${type}`).join(", ");
  const most = element.max_files;
  const limits = [
    accepts ? `accepts ${accepts}` : null,
    most ? `at most ${most} file${most > 1 ? "s" : ""}` : null,
  ].filter(Boolean);
  const note = h(
    "div",
    {
      class: "file-input-note",
      id: controlId,
      testid: controlId,
      tabindex: "-1",
      "aria-describedby": describedBy,
    },
    h("strong", { text: "File upload is not available in the sandbox: paste the CSV instead." }),
    limits.length ? h("div", { class: "muted", text: `In Slack: ${limits.join("; ")}.` }) : null,
    h(
      "details",
      { class: "file-input-json" },
      h("summary", { text: "The file_input element" }),
      h("pre", { class: "unknown-json", text: JSON.stringify(element, null, 2) }),
    ),
  );
  return { node: note, reader: null, focus: null };
}

const ELEMENTS = {
  file_input: fileInput,
  plain_text_input: textInput("text"),
  email_text_input: textInput("email"),
  url_text_input: textInput("url"),
  number_input: textInput("number"),
  static_select: staticSelect,
  checkboxes: choices("checkbox"),
  radio_buttons: choices("radio"),
};
