// dockyard UI: a small single-page app over the /v2/_dockyard/ JSON API. No dependencies.
// Pages are addressed by the URL fragment, so every view has a link and the back button works:
//   #/?q=&sort=&offset=                  repositories
//   #/r/<name>?q=&sort=&offset=          tags of a repository
//   #/r/<name>/-/m/<reference>           one manifest (a tag or a digest)
//   #/replication                        replication rules and their runs
//   #/audit?repository=&user=&since=     the audit log (administrators)
//   #/tokens                             the user's access tokens
import { api, confirmDelete, manifestLink, repoPath, repositoryLink, setCrumbs, state } from "./core.js";
import { formatBytes, h, mediaBadge, shortDigest, timeCell, toast } from "./dom.js";
import { renderManifest } from "./manifest.js";
import { renderAudit } from "./audit.js";
import { renderReplication } from "./replication.js";
import { renderTokens } from "./tokens.js";

const PAGE = 50;
const main = document.getElementById("main");

// ---- routing --------------------------------------------------------------------------------
function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query] = raw.split("?");
  const params = new URLSearchParams(query || "");
  if (path === "/replication") return { view: "replication", params };
  if (path === "/audit") return { view: "audit", params };
  if (path === "/tokens") return { view: "tokens", params };
  let match = path.match(/^\/r\/(.+)\/-\/m\/([^/]+)$/);
  if (match) return { view: "manifest", name: decodeURIComponent(match[1]), reference: decodeURIComponent(match[2]), params };
  match = path.match(/^\/r\/(.+)$/);
  if (match) return { view: "tags", name: decodeURIComponent(match[1]), params };
  return { view: "repositories", params };
}

async function render() {
  const route = parseHash();
  main.setAttribute("aria-busy", "true");
  try {
    if (route.view === "manifest") await renderManifest(main, route);
    else if (route.view === "tags") await renderTags(route);
    else if (route.view === "replication") await renderReplication(main);
    else if (route.view === "audit") await renderAudit(main, route);
    else if (route.view === "tokens") await renderTokens(main);
    else await renderRepositories(route);
  } catch (error) {
    main.replaceChildren(errorNotice(error));
  } finally {
    main.removeAttribute("aria-busy");
  }
}

function errorNotice(error) {
  const notice = h("div", { class: "notice error", role: "alert" }, h("p", {}, error.message));
  if (error.status === 401 && state.session.authEnabled) {
    notice.append(h("p", {}, h("button", { type: "button", class: "primary", onclick: openLogin }, "Log in")));
  }
  return notice;
}

function updateQuery(changes) {
  const route = parseHash();
  const params = route.params;
  for (const [key, value] of Object.entries(changes)) {
    if (value === "" || value === null || value === 0) params.delete(key);
    else params.set(key, value);
  }
  const base = location.hash.replace(/^#/, "").split("?")[0] || "/";
  const query = params.toString();
  location.hash = base + (query ? "?" + query : "");
}

// ---- listing pages (repositories and tags share the toolbar and pager) -----------------------
function listToolbar(route, placeholder, sorts) {
  const search = h("input", {
    type: "search", id: "search", placeholder, value: route.params.get("q") || "",
    "aria-label": placeholder, autocomplete: "off",
  });
  search.addEventListener("input", () => {
    clearTimeout(search.timer);
    search.timer = setTimeout(() => updateQuery({ q: search.value, offset: 0 }), 250);
  });
  const sort = h("select", { id: "sort" },
    sorts.map(([value, text]) => h("option", { value, selected: (route.params.get("sort") || "name") === value }, text)));
  sort.addEventListener("change", () => updateQuery({ sort: sort.value, offset: 0 }));
  return h("div", { class: "toolbar" }, h("label", {}, "Search", search), h("label", {}, "Sort by", sort));
}

function pager(offset, count, total) {
  const previous = h("button", { type: "button", id: "previous", disabled: offset === 0 }, "\u2190 Previous");
  const next = h("button", { type: "button", id: "next", disabled: offset + count >= total }, "Next \u2192");
  previous.addEventListener("click", () => updateQuery({ offset: Math.max(0, offset - PAGE) }));
  next.addEventListener("click", () => updateQuery({ offset: offset + PAGE }));
  const range = total === 0 ? "nothing found" : (offset + 1) + "\u2013" + (offset + count) + " of " + total.toLocaleString("en");
  return h("div", { class: "pager" }, h("span", { class: "muted", id: "range" }, range), previous, next);
}

function listQuery(route) {
  const query = new URLSearchParams({ n: PAGE, offset: route.params.get("offset") || 0 });
  if (route.params.get("q")) query.set("q", route.params.get("q"));
  if (route.params.get("sort")) query.set("sort", route.params.get("sort"));
  return query.toString();
}

function keepFocus(id) {
  const previous = document.activeElement && document.activeElement.id;
  return () => {
    const target = document.getElementById(previous === id ? id : "");
    if (target) { target.focus(); if (target.value !== undefined && target.setSelectionRange) target.setSelectionRange(target.value.length, target.value.length); }
  };
}

async function renderRepositories(route) {
  document.title = "Repositories \u2013 dockyard";
  setCrumbs([["Repositories"]]);
  const restore = keepFocus("search");
  const page = await api("/repositories?" + listQuery(route));
  const rows = page.repositories.map((repo) => h("tr", {},
    h("td", {}, h("a", { href: repositoryLink(repo.name) }, repo.name), repo.cacheOf ? [" ", cacheBadge(repo.cacheOf)] : null),
    h("td", { class: "num" }, repo.tagCount.toLocaleString("en")),
    h("td", { class: "num" }, formatBytes(repo.size)),
    h("td", { class: "nowrap" }, timeCell(repo.lastPush))));
  main.replaceChildren(
    h("h1", {}, "Repositories"),
    listToolbar(route, "Filter repositories", [["name", "Name"], ["-name", "Name, Z\u2013A"], ["pushed", "Last push, newest"], ["-pushed", "Last push, oldest"]]),
    h("table", { id: "repositories" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Repository"), h("th", { scope: "col", class: "num" }, "Tags"),
        h("th", { scope: "col", class: "num" }, "Size"), h("th", { scope: "col" }, "Last push"))),
      h("tbody", {}, rows)),
    pager(page.offset, page.repositories.length, page.total),
    state.session.authEnabled && !state.session.user
      ? h("p", { class: "muted", id: "anonymous-hint" }, "Showing what anyone may pull. Log in to see more.") : null);
  restore();
}

// A cache repository of the pull-through cache, named by its upstream.
function cacheBadge(cacheOf) {
  return h("span", { class: "badge kind-cache", title: "cache of " + cacheOf.url + "/" + cacheOf.repository }, "cache of " + cacheOf.upstream);
}

async function renderTags(route) {
  const name = route.name;
  document.title = name + " \u2013 dockyard";
  setCrumbs([["Repositories", "#/"], [name]]);
  const restore = keepFocus("search");
  const [page, rights] = await Promise.all([api(repoPath(name) + "/tags?" + listQuery(route)), api(repoPath(name) + "/rights")]);
  const rows = page.tags.map((tag) => h("tr", {},
    h("td", {}, h("a", { href: manifestLink(name, tag.name) }, tag.name)),
    h("td", {}, h("a", { class: "mono", href: manifestLink(name, tag.digest), title: tag.digest }, shortDigest(tag.digest))),
    h("td", {}, mediaBadge(tag.mediaType)),
    h("td", { class: "num" }, formatBytes(tag.totalSize)),
    h("td", { class: "nowrap" }, timeCell(tag.pushed)),
    rights.delete ? h("td", {}, h("button", {
      type: "button", class: "danger small", "data-delete-tag": tag.name, "aria-label": "Delete tag " + tag.name,
      onclick: () => confirmDelete("Delete tag " + tag.name + " of " + name + "? The manifest stays under its digest and other tags.",
        repoPath(name) + "/tags/" + encodeURIComponent(tag.name), "Tag " + tag.name + " deleted"),
    }, "Delete")) : null));
  const header = [h("th", { scope: "col" }, "Tag"), h("th", { scope: "col" }, "Digest"), h("th", { scope: "col" }, "Type"),
    h("th", { scope: "col", class: "num" }, "Size"), h("th", { scope: "col" }, "Pushed"),
    rights.delete ? h("th", { scope: "col" }, h("span", { class: "muted" }, "Actions")) : null];
  main.replaceChildren(
    h("h1", {}, name, rights.cacheOf ? [" ", cacheBadge(rights.cacheOf)] : null),
    rights.cacheOf ? h("p", { class: "muted", id: "cache-note" }, "A pull-through cache of " + rights.cacheOf.repository +
      " at " + rights.cacheOf.url + ": pulls fetch what it lacks; it takes no pushes or deletes.") : null,
    listToolbar(route, "Filter tags", [["name", "Name"], ["-name", "Name, Z\u2013A"], ["pushed", "Pushed, newest"], ["-pushed", "Pushed, oldest"]]),
    h("table", { id: "tags" }, h("thead", {}, h("tr", {}, header)), h("tbody", {}, rows)),
    pager(page.offset, page.tags.length, page.total));
  restore();
}

// ---- session: who is logged in, logging in and out ----------------------------------------------
async function loadSession() {
  state.session = await api("/session");
  const account = document.getElementById("account");
  if (!state.session.authEnabled) { account.replaceChildren(); return; }
  if (state.session.user) {
    account.replaceChildren(h("a", { class: "nav-link", href: "#/tokens", id: "tokens-link" }, "Access tokens"),
      h("span", { class: "muted", id: "user" }, "Signed in as " + state.session.user),
      h("button", { type: "button", id: "logout", onclick: logout }, "Log out"));
  } else {
    const login = h("button", { type: "button", id: "login", class: "primary", onclick: openLogin }, "Log in");
    const singleSignOn = state.session.singleSignOn
      ? [h("a", { class: "button", id: "sso-login", href: "/ui/oidc/login" }, "Log in with single sign-on")] : [];
    account.replaceChildren(...singleSignOn, login);
  }
}

function openLogin() {
  document.getElementById("login-error").textContent = "";
  document.getElementById("login-dialog").showModal();
}

async function login(event) {
  event.preventDefault();
  const form = event.target;
  const credentials = form.username.value + ":" + form.password.value;
  const encoded = btoa(String.fromCharCode(...new TextEncoder().encode(credentials)));
  try {
    await api("/session", { method: "POST", headers: { Authorization: "Basic " + encoded } });
  } catch (error) {
    document.getElementById("login-error").textContent = error.status === 401 ? "Wrong user name or password." : error.message;
    return;
  }
  form.reset();
  document.getElementById("login-dialog").close();
  await loadSession();
  toast("Signed in as " + state.session.user);
  render();
}

async function logout() {
  const answer = await api("/session", { method: "DELETE" });
  // A session from the identity provider: end the provider's session too.
  if (answer && answer.providerLogout) { window.location.assign(answer.providerLogout); return; }
  await loadSession();
  render();
}

// ---- start -------------------------------------------------------------------------------------
document.getElementById("login-form").addEventListener("submit", login);
document.querySelector("#login-form [data-close]").addEventListener("click", () => document.getElementById("login-dialog").close());
document.addEventListener("keydown", (event) => {
  // "/" jumps to the search field, as on most code hosts.
  const search = document.getElementById("search");
  if (event.key === "/" && search && !["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName)) {
    event.preventDefault();
    search.focus();
  }
});
window.addEventListener("hashchange", render);
window.addEventListener("dockyard:changed", render);
loadSession().then(render, (error) => main.replaceChildren(errorNotice(error)));
