// What every page of the dockyard UI shares: the API, links between pages, and deleting.
import { h, toast } from "./dom.js";

const API = "/v2/_dockyard";
export const state = { session: { user: null, authEnabled: false, csrf: "" } };

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

export async function api(path, options = {}) {
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

export const repoPath = (name) => "/repositories/" + name + "/-";
export const repositoryLink = (name) => "#/r/" + name;
export const manifestLink = (name, reference) => "#/r/" + name + "/-/m/" + reference;

export function setCrumbs(items) {
  const list = document.getElementById("crumbs");
  list.replaceChildren(...items.map(([text, href]) =>
    h("li", {}, href ? h("a", { href }, text) : h("span", { "aria-current": "page" }, text))));
}

export function confirmDelete(text, path, done, after) {
  const dialog = document.getElementById("confirm-dialog");
  document.getElementById("confirm-text").textContent = text;
  dialog.returnValue = "";
  dialog.addEventListener("close", async () => {
    if (dialog.returnValue !== "delete") return;
    try {
      await api(path, { method: "DELETE" });
      toast(done);
      if (after && location.hash !== after) location.hash = after;
      else window.dispatchEvent(new Event("dockyard:changed"));
    } catch (error) {
      toast("Not deleted: " + error.message);
    }
  }, { once: true });
  dialog.showModal();
}
