// The left sidebar: the channel list with unread badges, the DM with zoombot and its App Home,
// and the "You are" switcher listing the sandbox's people with their roles.
import { avatarColor, h, initials } from "./dom.js";

export function roleBadge(role) {
  return h("span", { class: `role role-${String(role).replace(/\s+/g, "-")}`, text: role });
}

export function personAvatar(id, name) {
  return h("span", {
    class: "avatar avatar-small",
    style: `background:${avatarColor(id)}`,
    "aria-hidden": "true",
    text: initials(name),
  });
}

/** One entry per channel; unread(channel) gives its badge count, onSelect(id) switches. */
export function channelEntries(channels, { current, unread, onSelect }) {
  return channels.map((channel) => {
    const count = unread(channel);
    const active = channel.id === current;
    const label =
      channel.kind === "im"
        ? ["● ", channel.name, h("span", { class: "app-badge", text: "APP" })]
        : ["# ", channel.name];
    const button = h(
      "button",
      {
        type: "button",
        class: `nav-item${active ? " active" : ""}${count ? " unread" : ""}`,
        testid: `channel-${channel.id}`,
        "aria-current": active ? "page" : null,
        onclick: () => onSelect(channel.id),
      },
      h("span", { class: "nav-label" }, label),
      count ? h("span", { class: "badge", text: String(count) }) : null,
    );
    return h("li", {}, button);
  });
}

/** The bot's App Home tab, under its DM as Slack lists an app's tabs. */
export function homeEntry({ active, onSelect }) {
  const button = h(
    "button",
    {
      type: "button",
      class: `nav-item nav-sub${active ? " active" : ""}`,
      testid: "channel-home",
      "aria-current": active ? "page" : null,
      title: "zoombot's App Home: your requests, and those waiting for your decision",
      onclick: onSelect,
    },
    h("span", { class: "nav-label" }, "⌂ Home"),
  );
  return h("li", {}, button);
}

export function personEntries(people, { me, onSelect }) {
  return people.map((item) => {
    const current = item.id === me;
    const text = h(
      "span",
      { class: "person-text" },
      h("span", { class: "person-name" }, item.name, roleBadge(item.role)),
      h("span", { class: "person-description", text: item.description ?? "" }),
    );
    const button = h(
      "button",
      {
        type: "button",
        class: `person${current ? " active" : ""}`,
        testid: `person-${item.id}`,
        "aria-pressed": current ? "true" : "false",
        onclick: () => onSelect(item.id),
      },
      personAvatar(item.id, item.name),
      text,
    );
    return h("li", {}, button);
  });
}

/** "You are Riley Rivera (requester)" in the channel header. */
export function viewerChip(id, person) {
  return [
    personAvatar(id, person?.name ?? id),
    h(
      "span",
      {},
      "You are ",
      h("strong", { text: person?.name ?? id }),
      person ? roleBadge(person.role) : null,
    ),
  ];
}
