// Building blocks shared by every view: element creation, the song record as the page sees it,
// cover art (Genius art or a generated placeholder), number and date formats, and the
// loading / empty / error states.

import { Failure } from "./api.js";

const SVG_NS = "http://www.w3.org/2000/svg";

/** An element with properties, attributes (`attrs`), data (`data`) and children. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  const { attrs, data, ...rest } = props;
  Object.assign(node, rest);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(name, String(value));
  }
  Object.assign(node.dataset, data || {});
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
}

/** An SVG element with attributes. */
export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  append(node, children);
  return node;
}

export const numbers = new Intl.NumberFormat();
const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });
let languageNames = null;
try {
  languageNames = new Intl.DisplayNames(undefined, { type: "language" });
} catch {
  languageNames = null;
}

export function views(pageviews) {
  if (pageviews === null || pageviews === undefined) return null;
  return `${compact.format(pageviews)} views`;
}

export function languageName(code) {
  if (!code) return null;
  try {
    return (languageNames && languageNames.of(code)) || code;
  } catch {
    return code;
  }
}

/** "12 Mar 2021" for a full date, the year alone for a year. */
export function dateText(value) {
  if (!value) return null;
  const text = String(value);
  if (/^\d{4}$/.test(text)) return text;
  const date = new Date(text.length === 10 ? `${text}T00:00:00Z` : text);
  if (Number.isNaN(date.getTime())) return text;
  return date.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric", timeZone: "UTC" });
}

/** "3 hours ago" style, for timestamps. */
export function ago(value) {
  const then = new Date(value).getTime();
  if (Number.isNaN(then)) return null;
  const seconds = Math.round((then - Date.now()) / 1000);
  const format = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  for (const [unit, size] of [["day", 86400], ["hour", 3600], ["minute", 60]]) {
    if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
  }
  return format.format(seconds, "second");
}

/**
 * A song as the page uses it, whatever optional fields the server sent: only `id`, `title`
 * and `artist` are required by the API contract, everything else may be missing.
 */
export function songOf(raw) {
  const year = raw.release_year ?? raw.year ?? (typeof raw.release_date === "string" ? Number(raw.release_date.slice(0, 4)) || null : null);
  return {
    id: raw.id,
    index: raw.index,
    title: String(raw.title ?? ""),
    artist: String(raw.artist ?? raw.artist_name ?? ""),
    artistId: raw.artist_id ?? raw.primary_artist_id ?? null,
    album: raw.album ?? null,
    releaseDate: raw.release_date ?? null,
    year,
    language: raw.language ?? null,
    pageviews: raw.pageviews ?? null,
    art: raw.art_thumbnail_url ?? raw.song_art_image_thumbnail_url ?? thumbnail(raw.art_url ?? raw.song_art_image_url ?? null),
    bigArt: raw.art_url ?? raw.song_art_image_url ?? raw.art_thumbnail_url ?? null,
    url: raw.url ?? raw.genius_url ?? null,
  };
}

/** Genius serves every cover at 300 px too: cards and rows need no more. */
function thumbnail(url) {
  return typeof url === "string" ? url.replace(/\.1000x1000x1\.(jpg|png)$/, ".300x300x1.$1") : null;
}

/** Art is shown only from Genius's image hosts over HTTPS (the page's security policy). */
const ART_HOSTS = new Set(["images.genius.com", "images.rapgenius.com", "t2.genius.com"]);

export function trustedArt(url) {
  if (typeof url !== "string") return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" && ART_HOSTS.has(parsed.hostname) ? parsed.href : null;
  } catch {
    return null;
  }
}

/** A Genius page link, only for http(s) URLs. */
export function safeLink(url) {
  if (typeof url !== "string") return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch {
    return null;
  }
}

function hash(text) {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

function initials(text) {
  const words = String(text).replace(/\(.*?\)/g, "").trim().split(/\s+/).filter(Boolean);
  return words.slice(0, 2).map((w) => Array.from(w)[0]).join("").toUpperCase() || "♪";
}

/** A generated cover: two hues from the song's id and title, its initials, a record groove. */
export function placeholder(seed, label, text, className = "art") {
  const h = hash(String(seed));
  // Without a label the cover is decoration (the text beside it names the song or artist).
  const attrs = label ? { role: "img", "aria-label": label } : { "aria-hidden": "true" };
  const node = el("div", { className: `${className} placeholder`, attrs },
    el("span", { className: "initials", attrs: { "aria-hidden": "true" }, textContent: initials(text) }));
  node.style.setProperty("--h1", String(h % 360));
  node.style.setProperty("--h2", String((h >>> 9) % 360));
  return node;
}

/** Cover art for a song: its Genius art when there is some, else the generated placeholder. */
export function art(song, { big = false, className = "art" } = {}) {
  const label = `Cover art of ${song.title} by ${song.artist}`;
  const url = trustedArt(big ? song.bigArt : song.art);
  const fallback = () => placeholder(song.id, label, song.title, className);
  if (!url) return fallback();
  const img = el("img", { className, src: url, alt: label, loading: big ? "eager" : "lazy", decoding: "async" });
  img.addEventListener("error", () => img.replaceWith(fallback()), { once: true });
  return img;
}

/** A spinner line for a part of a view being loaded. */
export function loading(what = "Loading…") {
  return el("p", { className: "state loading", attrs: { role: "status" } }, el("span", { className: "spinner", attrs: { "aria-hidden": "true" } }), ` ${what}`);
}

/** Skeleton cards while a grid loads. */
export function skeletonCards(count) {
  return Array.from({ length: count }, () => el("div", { className: "card skeleton", attrs: { "aria-hidden": "true" } },
    el("div", { className: "art" }), el("div", { className: "line" }), el("div", { className: "line short" })));
}

/** A friendly "nothing here" block. */
export function emptyState(title, hint) {
  return el("div", { className: "state empty" }, el("p", { className: "state-title", textContent: title }), hint ? el("p", { textContent: hint }) : null);
}

/** The error block for a failed part of a view. */
export function errorState(error, what) {
  const messages = {
    [Failure.NO_MODEL]: ["No model is loaded yet.", "Train one with `songrec train` (or run `songrec demo`); this page picks it up by itself."],
    [Failure.DOWN]: ["The songrec server cannot be reached.", "This page retries by itself."],
    [Failure.BUSY]: ["The server is busy.", "Try again in a moment."],
    [Failure.NO_ROUTE]: [`This server does not offer ${what} yet.`, null],
    [Failure.NOT_FOUND]: [`${capital(what)}: not found.`, error.message],
  };
  const [title, hint] = messages[error.kind] || [`Could not load ${what}.`, error.message];
  return el("div", { className: `state error ${error.kind}`, attrs: { role: "alert" } },
    el("p", { className: "state-title", textContent: title }), hint ? el("p", { textContent: hint }) : null);
}

function capital(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A section with a heading. */
export function section(title, ...children) {
  const id = `h-${hash(title + Math.random())}`;
  return el("section", { className: "block", attrs: { "aria-labelledby": id } }, el("h2", { id, textContent: title }), ...children);
}

/** A labelled select with (value, text) options. */
export function select(label, name, options, value) {
  const control = el("select", { name }, ...options.map(([v, text]) => el("option", { value: String(v), textContent: text, selected: String(v) === String(value) })));
  return [el("label", { className: "control" }, el("span", { textContent: label }), control), control];
}

/** A labelled checkbox. */
export function checkbox(label, name, checked) {
  const control = el("input", { type: "checkbox", name, checked: Boolean(checked) });
  return [el("label", { className: "control check" }, control, el("span", { textContent: label })), control];
}
