// One song: cover, title, artist (link to the artist view), album, release date, views,
// credits, tags and Genius link; and its recommendations with scores and reasons, filtered
// (other artists only, at most N per artist) and sized (k) from the URL (#/song/ID?k=10&other=1&per=2).

import { api, channel, Failure, query } from "./api.js";
import { art, checkbox, dateText, el, emptyState, errorState, languageName, loading, numbers, safeLink, select, songOf } from "./dom.js";
import { artistHref, recRow } from "./cards.js";
import { likeButton } from "./likes.js";

const K_CHOICES = [5, 10, 20, 50];
const DEFAULT_K = 10;
const PER_ARTIST = [["", "Any"], ["1", "1"], ["2", "2"], ["3", "3"]];
const ROLE_NAMES = { primary: "Artist", featured: "Featuring", producer: "Produced by", writer: "Written by" };

/** The song view's recommendation settings from the URL, bounded to what it offers. */
function settings(params) {
  const k = Number(params.get("k"));
  const per = params.get("per");
  return {
    k: K_CHOICES.includes(k) ? k : DEFAULT_K,
    other: params.get("other") === "1",
    per: PER_ARTIST.some(([v]) => v && v === per) ? per : "",
  };
}

/** Credits as role -> [{id, name}], from any of the shapes the API may send. */
export function creditsOf(raw) {
  const out = new Map();
  const add = (role, artist) => {
    if (!artist) return;
    const entry = typeof artist === "string" ? { id: null, name: artist } : { id: artist.id ?? artist.artist_id ?? null, name: artist.name ?? artist.artist ?? "" };
    if (!entry.name) return;
    if (!out.has(role)) out.set(role, []);
    if (!out.get(role).some((a) => a.name === entry.name)) out.get(role).push(entry);
  };
  const credits = raw.credits;
  if (Array.isArray(credits)) {
    for (const c of credits) {
      const roles = Array.isArray(c.roles) ? c.roles : [c.role || "credit"];
      for (const role of roles) add(String(role), c);
    }
  } else if (credits && typeof credits === "object") {
    for (const [role, artists] of Object.entries(credits)) if (Array.isArray(artists)) artists.forEach((a) => add(role, a));
  }
  for (const role of ["featured", "producer", "writer"]) {
    const list = raw[`${role}_artists`];
    if (Array.isArray(list)) list.forEach((a) => add(role, a));
  }
  return out;
}

function tagsOf(raw) {
  const tags = Array.isArray(raw.tags) ? raw.tags : [];
  return tags.map((t) => (typeof t === "string" ? t : t && t.name)).filter(Boolean).slice(0, 20);
}

export function mount(ctx, route) {
  const detail = channel();
  const recs = channel();
  const id = route.id;
  let current = settings(route.params);
  let song = null;

  const hero = el("header", { className: "song-hero" }, loading("Loading the song…"));
  const aside = el("aside", { className: "song-facts" });
  const [kLabel, kSelect] = select("Songs", "k", K_CHOICES.map((k) => [k, String(k)]), current.k);
  const [otherLabel, other] = checkbox("Other artists only", "other", current.other);
  const [perLabel, per] = select("Max per artist", "per", PER_ARTIST, current.per);
  const list = el("ol", { className: "recs", attrs: { "aria-label": "Recommendations" } });
  const recStatus = el("div", { className: "list-status" });
  const recHeading = el("h2", { id: "recs-title", textContent: "Sounds like this" });
  ctx.main.append(el("article", { className: "song-view" }, hero,
    el("div", { className: "song-body" },
      el("section", { className: "block recs-block", attrs: { "aria-labelledby": "recs-title" } },
        el("div", { className: "block-head" }, recHeading, el("div", { className: "controls" }, kLabel, otherLabel, perLabel)),
        list, recStatus),
      aside)));

  function writeUrl() {
    const params = new URLSearchParams();
    if (Number(kSelect.value) !== DEFAULT_K) params.set("k", kSelect.value);
    if (other.checked) params.set("other", "1");
    if (per.value) params.set("per", per.value);
    const text = params.toString();
    ctx.navigate(`#/song/${id}${text ? `?${text}` : ""}`, { replace: true });
  }
  kSelect.addEventListener("change", writeUrl);
  other.addEventListener("change", writeUrl);
  per.addEventListener("change", writeUrl);

  async function loadSong() {
    const ticket = detail.start();
    try {
      const raw = await api(`/songs/${id}`, { signal: ticket.signal });
      if (ticket.stale) return;
      song = songOf(raw);
      showSong(raw);
    } catch (error) {
      if (error.kind === Failure.ABORTED || ticket.stale) return;
      hero.replaceChildren(errorState(error, "this song"));
      ctx.setTitle("Song not found");
      ctx.fail(error);
    }
  }

  function showSong(raw) {
    ctx.setTitle(`${song.title} by ${song.artist}`);
    const facts = [
      song.album ? ["Album", song.album] : null,
      song.releaseDate || song.year ? ["Released", dateText(song.releaseDate || song.year)] : null,
      song.pageviews !== null ? ["Views", numbers.format(song.pageviews)] : null,
      song.language ? ["Language", languageName(song.language)] : null,
      Number.isInteger(song.index) ? ["Popularity", `#${numbers.format(song.index + 1)} in the catalogue`] : null,
    ].filter(Boolean);
    const genius = safeLink(song.url);
    const heading = el("h1", { tabIndex: -1, textContent: song.title });
    hero.replaceChildren(
      el("div", { className: "hero-art" }, art(song, { big: true, className: "art big" })),
      el("div", { className: "hero-text" },
        el("p", { className: "eyebrow", textContent: "Song" }),
        heading,
        el("p", { className: "byline" }, el("a", { className: "artist-link", href: artistHref(song), textContent: song.artist })),
        el("dl", { className: "facts" }, ...facts.map(([name, value]) => el("div", {}, el("dt", { textContent: name }), el("dd", { textContent: value })))),
        el("div", { className: "actions" }, likeButton(song, { withText: true }),
          genius ? el("a", { className: "button ghost", href: genius, target: "_blank", rel: "noopener noreferrer", textContent: "Open on Genius ↗" }) : null)));
    if (document.activeElement === ctx.main) heading.focus();
    const credits = creditsOf(raw);
    const tags = tagsOf(raw);
    const parts = [];
    if (credits.size) {
      parts.push(el("section", { className: "block", attrs: { "aria-labelledby": "credits-title" } },
        el("h2", { id: "credits-title", textContent: "Credits" }),
        el("dl", { className: "credits" }, ...[...credits].flatMap(([role, artists]) => [
          el("dt", { textContent: ROLE_NAMES[role] || role }),
          el("dd", {}, ...artists.flatMap((a, i) => [i ? ", " : null, a.id !== null ? el("a", { href: `#/artist/${encodeURIComponent(a.id)}`, textContent: a.name }) : a.name])),
        ]))));
    }
    if (tags.length) {
      parts.push(el("section", { className: "block", attrs: { "aria-labelledby": "tags-title" } },
        el("h2", { id: "tags-title", textContent: "Tags" }),
        el("ul", { className: "tags" }, ...tags.map((t) => el("li", { className: "tag", textContent: t })))));
    }
    aside.replaceChildren(...parts);
    aside.hidden = parts.length === 0;
  }

  async function loadRecs() {
    const ticket = recs.start();
    list.replaceChildren();
    recStatus.replaceChildren(loading("Finding songs like this…"));
    const params = { k: current.k, exclude_artist: current.other ? "true" : "", max_per_artist: current.per };
    try {
      const body = await api(`/songs/${id}/recommendations${query(params)}`, { signal: ticket.signal });
      if (ticket.stale) return;
      const items = Array.isArray(body.recommendations) ? body.recommendations : [];
      list.replaceChildren(...items.map(recRow));
      recStatus.replaceChildren(items.length ? "" : emptyState("Nothing to recommend with these filters.", "Allow more songs per artist, or include the same artist."));
      ctx.done();
    } catch (error) {
      if (error.kind === Failure.ABORTED || ticket.stale) return;
      recStatus.replaceChildren(errorState(error, "recommendations"));
      ctx.done();
      ctx.fail(error);
    }
  }

  loadSong();
  loadRecs();
  return {
    update(next) {
      const wanted = settings(next.params);
      kSelect.value = String(wanted.k);
      other.checked = wanted.other;
      per.value = wanted.per;
      if (JSON.stringify(wanted) === JSON.stringify(current)) return;
      current = wanted;
      loadRecs();
    },
    unmount() {
      detail.cancel();
      recs.cancel();
    },
  };
}
