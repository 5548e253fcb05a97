// The Audit page: who did what, from where and when, newest first (GET /v2/_dockyard/audit).
import { api, manifestLink, repositoryLink, setCrumbs } from "./core.js";
import { h, shortDigest } from "./dom.js";

function what(entry) {
  if (!entry.repository) return entry.detail;
  const name = entry.repository + (entry.tag ? ":" + entry.tag : "");
  // What a delete removed is gone: its link leads to the repository instead.
  const href = entry.action === "delete" ? repositoryLink(entry.repository)
    : manifestLink(entry.repository, entry.digest || entry.tag);
  return [
    h("a", { href }, name),
    entry.digest ? [" ", h("code", { title: entry.digest }, shortDigest(entry.digest))] : null,
    entry.previous ? h("span", { class: "muted", title: entry.previous }, " (moved from " + shortDigest(entry.previous) + ")") : null,
  ];
}

function entryRow(entry) {
  return h("tr", { "data-action": entry.action },
    h("td", { class: "nowrap" }, h("time", { datetime: entry.time }, entry.time.replace("T", " ").replace("Z", ""))),
    h("td", {}, h("span", { class: "badge" }, entry.action)),
    h("td", {}, entry.actor || h("span", { class: "muted" }, "\u2013")),
    h("td", { class: "nowrap" }, entry.client),
    h("td", {}, what(entry)),
    h("td", { class: "muted" }, h("code", {}, entry.request_id)));
}

function filterForm(params) {
  const field = (name, label) => h("label", {}, label + " ", h("input", { name, value: params.get(name) || "" }));
  return h("form", { class: "filters", id: "audit-filters", onsubmit: (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    for (const [key, value] of new FormData(event.target)) if (value) query.set(key, value);
    location.hash = "/audit" + (query.toString() ? "?" + query : "");
  } }, field("repository", "Repository"), field("user", "User"), field("since", "Since (12h, 7d, 2026-12-01)"),
  h("button", { type: "submit" }, "Filter"));
}

export async function renderAudit(main, route) {
  document.title = "Audit \u2013 dockyard";
  setCrumbs([["Audit"]]);
  const params = route.params;
  const query = new URLSearchParams();
  for (const key of ["repository", "user", "since"]) if (params.get(key)) query.set(key, params.get(key));
  const first = await api("/audit?" + query);
  const rows = h("tbody", {}, first.entries.map(entryRow));
  const older = h("button", { type: "button", id: "audit-older", hidden: first.next === null }, "Older entries");
  let next = first.next;
  older.addEventListener("click", async () => {
    query.set("before", next);
    const page = await api("/audit?" + query);
    rows.append(...page.entries.map(entryRow));
    next = page.next;
    older.hidden = next === null;
  });
  main.replaceChildren(
    h("h1", {}, "Audit log"),
    filterForm(params),
    first.entries.length
      ? h("table", { class: "audit", id: "audit" },
        h("thead", {}, h("tr", {}, ...["Time (UTC)", "Action", "Who", "From", "What", "Request"].map(
          (text) => h("th", { scope: "col" }, text)))),
        rows)
      : h("p", { class: "muted", id: "audit" }, "No entries."),
    older);
}
