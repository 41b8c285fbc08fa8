// Browse and search: filters (artist, language, years, minimum views) and sort on the left,
// a grid of song cards that grows as you scroll. Everything is in the URL (#/?q=..&lang=..).

import { api, channel, Failure, query } from "./api.js";
import { el, emptyState, errorState, languageName, loading, numbers, select, skeletonCards } from "./dom.js";
import { songCard } from "./cards.js";

const PAGE = 24;
/** Songs shown in one grid before "Load more" stops loading by itself. */
const MAX_AUTO = 480;
/** Languages offered in the filter (Genius's ISO codes); others can still come from a URL. */
const LANGUAGES = ["en", "es", "fr", "de", "pt", "it", "ko", "ja", "zh", "ru", "pl", "sv", "nl", "tr", "ar", "hi"];
const SORTS = [["pageviews", "Most viewed"], ["title", "Title A–Z"], ["release_date", "Newest"]];
const MIN_VIEWS = [["", "Any"], ["1000", "1K+"], ["10000", "10K+"], ["100000", "100K+"], ["1000000", "1M+"]];
/** URL parameter -> API parameter. */
const FILTERS = { q: "q", artist: "artist", lang: "language", from: "min_year", to: "max_year", views: "min_pageviews", sort: "sort" };
/** What a filter value from the URL must look like to be sent; anything else is ignored. */
const VALID = {
  lang: /^[a-z]{2,3}(-[a-z0-9]{2,8})?$/i,
  from: /^\d{4}$/,
  to: /^\d{4}$/,
  views: /^\d{1,15}$/,
  sort: new RegExp(`^(${SORTS.map(([v]) => v).join("|")})$`),
};

export function mount(ctx, route) {
  const list = channel();
  const state = { params: null, offset: 0, total: 0, loading: false, done: false };
  const unsupported = new Set();

  const artist = el("input", { type: "search", name: "artist", placeholder: "Any artist", autocomplete: "off", maxLength: 200 });
  const [langLabel, lang] = select("Language", "lang", [["", "Any language"], ...LANGUAGES.map((c) => [c, languageName(c)])], "");
  const from = el("input", { type: "number", name: "from", placeholder: "from", min: 1900, max: 2100, inputMode: "numeric" });
  const to = el("input", { type: "number", name: "to", placeholder: "to", min: 1900, max: 2100, inputMode: "numeric" });
  const [viewsLabel, minViews] = select("Minimum views", "views", MIN_VIEWS, "");
  const [sortLabel, sort] = select("Sort by", "sort", SORTS, "pageviews");
  const reset = el("button", { type: "button", className: "ghost", textContent: "Clear filters" });
  const filters = el("details", { className: "filters", open: window.matchMedia("(min-width: 761px)").matches },
    el("summary", { textContent: "Filters" }),
    el("div", { className: "filter-body" },
      el("label", { className: "control" }, el("span", { textContent: "Artist" }), artist),
      langLabel,
      el("fieldset", { className: "control years" }, el("legend", { textContent: "Released" }),
        el("label", {}, el("span", { className: "sr-only", textContent: "From year" }), from),
        el("span", { attrs: { "aria-hidden": "true" }, textContent: "–" }),
        el("label", {}, el("span", { className: "sr-only", textContent: "To year" }), to)),
      viewsLabel,
      reset));
  const heading = el("h1", { tabIndex: -1 });
  const count = el("p", { className: "count", attrs: { "aria-live": "polite" } });
  const grid = el("div", { className: "grid", attrs: { "aria-label": "Songs" } });
  const more = el("button", { type: "button", className: "more", textContent: "Load more" });
  const status = el("div", { className: "list-status" });
  ctx.main.append(el("div", { className: "browse" },
    el("aside", { className: "side" }, filters),
    el("section", { className: "results", attrs: { "aria-labelledby": "browse-title" } },
      el("div", { className: "results-head" }, heading, el("div", { className: "head-tools" }, count, sortLabel)),
      grid, status, more)));
  heading.id = "browse-title";

  function fromUrl(params) {
    for (const [input, name] of [[artist, "artist"], [lang, "lang"], [from, "from"], [to, "to"], [minViews, "views"]]) {
      if (document.activeElement !== input) input.value = params.get(name) || "";
    }
    sort.value = params.get("sort") || "pageviews";
    if (sort.value === "") sort.value = "pageviews";
  }

  /** Writes the filter inputs into the URL (one history entry per burst of changes). */
  function toUrl() {
    const params = new URLSearchParams(location.hash.split("?")[1] || "");
    const values = { artist: artist.value.trim(), lang: lang.value, from: from.value, to: to.value, views: minViews.value, sort: sort.value === "pageviews" ? "" : sort.value };
    for (const [name, value] of Object.entries(values)) {
      if (value) params.set(name, value);
      else params.delete(name);
    }
    const text = params.toString();
    ctx.navigate(text ? `#/?${text}` : "#/", { replace: true });
  }

  let typing = null;
  const later = () => {
    clearTimeout(typing);
    typing = setTimeout(toUrl, 250);
  };
  artist.addEventListener("input", later);
  from.addEventListener("input", later);
  to.addEventListener("input", later);
  lang.addEventListener("change", toUrl);
  minViews.addEventListener("change", toUrl);
  sort.addEventListener("change", toUrl);
  reset.addEventListener("click", () => {
    const q = new URLSearchParams(location.hash.split("?")[1] || "").get("q");
    ctx.navigate(q ? `#/?${new URLSearchParams({ q })}` : "#/", { replace: true });
  });
  more.addEventListener("click", () => loadPage());

  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting) && state.offset > 0 && state.offset < MAX_AUTO) loadPage();
  }, { rootMargin: "600px" });
  observer.observe(more);

  function apiParams(params) {
    const out = {};
    for (const [name, apiName] of Object.entries(FILTERS)) {
      const value = (params.get(name) || "").trim();
      if (!value || unsupported.has(apiName) || (VALID[name] && !VALID[name].test(value))) continue;
      if (!(name === "sort" && value === "pageviews")) out[apiName] = value;
    }
    return out;
  }

  function describe(params) {
    const q = (params.get("q") || "").trim();
    const filtered = Object.keys(FILTERS).some((n) => n !== "q" && n !== "sort" && params.get(n));
    heading.textContent = q ? `Results for “${q}”` : filtered ? "Filtered songs" : "Popular songs";
    ctx.setTitle(q ? `“${q}”` : "Browse");
  }

  async function loadPage() {
    if (state.loading || state.done) return;
    const ticket = list.start();
    state.loading = true;
    more.hidden = true;
    const first = state.offset === 0;
    if (first) grid.replaceChildren(...skeletonCards(12));
    else status.replaceChildren(loading("Loading more songs…"));
    try {
      const page = await api(`/songs${query({ ...state.params, offset: state.offset, limit: PAGE })}`, { signal: ticket.signal });
      if (ticket.stale) return;
      const songs = Array.isArray(page.songs) ? page.songs : [];
      if (first) grid.replaceChildren();
      grid.append(...songs.map(songCard));
      if (first && songs.length && performance.getEntriesByName("songrec:first-results").length === 0) {
        performance.mark("songrec:first-results");
      }
      state.total = Number(page.total) || 0;
      state.offset += songs.length;
      state.done = songs.length === 0 || state.offset >= state.total;
      count.textContent = state.total ? `${numbers.format(state.total)} song${state.total === 1 ? "" : "s"}` : "";
      status.replaceChildren();
      if (state.total === 0) status.append(nothingFound());
      more.hidden = state.done;
    } catch (error) {
      if (error.kind === Failure.ABORTED || ticket.stale) return;
      if (first && error.kind === Failure.BAD_REQUEST && /unknown|unsupported|not (allowed|supported)|unexpected/i.test(error.message) && dropUnsupported(error.message)) {
        state.loading = false;
        loadPage();
        return;
      }
      if (first) grid.replaceChildren();
      status.replaceChildren(errorState(error, "songs"));
      more.hidden = true;
      ctx.fail(error);
    } finally {
      if (!ticket.stale) {
        state.loading = false;
        ctx.done();
      }
    }
  }

  /**
   * A server that does not know a filter names it in its 400: that filter is switched off
   * (and says why) rather than breaking the page. Returns whether one was.
   */
  function dropUnsupported(message) {
    const controls = { artist, language: lang, min_year: from, max_year: to, min_pageviews: minViews, sort };
    // The server quotes the parameters it does not know: `unknown query parameter "min_year"`.
    const quoted = new Set([...message.matchAll(/"([a-z_]+)"/g)].map((m) => m[1]));
    const names = Object.keys(state.params).filter((name) => name !== "q" && !unsupported.has(name) && quoted.has(name));
    for (const name of names) {
      unsupported.add(name);
      delete state.params[name];
      const control = controls[name];
      control.disabled = true;
      control.title = "This server does not offer this filter yet.";
      if (name === "min_year" || name === "max_year") from.disabled = to.disabled = true;
    }
    return names.length > 0;
  }

  function nothingFound() {
    const q = (state.params.q || "").trim();
    const filtered = Object.keys(state.params).some((n) => n !== "q" && n !== "sort");
    if (!q && !filtered) return emptyState("The catalogue is empty.", "Import or fetch songs, then train a model.");
    return emptyState(q ? `Nothing found for “${q}”.` : "No song matches these filters.",
      filtered ? "Try fewer filters, or clear them." : "Check the spelling, or try fewer words.");
  }

  function update(next) {
    fromUrl(next.params);
    describe(next.params);
    const wanted = apiParams(next.params);
    if (state.params && JSON.stringify(wanted) === JSON.stringify(state.params)) return;
    state.params = wanted;
    state.offset = 0;
    state.total = 0;
    state.done = false;
    state.loading = false;
    status.replaceChildren();
    loadPage();
  }

  update(route);
  return {
    update,
    unmount() {
      list.cancel();
      observer.disconnect();
      clearTimeout(typing);
    },
  };
}
