// dockyard UI: a small single-page app over the /v2/_dockyard/ JSON API. No dependencies.
// Pages are addressed by the URL fragment, so every view has a link and the back button works:
//   #/?q=&sort=&offset=                  repositories
//   #/r/<name>?q=&sort=&offset=          tags of a repository
//   #/r/<name>/-/m/<reference>           one manifest (a tag or a digest)
"use strict";

const API = "/v2/_dockyard";
const PAGE = 50;
const main = document.getElementById("main");
const state = { session: { user: null, authEnabled: false, csrf: "" } };

// ---- DOM helpers: every text goes in as text, never as markup --------------------------------
function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return (unit === 0 ? String(value) : value.toFixed(value < 10 ? 1 : 0)) + " " + units[unit];
}

function timeCell(seconds) {
  if (!seconds) return h("span", { class: "muted" }, "never");
  const date = new Date(seconds * 1000);
  const ago = (Date.now() - date.getTime()) / 1000;
  const steps = [[60, "s", 1], [3600, "min", 60], [86400, "h", 3600], [86400 * 30, "d", 86400], [Infinity, "mo", 86400 * 30]];
  const [, unit, size] = steps.find(([limit]) => ago < limit);
  const text = ago < 10 ? "just now" : Math.floor(ago / size) + " " + unit + " ago";
  return h("time", { datetime: date.toISOString(), title: date.toISOString() }, text);
}

function shortDigest(digest) {
  const [algorithm, hex] = String(digest).split(":");
  return algorithm + ":" + (hex || "").slice(0, 12);
}

function toast(text) {
  const box = document.getElementById("toast");
  box.textContent = text;
  box.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => box.classList.remove("show"), 2500);
}

// ---- API ------------------------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, options = {}) {
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  if (options.method && options.method !== "GET") headers["X-Dockyard-CSRF"] = state.session.csrf;
  const response = await fetch(API + path, { credentials: "same-origin", ...options, headers });
  if (response.ok) {
    const text = await response.text(); // read to the end, so the request completes
    return text ? JSON.parse(text) : null;
  }
  let message = response.status + " " + response.statusText;
  try {
    const body = await response.json();
    if (body.errors && body.errors[0]) message = body.errors[0].message;
  } catch (ignored) { /* not JSON: keep the status line */ }
  throw new ApiError(response.status, message);
}

const repoPath = (name) => "/repositories/" + name + "/-";

// ---- routing --------------------------------------------------------------------------------
function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query] = raw.split("?");
  const params = new URLSearchParams(query || "");
  let match = path.match(/^\/r\/(.+)\/-\/m\/([^/]+)$/);
  if (match) return { view: "manifest", name: decodeURIComponent(match[1]), reference: decodeURIComponent(match[2]), params };
  match = path.match(/^\/r\/(.+)$/);
  if (match) return { view: "tags", name: decodeURIComponent(match[1]), params };
  return { view: "repositories", params };
}

const repositoryLink = (name) => "#/r/" + name;
const manifestLink = (name, reference) => "#/r/" + name + "/-/m/" + reference;

function setCrumbs(items) {
  const list = document.getElementById("crumbs");
  list.replaceChildren(...items.map(([text, href]) =>
    h("li", {}, href ? h("a", { href }, text) : h("span", { "aria-current": "page" }, text))));
}

async function render() {
  const route = parseHash();
  main.setAttribute("aria-busy", "true");
  try {
    if (route.view === "manifest") await renderManifest(route);
    else if (route.view === "tags") await renderTags(route);
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
    h("td", {}, h("a", { href: repositoryLink(repo.name) }, repo.name)),
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
    h("h1", {}, name),
    listToolbar(route, "Filter tags", [["name", "Name"], ["-name", "Name, Z\u2013A"], ["pushed", "Pushed, newest"], ["-pushed", "Pushed, oldest"]]),
    h("table", { id: "tags" }, h("thead", {}, h("tr", {}, header)), h("tbody", {}, rows)),
    pager(page.offset, page.tags.length, page.total));
  restore();
}

const MEDIA_NAMES = {
  "application/vnd.oci.image.manifest.v1+json": "OCI image",
  "application/vnd.oci.image.index.v1+json": "OCI index",
  "application/vnd.docker.distribution.manifest.v2+json": "Docker image",
  "application/vnd.docker.distribution.manifest.list.v2+json": "Docker list",
};

function mediaBadge(mediaType) {
  return h("span", { class: "badge", title: mediaType }, MEDIA_NAMES[mediaType] || mediaType);
}

// ---- the manifest page -----------------------------------------------------------------------
async function renderManifest(route) {
  const { name, reference } = route;
  const [m, rights] = await Promise.all([
    api(repoPath(name) + "/manifests/" + encodeURIComponent(reference)),
    api(repoPath(name) + "/rights"),
  ]);
  document.title = name + (reference.includes(":") ? "@" + shortDigest(reference) : ":" + reference) + " \u2013 dockyard";
  setCrumbs([["Repositories", "#/"], [name, repositoryLink(name)], [reference.includes(":") ? shortDigest(reference) : reference]]);
  const facts = h("dl", { class: "facts" },
    h("dt", {}, "Digest"), h("dd", { class: "mono", id: "digest" }, m.digest),
    h("dt", {}, "Media type"), h("dd", {}, m.mediaType),
    m.artifactType ? [h("dt", {}, "Artifact type"), h("dd", {}, m.artifactType)] : null,
    h("dt", {}, "Manifest size"), h("dd", {}, formatBytes(m.size)),
    h("dt", {}, "Tags"), h("dd", {}, m.tags.length ? m.tags.map((tag, i) => [i ? ", " : "", h("a", { href: manifestLink(name, tag) }, tag)]) : h("span", { class: "muted" }, "none")),
    m.subject ? [h("dt", {}, "Subject"), h("dd", {}, h("a", { class: "mono", href: manifestLink(name, m.subject.digest) }, m.subject.digest))] : null);
  const sections = [
    h("h1", {}, name, " ", h("span", { class: "badge kind-" + m.kind }, m.kind)),
    h("div", { class: "grid" }, h("section", { class: "panel", "aria-label": "Summary" }, facts), pullPanel(m.pull)),
  ];
  if (m.manifests) sections.push(platformsSection(name, m.manifests));
  if (m.config) sections.push(configSection(m.config));
  if (m.layers) sections.push(layersSection(m.layers, m.kind));
  sections.push(annotationsSection("Annotations", m.annotations));
  sections.push(h("section", { id: "referrers" }, h("h2", {}, "Referrers"),
    m.referrers.length ? referrerTree(name, m.referrers) : h("p", { class: "muted" }, "No signatures, SBOMs or other artifacts refer to this manifest.")));
  if (rights.delete) {
    sections.push(h("section", {}, h("h2", {}, "Danger zone"), h("button", {
      type: "button", class: "danger", id: "delete-manifest",
      onclick: () => confirmDelete("Delete manifest " + shortDigest(m.digest) + " and every tag on it (" + (m.tags.join(", ") || "none") + ")?",
        repoPath(name) + "/manifests/" + m.digest, "Manifest deleted", repositoryLink(name)),
    }, "Delete manifest")));
  }
  main.replaceChildren(...sections);
}

function pullPanel(commands) {
  return h("section", { class: "panel pull", "aria-labelledby": "pull-title" },
    h("h2", { id: "pull-title" }, "Pull"),
    commands.map((pull) => h("div", { class: "pull-row" },
      h("code", {}, pull.command),
      h("button", { type: "button", class: "small copy", "aria-label": "Copy: " + pull.command, onclick: () => copy(pull.command) }, "Copy"))));
}

async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch (ignored) {
    // Without a secure context there is no clipboard API: select the text in a scratch field.
    const scratch = h("textarea", { class: "skip" }, text);
    document.body.append(scratch);
    scratch.select();
    document.execCommand("copy");
    scratch.remove();
  }
  toast("Copied: " + text);
}

function platformsSection(name, children) {
  return h("section", {}, h("h2", {}, "Platforms"), h("table", { id: "platforms" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Platform"), h("th", { scope: "col" }, "Digest"),
      h("th", { scope: "col" }, "Type"), h("th", { scope: "col", class: "num" }, "Size"))),
    h("tbody", {}, children.map((child) => h("tr", {},
      h("td", {}, child.present ? h("a", { href: manifestLink(name, child.digest) }, child.platform || child.artifactType || "unknown")
        : [child.platform || "unknown", " ", h("span", { class: "badge" }, "not in this repository")]),
      h("td", { class: "mono", title: child.digest }, shortDigest(child.digest)),
      h("td", {}, mediaBadge(child.mediaType)),
      h("td", { class: "num" }, formatBytes(child.size)))))));
}

function configSection(config) {
  const facts = [["Platform", config.platform], ["Created", config.created], ["Author", config.author],
    ["Entrypoint", config.entrypoint && JSON.stringify(config.entrypoint)], ["Command", config.cmd && JSON.stringify(config.cmd)],
    ["Working directory", config.workingDir], ["User", config.user], ["Config", config.digest]].filter(([, value]) => value);
  const parts = [h("h2", {}, "Configuration"), h("div", { class: "panel" }, h("dl", { class: "facts", id: "config" },
    facts.map(([label, value]) => [h("dt", {}, label), h("dd", {}, value)])))];
  if (config.labels && Object.keys(config.labels).length) parts.push(annotationsSection("Labels", config.labels));
  if (config.history && config.history.length) {
    parts.push(h("h2", {}, "History"), h("table", { id: "history" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Created"), h("th", { scope: "col" }, "Step"))),
      h("tbody", {}, config.history.map((step) => h("tr", {},
        h("td", { class: "nowrap" }, step.created || ""),
        h("td", {}, h("pre", { class: "history mono" }, step.created_by || step.comment || "")))))));
  }
  return h("section", {}, parts);
}

function layersSection(layers, kind) {
  return h("section", {}, h("h2", {}, kind === "artifact" ? "Blobs" : "Layers"), h("table", { id: "layers" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "#"), h("th", { scope: "col" }, "Digest"),
      h("th", { scope: "col" }, "Media type"), h("th", { scope: "col", class: "num" }, "Size"))),
    h("tbody", {}, layers.map((layer, index) => h("tr", {},
      h("td", {}, String(index + 1)),
      h("td", { class: "mono", title: layer.digest }, shortDigest(layer.digest),
        layer.annotations && layer.annotations["org.opencontainers.image.title"] ? " " + layer.annotations["org.opencontainers.image.title"] : ""),
      h("td", {}, layer.mediaType),
      h("td", { class: "num" }, formatBytes(layer.size)))))));
}

function annotationsSection(title, values) {
  const entries = Object.entries(values || {});
  return h("section", {}, h("h2", {}, title), entries.length
    ? h("div", { class: "panel" }, h("dl", { class: "facts" }, entries.map(([key, value]) => [h("dt", { class: "mono" }, key), h("dd", {}, value)])))
    : h("p", { class: "muted" }, "None."));
}

function referrerTree(name, groups) {
  return h("ul", { class: "tree" }, groups.map((group) => h("li", { class: "referrer-group" },
    h("span", { class: "group-title" }, group.artifactType || "(no artifact type)"), " ",
    h("span", { class: "badge" }, String(group.manifests.length)),
    h("ul", { class: "tree" }, group.manifests.map((referrer) => h("li", {},
      h("a", { class: "mono", href: manifestLink(name, referrer.digest) }, shortDigest(referrer.digest)), " ",
      h("span", { class: "muted" }, formatBytes(referrer.size)),
      referrer.annotations["org.opencontainers.image.created"] ? h("span", { class: "muted" }, " \u00b7 " + referrer.annotations["org.opencontainers.image.created"]) : null,
      referrer.referrers.length ? referrerTree(name, referrer.referrers) : null))))));
}

// ---- deleting, with a confirmation -------------------------------------------------------------
function confirmDelete(text, path, done, after) {
  const dialog = document.getElementById("confirm-dialog");
  document.getElementById("confirm-text").textContent = text;
  dialog.returnValue = "";
  dialog.addEventListener("close", async () => {
    if (dialog.returnValue !== "delete") return;
    try {
      await api(path, { method: "DELETE" });
      toast(done);
      if (after && location.hash !== after) location.hash = after;
      else render();
    } catch (error) {
      toast("Not deleted: " + error.message);
    }
  }, { once: true });
  dialog.showModal();
}

// ---- session: who is logged in, logging in and out ----------------------------------------------
async function loadSession() {
  state.session = await api("/session");
  const account = document.getElementById("account");
  if (!state.session.authEnabled) { account.replaceChildren(); return; }
  if (state.session.user) {
    account.replaceChildren(h("span", { class: "muted", id: "user" }, "Signed in as " + state.session.user),
      h("button", { type: "button", id: "logout", onclick: logout }, "Log out"));
  } else {
    account.replaceChildren(h("button", { type: "button", id: "login", class: "primary", onclick: openLogin }, "Log in"));
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
  await api("/session", { method: "DELETE" });
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
loadSession().then(render, (error) => main.replaceChildren(errorNotice(error)));
