// "From my likes": the songs liked in this browser, each removable, and recommendations for
// all of them together (POST /recommendations with the likes as seeds). #/likes?k=20

import { api, channel, Failure } from "./api.js";
import { art, el, emptyState, errorState, loading, select } from "./dom.js";
import { recRow, songHref } from "./cards.js";
import { clear, likes, onChange, remove } from "./likes.js";

const K_CHOICES = [10, 20, 50];
const DEFAULT_K = 20;

export function mount(ctx, route) {
  const recs = channel();
  let k = K_CHOICES.includes(Number(route.params.get("k"))) ? Number(route.params.get("k")) : DEFAULT_K;
  let shownIds = "";

  const heading = el("h1", { tabIndex: -1, textContent: "From my likes" });
  const liked = el("ul", { className: "liked", attrs: { "aria-label": "Liked songs" } });
  const clearAll = el("button", { type: "button", className: "ghost", textContent: "Remove all" });
  const [kLabel, kSelect] = select("Songs", "k", K_CHOICES.map((n) => [n, String(n)]), k);
  const list = el("ol", { className: "recs", attrs: { "aria-label": "Recommendations from my likes" } });
  const recStatus = el("div", { className: "list-status" });
  const intro = el("p", { className: "muted" });
  ctx.setTitle("From my likes");
  ctx.main.append(el("article", { className: "likes-view" },
    el("header", { className: "page-head" }, el("p", { className: "eyebrow", textContent: "Your mix" }), heading, intro),
    el("div", { className: "song-body" },
      el("section", { className: "block recs-block", attrs: { "aria-labelledby": "mix-title" } },
        el("div", { className: "block-head" }, el("h2", { id: "mix-title", textContent: "Recommended for you" }), el("div", { className: "controls" }, kLabel)),
        list, recStatus),
      el("aside", { className: "song-facts" },
        el("section", { className: "block", attrs: { "aria-labelledby": "liked-title" } },
          el("div", { className: "block-head" }, el("h2", { id: "liked-title", textContent: "Liked songs" }), clearAll),
          liked)))));

  clearAll.addEventListener("click", () => clear());
  kSelect.addEventListener("change", () => ctx.navigate(Number(kSelect.value) === DEFAULT_K ? "#/likes" : `#/likes?k=${kSelect.value}`, { replace: true }));

  function showLikes() {
    const songs = likes();
    intro.textContent = songs.length
      ? `Recommendations from the ${songs.length} song${songs.length === 1 ? "" : "s"} you liked in this browser.`
      : "";
    clearAll.hidden = songs.length === 0;
    liked.replaceChildren(...songs.map((song) => {
      const drop = el("button", { type: "button", className: "icon-button", attrs: { "aria-label": `Remove ${song.title} from liked songs` }, title: "Remove", textContent: "✕" });
      drop.addEventListener("click", () => remove(song.id));
      return el("li", { className: "liked-row", data: { id: String(song.id) } },
        art({ ...song, bigArt: song.art }, { className: "art tiny" }),
        el("a", { href: songHref(song) }, el("span", { className: "rec-title", textContent: song.title }), el("span", { className: "rec-artist", textContent: song.artist })),
        drop);
    }));
    return songs;
  }

  async function loadRecs(songs) {
    const ids = songs.map((s) => s.id).join(",") + `|${k}`;
    if (ids === shownIds) return;
    shownIds = ids;
    if (songs.length === 0) {
      recs.cancel();
      list.replaceChildren();
      recStatus.replaceChildren(emptyState("You have not liked any song yet.", "Press the heart on any song; your likes stay in this browser and shape this list."));
      ctx.done();
      return;
    }
    const ticket = recs.start();
    list.replaceChildren();
    recStatus.replaceChildren(loading("Mixing your likes…"));
    try {
      const body = await api("/recommendations", { signal: ticket.signal, json: { seeds: songs.map((s) => s.id), k } });
      if (ticket.stale) return;
      const items = Array.isArray(body.recommendations) ? body.recommendations : [];
      list.replaceChildren(...items.map(recRow));
      recStatus.replaceChildren(items.length ? "" : emptyState("Nothing to recommend from these songs yet."));
    } catch (error) {
      if (error.kind === Failure.ABORTED || ticket.stale) return;
      shownIds = "";
      recStatus.replaceChildren(errorState(error, "recommendations"));
      ctx.fail(error);
    } finally {
      if (!ticket.stale) ctx.done();
    }
  }

  const stop = onChange(() => loadRecs(showLikes()));
  loadRecs(showLikes());
  return {
    update(next) {
      const wanted = Number(next.params.get("k"));
      k = K_CHOICES.includes(wanted) ? wanted : DEFAULT_K;
      kSelect.value = String(k);
      loadRecs(showLikes());
    },
    unmount() {
      stop();
      recs.cancel();
    },
  };
}
