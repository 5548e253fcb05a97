// The Access tokens page: the logged-in user's tokens (administrators: robot tokens too), creating one
// (its secret is shown once, here, and never again) and revoking (GET/POST/DELETE /v2/_dockyard/tokens).
import { api, confirmDelete, setCrumbs, state } from "./core.js";
import { h, timeCell, toast } from "./dom.js";

const ACTIONS = ["pull", "push", "delete", "overwrite"];
const LIFETIMES = [["30d", "30 days"], ["90d", "90 days"], ["365d", "1 year"], ["", "Never"]];

function tokenRow(token) {
  const owner = token.robot ? "robot:" + token.name : token.user;
  return h("tr", { "data-token": token.name },
    h("td", {}, token.name),
    h("td", {}, token.robot ? h("span", { class: "badge" }, "robot") : owner),
    h("td", {}, token.repositories.map((glob) => h("code", {}, glob)), ""),
    h("td", {}, token.actions.join(", ")),
    h("td", { class: "nowrap" }, token.expires ? h("time", { datetime: token.expires }, token.expires.slice(0, 10)) : "never"),
    h("td", { class: "nowrap" }, timeCell(token.lastUsed ? Date.parse(token.lastUsed) / 1000 : null)),
    h("td", {}, h("button", {
      type: "button", class: "danger small", "aria-label": "Revoke token " + token.name,
      onclick: () => confirmDelete("Revoke token " + token.name + "? Whatever uses it is refused at once.",
        "/tokens/" + token.id, "Token " + token.name + " revoked"),
    }, "Revoke")));
}

function createForm(robots, shown) {
  const name = h("input", { name: "name", required: true, maxlength: 64, pattern: "[A-Za-z0-9][A-Za-z0-9._\\-]*", autocomplete: "off" });
  const repositories = h("input", { name: "repositories", required: true, placeholder: "team/** other/app", autocomplete: "off" });
  const actions = ACTIONS.map((action) => h("label", { class: "inline" },
    h("input", { type: "checkbox", name: "actions", value: action, checked: action === "pull" }), action));
  const expires = h("select", { name: "expires" }, LIFETIMES.map(([value, text]) => h("option", { value, selected: value === "90d" }, text)));
  const robot = robots ? h("label", { class: "inline" }, h("input", { type: "checkbox", name: "robot" }), "Robot token (belongs to no person)") : null;
  const error = h("p", { class: "error", role: "alert", id: "token-error" });
  const form = h("form", { id: "token-form", class: "token-form" },
    h("h2", {}, "New token"),
    h("label", {}, "Name", name),
    h("label", {}, "Repositories (globs, separated by spaces)", repositories),
    h("fieldset", {}, h("legend", {}, "Actions"), actions),
    h("label", {}, "Expires", expires),
    robot, error,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Create token")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      name: name.value,
      repositories: repositories.value.split(/\s+/).filter(Boolean),
      actions: [...form.querySelectorAll("input[name=actions]:checked")].map((box) => box.value),
      expires: expires.value || null,
      robot: Boolean(robot && robot.querySelector("input").checked),
    };
    try {
      const created = await api("/tokens", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      shown(created);
    } catch (failure) {
      error.textContent = failure.message;
    }
  });
  return form;
}

function secretNotice(created) {
  const user = created.token.robot ? "robot" : created.token.user;
  return h("div", { class: "notice", id: "token-secret", role: "status" },
    h("p", {}, "Token " + created.token.name + " created. Copy its secret now: it is not shown again."),
    h("p", {}, h("code", { id: "secret" }, created.secret)),
    h("p", { class: "muted" }, "Use it as the password: ", h("code", {}, "docker login -u " + user + " " + location.host)));
}

export async function renderTokens(main, created = null) {
  document.title = "Access tokens \u2013 dockyard";
  setCrumbs([["Access tokens"]]);
  const listing = await api("/tokens");
  const header = ["Name", "For", "Repositories", "Actions", "Expires", "Last used", ""].map((text) => h("th", { scope: "col" }, text));
  main.replaceChildren(
    h("h1", {}, "Access tokens"),
    h("p", { class: "muted" }, "Tokens work as the password for docker login and other clients, limited to their repositories "
      + "and actions, and never beyond what " + (state.session.user || "you") + " may do."),
    created ? secretNotice(created) : null,
    listing.tokens.length
      ? h("table", { id: "tokens" }, h("thead", {}, h("tr", {}, header)), h("tbody", {}, listing.tokens.map(tokenRow)))
      : h("p", { class: "muted", id: "tokens" }, "No tokens yet."),
    createForm(listing.robots, (made) => { toast("Token " + made.token.name + " created"); renderTokens(main, made); }));
}
