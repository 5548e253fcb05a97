// DOM helpers of the dockyard UI: every text goes in as text, never as markup.
export function h(tag, attrs, ...children) {
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

export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return (unit === 0 ? String(value) : value.toFixed(value < 10 ? 1 : 0)) + " " + units[unit];
}

export function timeCell(seconds) {
  if (!seconds) return h("span", { class: "muted" }, "never");
  const date = new Date(seconds * 1000);
  const ago = (Date.now() - date.getTime()) / 1000;
  const steps = [[60, "s", 1], [3600, "min", 60], [86400, "h", 3600], [86400 * 30, "d", 86400], [Infinity, "mo", 86400 * 30]];
  const [, unit, size] = steps.find(([limit]) => ago < limit);
  const text = ago < 10 ? "just now" : Math.floor(ago / size) + " " + unit + " ago";
  return h("time", { datetime: date.toISOString(), title: date.toISOString() }, text);
}

export function shortDigest(digest) {
  const [algorithm, hex] = String(digest).split(":");
  return algorithm + ":" + (hex || "").slice(0, 12);
}

export function toast(text) {
  const box = document.getElementById("toast");
  box.textContent = text;
  box.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => box.classList.remove("show"), 2500);
}

const MEDIA_NAMES = {
  "application/vnd.oci.image.manifest.v1+json": "OCI image",
  "application/vnd.oci.image.index.v1+json": "OCI index",
  "application/vnd.docker.distribution.manifest.v2+json": "Docker image",
  "application/vnd.docker.distribution.manifest.list.v2+json": "Docker list",
};

export function mediaBadge(mediaType) {
  return h("span", { class: "badge", title: mediaType }, MEDIA_NAMES[mediaType] || mediaType);
}
