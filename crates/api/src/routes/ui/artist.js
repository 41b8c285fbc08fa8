// One artist: name, songs (most viewed first) and the most similar artists
// (#/artist/ID; #/artist?name=NAME when only the name is known).

import { api, channel, Failure, query } from "./api.js";
import { el, emptyState, errorState, loading, numbers, placeholder, skeletonCards } from "./dom.js";
import { songCard } from "./cards.js";

/** Songs shown on an artist page. */
const SONGS = 100;

function similarOf(body) {
  const list = body.similar_artists ?? body.similar ?? [];
  return (Array.isArray(list) ? list : []).filter((a) => a && a.name).slice(0, 24);
}

export function mount(ctx, route) {
  const request = channel();
  const heading = el("h1", { tabIndex: -1, textContent: route.params.get("name") || "Artist" });
  const avatar = el("div", { className: "avatar-slot" });
  const sub = el("p", { className: "muted" });
  const grid = el("div", { className: "grid", attrs: { "aria-label": "Songs" } }, ...skeletonCards(8));
  const songsStatus = el("div", { className: "list-status" });
  const similar = el("div", { className: "similar" }, loading("Finding similar artists…"));
  ctx.main.append(el("article", { className: "artist-view" },
    el("header", { className: "artist-hero" }, avatar, el("div", {}, el("p", { className: "eyebrow", textContent: "Artist" }), heading, sub)),
    el("section", { className: "block", attrs: { "aria-labelledby": "artist-songs" } }, el("h2", { id: "artist-songs", textContent: "Songs" }), grid, songsStatus),
    el("section", { className: "block", attrs: { "aria-labelledby": "artist-similar" } }, el("h2", { id: "artist-similar", textContent: "Similar artists" }), similar)));

  function showArtist(name, id, songs, total, similarArtists) {
    heading.textContent = name;
    ctx.setTitle(name);
    avatar.replaceChildren(placeholder(`artist-${id ?? name}`, `Placeholder picture for ${name}`, name, "avatar"));
    sub.textContent = total ? `${numbers.format(total)} song${total === 1 ? "" : "s"} in the catalogue` : "";
    grid.replaceChildren(...songs.map(songCard));
    songsStatus.replaceChildren(songs.length ? "" : emptyState("No songs by this artist in the catalogue."));
    if (similarArtists === null) {
      similar.replaceChildren(emptyState("Similar artists are not available on this server yet."));
    } else if (similarArtists.length === 0) {
      similar.replaceChildren(emptyState("No similar artists found."));
    } else {
      similar.replaceChildren(el("ul", { className: "chips" }, ...similarArtists.map((a) => el("li", {},
        el("a", { className: "chip", href: a.id !== undefined && a.id !== null ? `#/artist/${encodeURIComponent(a.id)}` : `#/artist?name=${encodeURIComponent(a.name)}` },
          placeholder(`artist-${a.id ?? a.name}`, "", a.name, "avatar tiny"), el("span", { textContent: a.name }))))));
    }
  }

  async function load() {
    const ticket = request.start();
    try {
      if (route.id) {
        const body = await api(`/artists/${route.id}`, { signal: ticket.signal });
        if (ticket.stale) return;
        const songs = Array.isArray(body.songs) ? body.songs : [];
        showArtist(String(body.name ?? body.artist?.name ?? "Artist"), route.id, songs.slice(0, SONGS), body.songs_total ?? body.total ?? songs.length, similarOf(body));
      } else {
        // Only the name is known: the artist's songs from search; similar artists need an id.
        const name = route.params.get("name");
        const page = await api(`/songs${query({ q: name, limit: 100 })}`, { signal: ticket.signal });
        if (ticket.stale) return;
        const own = (page.songs || []).filter((s) => String(s.artist).toLowerCase() === name.toLowerCase());
        showArtist(name, null, own.slice(0, SONGS), own.length, null);
      }
    } catch (error) {
      if (error.kind === Failure.ABORTED || ticket.stale) return;
      grid.replaceChildren();
      songsStatus.replaceChildren(errorState(error, "this artist"));
      similar.replaceChildren();
      ctx.fail(error);
    } finally {
      if (!ticket.stale) ctx.done();
    }
  }

  load();
  return { unmount: () => request.cancel() };
}
