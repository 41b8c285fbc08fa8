// The explorer page in headless Chromium, driven by Playwright (playwright-core, no browser
// download: Debian's chromium), against a real `songrec demo` and a `songrec serve` that starts
// without a model. Started by tests/explorer.rs, which passes everything through the
// environment:
//
//   SONGREC_URL              `songrec demo`, e.g. http://127.0.0.1:41234 (its model trained)
//   SONGREC_DATA_DIR         the demo's data dir (a second version is trained there)
//   SONGREC_SONGS            how many songs the demo's catalogue holds
//   SONGREC_EMPTY_URL        `songrec serve` on a data dir without songs or model
//   SONGREC_EMPTY_DATA_DIR   its data dir
//   SONGREC_EMPTY_CATALOGUE  a small generated catalogue to import there while the page waits
//   SONGREC_EMPTY_SONGS      how many songs it holds
//   SONGREC_BIN              the songrec binary
//   SONGREC_CHROMIUM         the browser binary
//   SONGREC_SCREENSHOTS      where screenshots go
//   SONGREC_NODE_DEPS        the folder whose node_modules holds playwright-core
//
// Any console error or uncaught exception fails the journey. The one step that cuts the page
// off from the server expects Chromium's own "connection refused" lines for the requests it
// cut, and nothing else. Prints one line per step; exits non-zero with the reason on the first
// failure.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const base = env("SONGREC_URL").replace(/\/$/, "");
const emptyBase = env("SONGREC_EMPTY_URL").replace(/\/$/, "");
const origins = new Set([new URL(base).origin, new URL(emptyBase).origin]);
const songCount = Number(env("SONGREC_SONGS"));
const shots = env("SONGREC_SCREENSHOTS");
mkdirSync(shots, { recursive: true });
const nodeDeps = createRequire(join(env("SONGREC_NODE_DEPS"), "package.json"));
const { chromium } = nodeDeps("playwright-core");
const axeSource = readFileSync(nodeDeps.resolve("axe-core/axe.min.js"), "utf8");

const DESKTOP = { width: 1366, height: 900 };
const PHONE = { width: 375, height: 812 };
const WAIT = 20_000;

let step = "start";
const consoleErrors = [];
const offOrigin = [];
/** The console errors the current step provokes on purpose (only: the server cut off). */
let expectedErrors = null;
/** How many of them were seen. */
let expectedSeen = 0;

function log(message) {
  console.log(`explorer: ${message}`);
}

function begin(name) {
  step = name;
  log(name);
}

async function api(path, init, server = base) {
  const response = await fetch(`${server}${path}`, init);
  return { status: response.status, body: await response.json() };
}

function songrec(dataDir, ...args) {
  const out = spawnSync(env("SONGREC_BIN"), ["--data-dir", dataDir, ...args], {
    encoding: "utf8",
    env: { ...process.env, SONGREC_LOG: "warn" },
  });
  assert.equal(out.status, 0, `songrec ${args.join(" ")} failed: ${out.stderr}`);
  return out.stdout;
}

/** Generated art for requests to Genius's image host: the browser never leaves this machine. */
function fakeArt(url) {
  let h = 0;
  for (const c of url) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  const body = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10" fill="hsl(${h % 360} 60% 45%)"/><circle cx="5" cy="5" r="2.5" fill="#111"/></svg>`;
  return { status: 200, contentType: "image/svg+xml", body };
}

/**
 * axe-core's checks (contrast, names and alt text, landmarks, ARIA) on the current view; fails
 * on serious and critical findings. Run through the DevTools protocol, so the page's own
 * Content-Security-Policy stays on.
 */
async function audit(page, name) {
  if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  const serious = result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.help} (${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")})`);
  assert.deepEqual(serious, [], `accessibility problems on ${name}`);
}

/** Screenshots at desktop and phone width, each checked for sideways scrolling and by axe. */
async function shoot(page, name) {
  for (const [label, size] of [["desktop", DESKTOP], ["phone", PHONE]]) {
    await page.setViewportSize(size);
    await page.waitForTimeout(150); // let the layout settle after the resize
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${name} at ${label} width scrolls sideways by ${overflow}px`);
    await audit(page, `${name} at ${label} width`);
    await page.screenshot({ path: join(shots, `${name}-${label}.png`), fullPage: false });
  }
  await page.setViewportSize(DESKTOP);
}

async function texts(locator) {
  return (await locator.allTextContents()).map((t) => t.trim());
}

async function main() {
  const profile = mkdtempSync(join(tmpdir(), "songrec-explorer-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: env("SONGREC_CHROMIUM"),
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: DESKTOP,
    colorScheme: "dark",
    reducedMotion: "reduce",
  });
  try {
    await context.route("**/*", (route) => {
      const url = new URL(route.request().url());
      if (origins.has(url.origin)) return route.continue();
      if (url.protocol === "https:" && url.hostname === "images.genius.com") return route.fulfill(fakeArt(url.href));
      offOrigin.push(`${step}: ${url.href}`);
      return route.abort();
    });
    const page = context.pages()[0] || (await context.newPage());
    page.on("console", (message) => {
      if (message.type() !== "error") return;
      const text = message.text();
      if (expectedErrors && expectedErrors.test(text)) {
        expectedSeen += 1;
        return;
      }
      consoleErrors.push(`${step}: ${text} (${message.location().url || "?"})`);
    });
    page.on("pageerror", (error) => consoleErrors.push(`${step}: uncaught ${error.message}`));
    await journey(page);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
  assert.deepEqual(offOrigin, [], "the page requested something from another origin");
  assert.deepEqual(consoleErrors, [], "the page logged errors");
  log("all steps passed");
}

async function journey(page) {
  begin("no model loaded: the page says so, without a failed request");
  assert.equal((await api("/ready", undefined, emptyBase)).status, 503, "this server must start without a model");
  await page.goto(`${emptyBase}/`);
  await page.locator(".no-model").waitFor({ timeout: WAIT });
  assert.match(await page.locator("main h1").innerText(), /No model is loaded yet/);
  assert.equal(await page.locator("body").getAttribute("data-state"), "no-model");
  await shoot(page, "no-model");

  begin("a model is trained: the page picks it up by itself");
  const emptyDir = env("SONGREC_EMPTY_DATA_DIR");
  songrec(emptyDir, "import", env("SONGREC_EMPTY_CATALOGUE"));
  songrec(emptyDir, "train");
  await page.locator(".grid .card").first().waitFor({ timeout: WAIT * 2 });
  await page.locator(".count", { hasText: `${Number(env("SONGREC_EMPTY_SONGS"))} songs` }).waitFor({ timeout: WAIT });

  begin("songrec demo: the catalogue it trained on");
  await page.goto(`${base}/`);
  await page.locator(".grid .card").first().waitFor({ timeout: WAIT });
  assert.equal(await page.locator("main h1").innerText(), "Popular songs");
  await page.locator(".count", { hasText: `${songCount.toLocaleString("en-US")} songs` }).waitFor({ timeout: WAIT });
  const firstPage = await page.locator(".grid .card").count();
  assert.ok(firstPage >= 12, `only ${firstPage} cards on the first page`);
  const top = (await api("/songs?limit=1")).body.songs[0];
  assert.equal((await texts(page.locator(".card-title")))[0], top.title, "the most viewed song comes first");
  const pageOfSongs = (await api("/songs?limit=24")).body.songs;
  const withArt = pageOfSongs.filter((s) => (s.art_url || "").startsWith("https://images.genius.com/")).length;
  assert.ok(withArt > 0, "the catalogue has Genius art on this page");
  assert.equal(await page.locator(".grid .card").nth(23).locator("img.art, .art.placeholder").count(), 1);
  assert.equal(await page.locator(".grid .card:nth-child(-n+24) img.art").count(), withArt, "songs with Genius art show it");
  assert.ok(await page.locator(".card .art.placeholder").count() > 0, "songs without art get a generated cover");
  for (const alt of await page.locator(".card img.art").evaluateAll((imgs) => imgs.map((i) => i.alt))) assert.match(alt, /^Cover art of .+ by .+/);
  await shoot(page, "browse");

  begin("scrolling loads more songs");
  await page.locator("button.more").scrollIntoViewIfNeeded();
  await page.waitForFunction((n) => document.querySelectorAll(".grid .card").length > n, firstPage, { timeout: WAIT });

  begin("filters: language, sort and artist, each kept in the URL");
  const count = (total) => `${total.toLocaleString("en-US")} song${total === 1 ? "" : "s"}`;
  const gridTitles = async (first) => {
    await page.waitForFunction((t) => document.querySelector(".grid .card-title")?.textContent === t, first, { timeout: WAIT });
    return (await texts(page.locator(".grid .card-title"))).slice(0, 24);
  };
  await page.locator("select[name=lang]").selectOption("ko");
  await page.waitForURL(/lang=ko/);
  const korean = (await api("/songs?language=ko&limit=24")).body;
  assert.ok(korean.total > 0 && korean.total < songCount, `${korean.total} Korean songs`);
  assert.deepEqual(await gridTitles(korean.songs[0].title), korean.songs.map((s) => s.title));
  await page.locator(".count", { hasText: count(korean.total) }).waitFor({ timeout: WAIT });
  await page.locator("select[name=sort]").selectOption("title");
  await page.waitForURL(/sort=title/);
  const byTitle = (await api("/songs?language=ko&sort=title&limit=24")).body;
  assert.deepEqual(await gridTitles(byTitle.songs[0].title), byTitle.songs.map((s) => s.title));
  await page.reload();
  assert.deepEqual(await gridTitles(byTitle.songs[0].title), byTitle.songs.map((s) => s.title), "filters survive a reload");
  assert.equal(await page.locator("select[name=lang]").inputValue(), "ko");
  await page.locator("button", { hasText: "Clear filters" }).click();
  await page.waitForFunction(() => !location.hash.includes("lang="));
  await page.locator("input[name=artist]").fill(top.artist);
  await page.waitForURL(/artist=/);
  const byArtist = (await api(`/songs?artist=${encodeURIComponent(top.artist)}&limit=24`)).body;
  assert.deepEqual(await gridTitles(byArtist.songs[0].title), byArtist.songs.map((s) => s.title));
  await page.locator(".count", { hasText: count(byArtist.total) }).waitFor({ timeout: WAIT });
  await shoot(page, "filters");
  await page.locator("button", { hasText: "Clear filters" }).click();
  await page.waitForFunction(() => !location.hash.includes("artist="));
  await page.locator("input[name=from]").fill("2012");
  await page.locator("input[name=to]").fill("2020");
  await page.waitForURL(/to=2020/);
  await page.locator("select[name=views]").selectOption("10000");
  await page.waitForURL(/views=10000/);
  const ranged = (await api("/songs?min_year=2012&max_year=2020&min_pageviews=10000&limit=24")).body;
  assert.ok(ranged.total > 0 && ranged.total < songCount, `${ranged.total} songs from 2012 to 2020 with 10K+ views`);
  assert.ok(ranged.songs.every((s) => s.release_year >= 2012 && s.release_year <= 2020 && s.pageviews >= 10000));
  assert.deepEqual(await gridTitles(ranged.songs[0].title), ranged.songs.map((s) => s.title));
  await page.locator(".count", { hasText: count(ranged.total) }).waitFor({ timeout: WAIT });
  await page.locator("button", { hasText: "Clear filters" }).click();
  await page.waitForFunction(() => !location.hash.includes("views="));
  assert.equal(await gridTitles(top.title).then((t) => t[0]), top.title);

  begin("a fresh load: time to the first songs (reported, not asserted)");
  const loads = [];
  for (let i = 0; i < 5; i++) {
    await page.goto(`${base}/`);
    await page.waitForFunction(() => performance.getEntriesByName("songrec:first-results").length > 0, null, { timeout: WAIT });
    loads.push(await page.evaluate(() => performance.getEntriesByName("songrec:first-results")[0].startTime));
  }
  loads.sort((a, b) => a - b);
  log(`first songs on screen after ${loads.map((t) => t.toFixed(0)).join(", ")} ms (median ${loads[2].toFixed(0)} ms)`);

  begin("search as you type, and a slow stale answer never overwrites a newer one");
  const wanted = (await api("/songs?limit=1&offset=7")).body.songs[0];
  const decoy = wanted.title.split(/\s+/)[0].slice(0, 2);
  let delayed = 0;
  const isDecoy = (url) => url.pathname === "/songs" && url.searchParams.get("q") === decoy;
  await page.route(isDecoy, async (route) => {
    delayed += 1;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await route.continue().catch(() => {});
  });
  await page.locator("#q").fill(decoy);
  await page.waitForFunction(() => location.hash.includes("q="));
  await page.locator("#q").fill(wanted.title);
  await page.locator(".results-head h1", { hasText: wanted.title }).waitFor({ timeout: WAIT });
  await page.locator(".card-title", { hasText: wanted.title }).first().waitFor({ timeout: WAIT });
  await page.waitForTimeout(1800); // past the slow answer to the older query
  await page.unroute(isDecoy);
  assert.ok(delayed >= 1, "the first query was sent and held back");
  const found = await texts(page.locator(".card-title"));
  assert.ok(found.includes(wanted.title), `"${wanted.title}" not among ${found}`);
  const expected = (await api(`/songs?q=${encodeURIComponent(wanted.title)}&limit=24`)).body;
  assert.deepEqual(found, expected.songs.map((s) => s.title), "the grid shows the newest query's answer");
  assert.match(page.url(), /#\/\?q=/);
  await shoot(page, "search");

  begin("nothing found");
  await page.locator("#q").fill("zzzqqxnotasong");
  await page.locator(".state.empty", { hasText: "Nothing found" }).waitFor({ timeout: WAIT });
  await page.locator("#q").fill(wanted.title);
  await page.locator(".card-title", { hasText: wanted.title }).first().waitFor({ timeout: WAIT });

  begin("open the song: details and k recommendations with reasons");
  await page.locator(".card", { hasText: wanted.title }).first().locator("a.card-link").click();
  await page.waitForURL(new RegExp(`#/song/${wanted.id}$`));
  await page.locator(".song-hero h1").waitFor();
  assert.equal(await page.locator(".song-hero h1").innerText(), wanted.title);
  assert.equal(await page.locator(".artist-link").innerText(), wanted.artist);
  await page.locator("ol.recs > li.rec").first().waitFor({ timeout: WAIT });
  assert.equal(await page.locator("ol.recs > li.rec").count(), 10, "the default k is 10");
  const recs = (await api(`/songs/${wanted.id}/recommendations?k=10`)).body.recommendations;
  assert.deepEqual(await texts(page.locator("ol.recs .rec-title")), recs.map((r) => r.title));
  assert.equal(await page.locator("ol.recs > li.rec").filter({ has: page.locator(".reason") }).count(), 10, "every recommendation says why");
  assert.equal((await texts(page.locator("ol.recs .reason")))[0], recs[0].reasons[0]);
  assert.equal((await texts(page.locator("ol.recs .score-value")))[0], recs[0].score.toFixed(3));
  assert.match(await page.title(), new RegExp(wanted.title.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
  const details = (await api(`/songs/${wanted.id}`)).body;
  const facts = await texts(page.locator(".song-hero .facts dd"));
  if (details.album) assert.ok(facts.includes(details.album), `album ${details.album} among ${facts}`);
  assert.ok(facts.includes(details.pageviews.toLocaleString("en-US")), `views among ${facts}`);
  assert.equal(await page.locator(".song-hero a", { hasText: "Open on Genius" }).getAttribute("href"), details.url);
  const credited = await texts(page.locator(".credits dd a"));
  for (const credit of details.credits) assert.ok(credited.includes(credit.name), `${credit.name} among the credits ${credited}`);
  assert.equal(await page.locator(".artist-link").getAttribute("href"), `#/artist/${details.artist_id}`);
  await page.locator("select[name=k]").selectOption("5");
  await page.waitForFunction(() => document.querySelectorAll("ol.recs > li.rec").length === 5, null, { timeout: WAIT });
  assert.match(page.url(), /\?k=5$/);
  await shoot(page, "song");
  await page.emulateMedia({ colorScheme: "light" });
  await audit(page, "song in the light theme");
  await page.screenshot({ path: join(shots, "song-desktop-light.png") });
  const light = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  await page.emulateMedia({ colorScheme: "dark" });
  const dark = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.notEqual(light, dark, "light and dark themes follow the system setting");

  begin("keyboard: tab to a recommendation, open it, come back with the back button");
  const firstRec = (await texts(page.locator("ol.recs .rec-title")))[0];
  await page.locator("select[name=k]").focus();
  let reached = false;
  for (let i = 0; i < 12 && !reached; i++) {
    await page.keyboard.press("Tab");
    reached = await page.evaluate(() => document.activeElement.classList.contains("rec-title"));
  }
  assert.ok(reached, "Tab reaches the first recommendation");
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, "none", "the focused link shows a focus ring");
  await page.keyboard.press("Enter");
  await page.locator(".song-hero h1", { hasText: firstRec }).waitFor({ timeout: WAIT });
  await page.goBack();
  await page.locator(".song-hero h1", { hasText: wanted.title }).waitFor({ timeout: WAIT });
  assert.equal(await page.locator("ol.recs > li.rec").count(), 5, "back restores k=5 from the URL");
  await page.goForward();
  await page.locator(".song-hero h1", { hasText: firstRec }).waitFor({ timeout: WAIT });
  await page.goBack();
  await page.locator(".song-hero h1", { hasText: wanted.title }).waitFor({ timeout: WAIT });

  begin("recommendation filters: other artists only, at most one per artist");
  const recTitles = async (query) => {
    const expected = (await api(`/songs/${wanted.id}/recommendations?${query}`)).body.recommendations;
    assert.ok(expected.length > 0, `recommendations for ${query}`);
    await page.waitForFunction((t) => {
      const shown = [...document.querySelectorAll("ol.recs .rec-title")].map((a) => a.textContent);
      return shown.length === t.length && shown.every((title, i) => title === t[i]);
    }, expected.map((r) => r.title), { timeout: WAIT });
    return expected;
  };
  await page.locator("input[name=other]").check();
  await page.waitForURL(/other=1/);
  const others = await recTitles("k=5&exclude_artist=true");
  assert.ok(others.every((r) => r.artist_id !== details.artist_id), "no song by the same artist");
  await page.locator("select[name=per]").selectOption("1");
  await page.waitForURL(/per=1/);
  const onePer = await recTitles("k=5&exclude_artist=true&max_per_artist=1");
  assert.equal(new Set(onePer.map((r) => r.artist_id)).size, onePer.length, "one song per artist");
  await page.locator("input[name=other]").uncheck();
  await page.locator("select[name=per]").selectOption("");
  await page.waitForURL(new RegExp(`#/song/${wanted.id}\\?k=5$`));
  await recTitles("k=5");

  begin("no likes yet: the likes view says how to start");
  await page.locator("nav a[data-nav=likes]").click();
  await page.locator(".state.empty", { hasText: "not liked any song yet" }).waitFor({ timeout: WAIT });
  assert.equal(await page.locator(".liked .liked-row").count(), 0);
  await page.goBack();
  await page.locator(".song-hero h1", { hasText: wanted.title }).waitFor({ timeout: WAIT });

  begin("like two songs");
  await page.locator(".song-hero button.like").click();
  assert.equal(await page.locator(".song-hero button.like").getAttribute("aria-pressed"), "true");
  const second = recs[1];
  await page.locator(`ol.recs li.rec[data-id="${second.id}"] button.like`).click();
  assert.equal(await page.locator("#like-count").innerText(), "2");

  begin("the artist view: songs and similar artists");
  await page.locator(".artist-link").click();
  await page.waitForURL(new RegExp(`#/artist/${details.artist_id}$`));
  await page.locator(".artist-view h1", { hasText: wanted.artist }).waitFor({ timeout: WAIT });
  await page.locator(".artist-view .grid .card").first().waitFor({ timeout: WAIT });
  const artist = (await api(`/artists/${details.artist_id}`)).body;
  assert.deepEqual(await texts(page.locator(".artist-view .card-title")), artist.songs.map((s) => s.title));
  assert.ok(artist.songs.some((s) => s.id === wanted.id));
  assert.ok(artist.similar_artists.length > 0, "the artist has similar artists");
  assert.deepEqual(await texts(page.locator(".similar .chip span:not(.initials)")), artist.similar_artists.map((a) => a.name));
  await shoot(page, "artist");
  const similar = artist.similar_artists[0];
  await page.locator(".similar a.chip").first().click();
  await page.waitForURL(new RegExp(`#/artist/${similar.id}$`));
  await page.locator(".artist-view h1", { hasText: similar.name }).waitFor({ timeout: WAIT });
  await page.goBack();
  await page.locator(".artist-view h1", { hasText: wanted.artist }).waitFor({ timeout: WAIT });

  begin("recommendations from my likes, kept across a reload");
  await page.locator("nav a[data-nav=likes]").click();
  await page.waitForURL(/#\/likes$/);
  await page.locator("ol.recs > li.rec").first().waitFor({ timeout: WAIT });
  assert.deepEqual((await texts(page.locator(".liked .rec-title"))).sort(), [wanted.title, second.title].sort());
  const fromLikes = (await api("/recommendations", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ seeds: [second.id, wanted.id], k: 20 }) })).body.recommendations;
  assert.deepEqual(await texts(page.locator("ol.recs .rec-title")), fromLikes.map((r) => r.title));
  await page.reload();
  await page.locator("ol.recs > li.rec").first().waitFor({ timeout: WAIT });
  assert.equal(await page.locator(".liked .liked-row").count(), 2, "likes survive a reload");
  assert.equal(await page.locator("#like-count").innerText(), "2");
  await shoot(page, "likes");
  await page.locator(`.liked-row[data-id="${second.id}"] button`).click();
  await page.waitForFunction(() => document.querySelectorAll(".liked .liked-row").length === 1);
  const fromOne = (await api("/recommendations", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ seeds: [wanted.id], k: 20 }) })).body.recommendations;
  await page.waitForFunction((first) => document.querySelector("ol.recs .rec-title")?.textContent === first, fromOne[0].title, { timeout: WAIT });

  begin("the model and pipeline panel: champion, chart, last cycles");
  // A second version, not promoted: the demo keeps serving the first.
  songrec(env("SONGREC_DATA_DIR"), "train", "--promote", "never", "--param", "w_album=0.9");
  const models = await api("/models");
  const pipeline = await api("/pipeline");
  assert.equal(models.status, 200);
  assert.equal(pipeline.status, 200, JSON.stringify(pipeline.body));
  assert.equal(pipeline.body.cycles.length, 2, "the demo's training and the second one");
  await page.locator("nav a[data-nav=model]").click();
  await page.waitForURL(/#\/model$/);
  const served = (await api("/model")).body;
  await page.locator(".tile-value").first().waitFor({ timeout: WAIT });
  const tiles = await texts(page.locator(".tile-value"));
  assert.equal(tiles[0], `v${served.version}`);
  assert.ok(tiles.includes(songCount.toLocaleString("en-US")), `catalogue size among ${tiles}`);
  await page.locator(".chart svg path.line").waitFor({ timeout: WAIT });
  assert.equal(await page.locator(".chart svg circle.dot").count(), models.body.versions.length, "one point per version");
  assert.equal(models.body.versions.length, 2);
  assert.equal(await page.locator(".chart svg circle.dot.champion").count(), 1);
  assert.match(await page.locator(".chart svg desc").textContent(), new RegExp(`v${models.body.champion}: [0-9.]+ \\(champion\\)`));
  assert.equal(await page.locator("table.versions tbody tr").count(), 2);
  await page.locator("table.cycles tbody tr").first().waitFor({ timeout: WAIT });
  assert.equal(await page.locator("table.cycles tbody tr").count(), pipeline.body.cycles.length);
  const newest = pipeline.body.cycles[0];
  const firstRow = page.locator("table.cycles tbody tr").first();
  assert.equal((await firstRow.locator(".status").innerText()).trim(), newest.status);
  assert.deepEqual(await texts(firstRow.locator("ul.steps li")), newest.steps.map((s) => `${s.status === "succeeded" ? "✓" : s.status === "failed" ? "✗" : s.status === "interrupted" ? "⏸" : "–"} ${s.step}`));
  assert.match(await firstRow.locator(".details").innerText(), new RegExp(`trained v${newest.trained.version} on ${songCount.toLocaleString("en-US")} songs, not promoted`));
  assert.match(await page.locator(".plan").innerText(), /does not run cycles itself/);
  await shoot(page, "model");

  begin("the server goes away, then comes back");
  // Chromium logs each request the route below refuses; those lines, and only those, are
  // expected here.
  expectedErrors = /^Failed to load resource: net::ERR_CONNECTION_REFUSED$/;
  expectedSeen = 0;
  await page.route(`${base}/**`, (route) => route.abort("connectionrefused"));
  await page.locator("nav a[data-nav=browse]").click();
  await page.locator("#banner", { hasText: "cannot be reached" }).waitFor({ timeout: WAIT });
  assert.equal(await page.locator("body").getAttribute("data-state"), "down");
  await page.unroute(`${base}/**`);
  await page.locator("#banner").waitFor({ state: "hidden", timeout: WAIT });
  await page.locator(".grid .card").first().waitFor({ timeout: WAIT });
  expectedErrors = null;
  assert.ok(expectedSeen > 0, "the refused requests were seen as such");
}

main().catch((error) => {
  console.error(`explorer: FAILED at step "${step}": ${error.stack || error}`);
  if (consoleErrors.length) console.error(`console errors so far:\n  ${consoleErrors.join("\n  ")}`);
  process.exit(1);
});
