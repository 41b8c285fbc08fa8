// The two ways a song is shown in lists: a card in a grid (browse, artist) and a ranked row
// with score and reasons (recommendations).

import { art, el, songOf, views } from "./dom.js";
import { likeButton } from "./likes.js";

export function songHref(song) {
  return `#/song/${encodeURIComponent(song.id)}`;
}

export function artistHref(song) {
  if (song.artistId !== null && song.artistId !== undefined) return `#/artist/${encodeURIComponent(song.artistId)}`;
  return `#/artist?name=${encodeURIComponent(song.artist)}`;
}

/** A grid card: cover, title, artist, year and views, and a like button. */
export function songCard(raw) {
  const song = songOf(raw);
  const meta = [song.year, views(song.pageviews)].filter(Boolean).join(" · ");
  return el("article", { className: "card", data: { id: String(song.id) } },
    el("a", { className: "card-link", href: songHref(song) },
      el("div", { className: "cover" }, art(song)),
      el("span", { className: "card-title", textContent: song.title }),
      el("span", { className: "card-artist", textContent: song.artist }),
      meta ? el("span", { className: "card-meta", textContent: meta }) : null),
    likeButton(song));
}

/** A recommendation: rank, cover, title and artist links, score bar, reasons, like button. */
export function recRow(raw, rank) {
  const song = songOf(raw);
  const score = Number(raw.score);
  const share = Number.isFinite(score) ? Math.max(0, Math.min(1, score)) : 0;
  const meta = [song.year, views(song.pageviews)].filter(Boolean).join(" · ");
  const bar = el("span", { className: "bar" });
  bar.style.setProperty("--share", share.toFixed(3));
  const reasons = Array.isArray(raw.reasons) ? raw.reasons.slice(0, 6).map(String) : [];
  return el("li", { className: "rec", data: { id: String(song.id) } },
    el("span", { className: "rank", textContent: String(rank + 1) }),
    art(song, { className: "art small" }),
    el("div", { className: "rec-main" },
      el("a", { className: "rec-title", href: songHref(song), textContent: song.title }),
      el("div", { className: "rec-sub" },
        el("a", { className: "rec-artist", href: artistHref(song), textContent: song.artist }),
        meta ? el("span", { className: "rec-meta", textContent: ` · ${meta}` }) : null),
      reasons.length ? el("ul", { className: "reasons", attrs: { "aria-label": "Why" } }, ...reasons.map((r) => el("li", { className: "reason", textContent: r }))) : null),
    el("div", { className: "score", title: "similarity score" },
      el("span", { className: "score-value", textContent: Number.isFinite(score) ? score.toFixed(3) : "–" }),
      el("span", { className: "meter", attrs: { "aria-hidden": "true" } }, bar)),
    likeButton(song));
}
