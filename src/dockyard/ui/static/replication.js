// The Replication page: every rule with its last runs and failures (GET /v2/_dockyard/replication).
import { api, setCrumbs } from "./core.js";
import { formatBytes, h, timeCell } from "./dom.js";

function lag(seconds) {
  if (seconds === null) return "\u2013";
  if (seconds < 120) return Math.round(seconds) + " s";
  if (seconds < 7200) return Math.round(seconds / 60) + " min";
  return Math.round(seconds / 3600) + " h";
}

function runRow(run) {
  return h("tr", {},
    h("td", { class: "nowrap" }, timeCell(run.started_at)),
    h("td", {}, run.trigger),
    h("td", {}, h("span", { class: "result result-" + run.result }, run.result)),
    h("td", { class: "num" }, String(run.manifests)),
    h("td", { class: "num" }, String(run.blobs)),
    h("td", { class: "num" }, formatBytes(run.bytes)),
    h("td", {}, run.message || ""));
}

function ruleSection(rule) {
  const last = rule.runs[0];
  const failures = rule.runs.filter((run) => run.result !== "succeeded");
  return h("section", { class: "rule", "data-rule": rule.name },
    h("h2", {}, rule.name),
    h("p", { class: "muted" },
      `${rule.direction} ${rule.direction === "push" ? "to" : "from"} ${rule.target}, ${rule.trigger}` +
      (rule.schedule ? ` (${rule.schedule} UTC)` : "") +
      `; last run ${last ? last.result : "never"}; lag ${lag(rule.lag)}` +
      (rule.pending === null ? "" : `; ${rule.pending} events pending`)),
    failures.length ? h("p", { class: "notice error", role: "alert" }, `${failures.length} of the last ${rule.runs.length} runs failed: ${failures[0].message}`) : null,
    rule.runs.length
      ? h("table", { class: "runs" },
        h("thead", {}, h("tr", {}, ...["Started", "Trigger", "Result", "Manifests", "Blobs", "Bytes", "Errors"].map(
          (text) => h("th", { scope: "col" }, text)))),
        h("tbody", {}, rule.runs.map(runRow)))
      : h("p", { class: "muted" }, "No runs yet."));
}

export async function renderReplication(main) {
  document.title = "Replication \u2013 dockyard";
  setCrumbs([["Replication"]]);
  const status = await api("/replication");
  main.replaceChildren(
    h("h1", {}, "Replication"),
    status.rules.length ? h("div", { id: "rules" }, status.rules.map(ruleSection))
      : h("p", { class: "muted", id: "rules" }, "No replication rules are configured."));
}
