// zoombot's App Home tab in the main pane: the Home view the bot last published for this person
// (views.publish), its buttons sent as clicks in that view.
import { renderBlocks } from "./blocks.js";
import { h } from "./dom.js";

/**
 * home: snapshot.home ({id, view, hash} | null); status: {opening, problem};
 * ctx: the timeline's ctx plus actInView(viewId, element, block, button).
 */
export function homePane(home, status, ctx) {
  const problem = status.problem
    ? h("div", {
        class: "home-problem",
        role: "alert",
        testid: "home-problem",
        text: status.problem,
      })
    : null;
  if (!home?.view) return [problem, waiting(status)].filter(Boolean);
  const onAction = (element, block, button) => ctx.actInView(home.id, element, block, button);
  const view = h(
    "section",
    { class: "home-view", testid: "home-view", "data-view-id": home.id },
    renderBlocks(home.view.blocks, { ...ctx, onAction }),
  );
  return [problem, view].filter(Boolean);
}

function waiting(status) {
  const text = status.opening
    ? "Opening the Home: Slack tells zoombot (app_home_opened) and it publishes the view…"
    : "zoombot has not published a Home for you yet. It publishes one each time you open this tab.";
  return h(
    "div",
    { class: "empty-channel", testid: "home-empty" },
    h("h2", { text: "zoombot’s Home" }),
    h("p", { text }),
  );
}
