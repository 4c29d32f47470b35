// The message composer: only the slash command is sent (as Slack would, to the bot); any other
// text gets a hint. While a "/" word is typed, Slack's command suggestion shows.
import { clear, h } from "./dom.js";

const $ = (id) => document.getElementById(id);

/** command() → "/zoom-subaccount"; run(text) sends the command's arguments, → Outcome. */
export function setupComposer({ command, run }) {
  const input = $("composer");
  $("composer-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    const [word, ...rest] = text.split(/\s+/);
    if (word !== command()) {
      hint(refusal(word, command()));
      return;
    }
    input.value = "";
    hint(null);
    suggest(command());
    const outcome = await run(rest.join(" "));
    if (!outcome.ok && outcome.message) hint(`${command()} failed: ${outcome.message}`);
  });
  input.addEventListener("input", () => {
    hint(null);
    suggest(command());
  });
}

function refusal(word, command) {
  if (word.startsWith("/"))
    return `${word} is not a command here. This sandbox only knows ${command}.`;
  return `Messages are not sent in the sandbox: only the slash command works here. Type ${command}.`;
}

export function hint(message) {
  const node = $("composer-hint");
  node.hidden = !message;
  node.textContent = message ?? "";
}

function suggest(command) {
  const node = $("suggestions");
  const input = $("composer");
  const value = input.value;
  const show = value.startsWith("/") && !value.includes(" ") && command.startsWith(value);
  node.hidden = !show;
  if (!show) return;
  const complete = () => {
    input.value = `${command} `;
    suggest(command);
    input.focus();
  };
  clear(node).append(
    h(
      "button",
      { type: "button", class: "suggestion", testid: "suggestion", onclick: complete },
      h("strong", { text: command }),
      h("span", { class: "muted", text: " [help | status ID] — request a Zoom sub account" }),
    ),
  );
}
