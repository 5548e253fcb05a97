// The manifest page of the dockyard UI: summary, pull commands, platforms, config, layers, referrers.
import { api, confirmDelete, manifestLink, repoPath, repositoryLink, setCrumbs } from "./core.js";
import { formatBytes, h, mediaBadge, shortDigest, toast } from "./dom.js";

export async function renderManifest(main, route) {
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
