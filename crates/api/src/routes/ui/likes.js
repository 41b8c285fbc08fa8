// Liked songs, kept in this browser (localStorage) and shared between tabs. At most MAX_LIKES,
// the number of seeds one recommendation request accepts.

import { el } from "./dom.js";

const KEY = "songrec.likes.v1";
export const MAX_LIKES = 50;
const listeners = new Set();

/** The stored likes, newest first; anything unreadable is dropped rather than trusted. */
export function likes() {
  let stored;
  try {
    stored = JSON.parse(localStorage.getItem(KEY) || "[]");
  } catch {
    return [];
  }
  if (!Array.isArray(stored)) return [];
  return stored
    .filter((s) => s && Number.isSafeInteger(s.id) && s.id >= 0 && typeof s.title === "string")
    .slice(0, MAX_LIKES)
    .map((s) => ({ id: s.id, title: s.title.slice(0, 300), artist: String(s.artist || "").slice(0, 300), art: typeof s.art === "string" ? s.art : null }));
}

function save(list) {
  try {
    localStorage.setItem(KEY, JSON.stringify(list.slice(0, MAX_LIKES)));
  } catch {
    // Storage full or disabled: likes last for this page only.
  }
  for (const listener of listeners) listener();
}

export function isLiked(id) {
  return likes().some((s) => s.id === Number(id));
}

/** Likes or unlikes `song`; returns whether it is liked now. */
export function toggle(song) {
  const list = likes();
  const id = Number(song.id);
  const at = list.findIndex((s) => s.id === id);
  if (at >= 0) {
    list.splice(at, 1);
    save(list);
    return false;
  }
  if (list.length >= MAX_LIKES) list.pop();
  list.unshift({ id, title: song.title, artist: song.artist, art: song.art || null });
  save(list);
  return true;
}

export function remove(id) {
  save(likes().filter((s) => s.id !== Number(id)));
}

export function clear() {
  save([]);
}

/** Calls `listener` after every change of the likes; returns the function that stops it. */
export function onChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

window.addEventListener("storage", (event) => {
  if (event.key === KEY) for (const listener of listeners) listener();
});

/** A heart button that likes or unlikes `song`, kept in step with every other one. */
export function likeButton(song, { withText = false } = {}) {
  const button = el("button", { type: "button", className: withText ? "like with-text" : "like" });
  button.dataset.likeId = String(song.id);
  button.dataset.likeTitle = song.title;
  button.append(el("span", { className: "heart", attrs: { "aria-hidden": "true" } }));
  if (withText) button.append(el("span", { className: "like-text" }));
  paint(button, isLiked(song.id));
  button.addEventListener("click", (event) => {
    event.preventDefault();
    event.stopPropagation();
    toggle(song);
  });
  return button;
}

function paint(button, liked) {
  const title = button.dataset.likeTitle;
  button.setAttribute("aria-pressed", String(liked));
  button.setAttribute("aria-label", liked ? `Unlike ${title}` : `Like ${title}`);
  button.title = liked ? "Remove from liked songs" : "Add to liked songs";
  const text = button.querySelector(".like-text");
  if (text) text.textContent = liked ? "Liked" : "Like";
}

onChange(() => {
  const liked = new Set(likes().map((s) => String(s.id)));
  for (const button of document.querySelectorAll("button.like")) paint(button, liked.has(button.dataset.likeId));
});
