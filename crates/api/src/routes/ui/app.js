// The explorer's shell: reads the view from the URL fragment (#/song/ID?k=10, #/artist/ID,
// #/likes, #/model, #/?q=...), mounts it, keeps the search box, the like count and the model
// line in the header and footer up to date, and handles the two page-wide states: no model
// loaded yet (503) and the server down. Every view can be bookmarked, shared and walked with
// back and forward.

import { api, Failure } from "./api.js";
import { el, numbers } from "./dom.js";
import { likes, onChange as onLikesChange } from "./likes.js";
import * as browse from "./browse.js";

const RETRY_MS = 2000;
const main = document.getElementById("main");
const search = document.getElementById("q");
const banner = document.getElementById("banner");

// The views other than browse load on first use, so the first paint needs only what it shows.
const loaders = {
  browse: async () => browse,
  song: () => import("./song.js"),
  artist: () => import("./artist.js"),
  likes: () => import("./mylikes.js"),
  model: () => import("./model.js"),
};

let mounted = null; // { name, key, view }
let shown = null; // the fragment last rendered, so hashchange and popstate render it once
let renderCount = 0;
let waiting = null; // "no-model" | "down" while the page waits for the server

/** The view named by the URL fragment. */
export function parseRoute(hash = location.hash) {
  const raw = hash.replace(/^#/, "");
  const at = raw.indexOf("?");
  const path = at >= 0 ? raw.slice(0, at) : raw;
  const params = new URLSearchParams(at >= 0 ? raw.slice(at + 1) : "");
  const parts = path.split("/").filter(Boolean);
  const id = parts[1] && /^\d{1,16}$/.test(parts[1]) ? parts[1] : null;
  if (parts[0] === "song" && id) return { name: "song", id, params };
  if (parts[0] === "artist" && (id || params.get("name"))) return { name: "artist", id, params };
  if (parts[0] === "likes") return { name: "likes", params };
  if (parts[0] === "model") return { name: "model", params };
  return { name: "browse", params };
}

/** Goes to `hash`: a new history entry, or (`replace`) the current one rewritten. */
function navigate(hash, { replace = false } = {}) {
  if (hash === location.hash || (hash === "#/" && !location.hash)) return;
  if (replace) history.replaceState(null, "", hash);
  else history.pushState(null, "", hash);
  render({ focus: !replace });
}

/** A failure that concerns the whole page rather than one part of a view. */
function fail(error) {
  if (error.kind === Failure.NO_MODEL) waitFor("no-model");
  else if (error.kind === Failure.DOWN) waitFor("down");
}

function waitFor(what) {
  if (waiting === what) return;
  waiting = what;
  if (what === "no-model") {
    if (mounted && mounted.view.unmount) mounted.view.unmount();
    mounted = null;
    banner.hidden = true;
    main.setAttribute("aria-busy", "false");
    main.replaceChildren(noModel());
    document.body.dataset.state = "no-model";
    document.title = "No model yet · songrec";
    setModelLine("no model loaded yet");
  } else {
    banner.replaceChildren(el("span", { className: "spinner", attrs: { "aria-hidden": "true" } }), " The songrec server cannot be reached. Retrying…");
    banner.hidden = false;
    document.body.dataset.state = "down";
    setModelLine("server unreachable");
  }
  poll();
}

function noModel() {
  return el("div", { className: "state hero-state no-model", attrs: { role: "alert" } },
    el("div", { className: "vinyl", attrs: { "aria-hidden": "true" } }),
    el("h1", { textContent: "No model is loaded yet" }),
    el("p", { textContent: "The server is up, but it has no trained model to recommend from. Train one (songrec train, or songrec demo for a sample catalogue) and this page picks it up by itself." }),
    el("p", { className: "muted" }, el("span", { className: "spinner", attrs: { "aria-hidden": "true" } }), " Waiting for a model…"));
}

/**
 * Whether the server has a model loaded, from /health, which answers 200 either way: waiting
 * for a model never makes the browser log a failed request.
 */
async function modelLoaded() {
  const health = await api("/health");
  return typeof health.version === "number";
}

async function poll() {
  while (waiting) {
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    try {
      const loaded = await modelLoaded();
      if (!loaded && waiting === "no-model") continue;
      waiting = null;
      banner.hidden = true;
      delete document.body.dataset.state;
      if (!loaded) {
        // The server is back, without a model.
        waitFor("no-model");
        return;
      }
      loadModelLine();
      render({ force: true });
      return;
    } catch (error) {
      if (error.kind === Failure.DOWN && waiting === "no-model") waitFor("down");
      // Otherwise keep waiting.
    }
  }
}

/** The first paint: the view the URL names, or the no-model state without asking for it. */
async function start() {
  try {
    if (!(await modelLoaded())) {
      waitFor("no-model");
      return;
    }
  } catch (error) {
    fail(error);
    if (waiting) return;
  }
  render();
  loadModelLine();
}

function setModelLine(text) {
  document.getElementById("model-line").textContent = text;
}

async function loadModelLine() {
  try {
    const model = await api("/model");
    const parts = [`model v${model.version ?? "?"}`, `${numbers.format(model.songs)} songs`];
    setModelLine(parts.join(" · "));
  } catch (error) {
    fail(error);
  }
}

function markNav(name) {
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function paintLikeCount() {
  const count = likes().length;
  document.getElementById("like-count").textContent = count ? String(count) : "";
}

/** Shows the view the URL names: updates the mounted one in place when it can. */
async function render({ focus = false, force = false } = {}) {
  if (!force && location.hash === shown && mounted) return;
  shown = location.hash;
  const route = parseRoute();
  const key = `${route.name}/${route.id || route.params.get("name") || ""}`;
  markNav(route.name);
  if (route.name === "browse" && document.activeElement !== search) search.value = route.params.get("q") || "";
  if (waiting === "no-model") return;
  if (!force && mounted && mounted.key === key && mounted.view.update) {
    mounted.view.update(route);
    return;
  }
  const ticket = ++renderCount;
  const module = await loaders[route.name]();
  if (ticket !== renderCount) return;
  if (mounted && mounted.view.unmount) mounted.view.unmount();
  main.setAttribute("aria-busy", "true");
  const ctx = {
    main,
    navigate,
    fail,
    done() {
      if (ticket === renderCount) main.setAttribute("aria-busy", "false");
    },
    setTitle(text) {
      if (ticket === renderCount) document.title = text ? `${text} · songrec` : "songrec explorer";
    },
  };
  main.replaceChildren();
  mounted = { name: route.name, key, view: module.mount(ctx, route) };
  if (focus) {
    const heading = main.querySelector("h1");
    (heading || main).focus({ preventScroll: false });
    window.scrollTo(0, 0);
  }
}

let searchTimer = null;
search.addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    const route = parseRoute();
    const params = route.name === "browse" ? route.params : new URLSearchParams();
    const q = search.value.trim();
    if (q) params.set("q", q);
    else params.delete("q");
    const text = params.toString();
    // Typing refines one history entry; arriving from another view makes a new one.
    navigate(text ? `#/?${text}` : "#/", { replace: route.name === "browse" });
  }, 150);
});
document.getElementById("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  clearTimeout(searchTimer);
  search.dispatchEvent(new Event("input"));
});
document.addEventListener("keydown", (event) => {
  // "/" focuses the search box, as on most music and code sites.
  if (event.key === "/" && !event.target.closest("input, select, textarea")) {
    event.preventDefault();
    search.focus();
    search.select();
  }
});

window.addEventListener("hashchange", () => render({ focus: true }));
window.addEventListener("popstate", () => render({ focus: true }));
onLikesChange(paintLikeCount);
paintLikeCount();
start();
