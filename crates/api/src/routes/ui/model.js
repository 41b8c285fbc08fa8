// The model and the pipeline behind the recommendations: the champion (version, when it was
// trained, catalogue size, key metrics), a chart of the primary metric across registered
// versions (GET /models), and the last pipeline cycles (GET /pipeline). #/model

import { api, channel, Failure } from "./api.js";
import { ago, el, emptyState, errorState, loading, numbers, svg } from "./dom.js";

const PRIMARY = "heldout_hit_rate_at_10";
/** Metrics shown as tiles, in this order, when the model has them. */
const KEY_METRICS = [
  [PRIMARY, "Held-out hit rate @10", "share of hidden links found in the top 10 (higher is better)"],
  ["coverage_at_10", "Coverage @10", "share of the catalogue that appears in some top 10"],
  ["same_artist_share_at_10", "Same artist @10", "share of a top 10 by the query's own artist"],
  ["popularity_bias_at_10", "Popularity bias @10", "mean popularity percentile of recommendations (0.5 = none)"],
];
const CYCLES = 10;
const VERSIONS = 50;

function metricText(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "–";
  return Math.abs(value) >= 100 ? numbers.format(Math.round(value)) : value.toFixed(3);
}

function when(value) {
  if (!value) return "–";
  const relative = ago(value);
  const absolute = new Date(value);
  return Number.isNaN(absolute.getTime()) ? String(value) : `${relative} (${absolute.toLocaleString()})`;
}

/** The versions of GET /models, oldest first, whatever wrapper the server uses. */
export function versionsOf(body) {
  const list = Array.isArray(body) ? body : body.versions ?? body.models ?? [];
  const champion = Array.isArray(body) ? null : body.champion ?? body.champion_version ?? null;
  return list
    .filter((v) => v && Number.isFinite(Number(v.version)))
    .map((v) => ({
      version: Number(v.version),
      created: v.created_at ?? v.registered_at ?? null,
      metrics: v.metrics && typeof v.metrics === "object" ? v.metrics : {},
      champion: v.champion === true || v.is_champion === true || (champion !== null && Number(champion) === Number(v.version)),
    }))
    .sort((a, b) => a.version - b.version)
    .slice(-VERSIONS);
}

/** A line chart of `metric` over `versions` (inline SVG, no library). */
export function chart(versions, metric) {
  const points = versions.filter((v) => typeof v.metrics[metric] === "number");
  if (points.length === 0) return emptyState(`No version has ${metric} yet.`);
  const width = 640;
  const height = 220;
  const pad = { left: 52, right: 16, top: 16, bottom: 36 };
  const values = points.map((p) => p.metrics[metric]);
  let low = Math.min(...values);
  let high = Math.max(...values);
  if (high - low < 1e-9) {
    low -= 0.05;
    high += 0.05;
  }
  const margin = (high - low) * 0.15;
  low = Math.max(0, low - margin);
  high += margin;
  const x = (i) => pad.left + (points.length === 1 ? (width - pad.left - pad.right) / 2 : (i * (width - pad.left - pad.right)) / (points.length - 1));
  const y = (v) => pad.top + (1 - (v - low) / (high - low)) * (height - pad.top - pad.bottom);
  const titleId = "chart-title";
  const descId = "chart-desc";
  const description = points.map((p) => `v${p.version}: ${metricText(p.metrics[metric])}${p.champion ? " (champion)" : ""}`).join(", ");
  const grid = [0, 0.5, 1].map((t) => {
    const value = low + t * (high - low);
    return svg("g", { class: "tick" },
      svg("line", { x1: pad.left, x2: width - pad.right, y1: y(value), y2: y(value) }),
      svg("text", { x: pad.left - 8, y: y(value) + 4, "text-anchor": "end" }, metricText(value)));
  });
  const step = Math.ceil(points.length / 12);
  const labels = points.map((p, i) => (i % step === 0 || i === points.length - 1
    ? svg("text", { class: "xlabel", x: x(i), y: height - 12, "text-anchor": "middle" }, `v${p.version}`) : null));
  const path = points.map((p, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(p.metrics[metric]).toFixed(1)}`).join(" ");
  const dots = points.map((p, i) => svg("circle", { class: p.champion ? "dot champion" : "dot", cx: x(i), cy: y(p.metrics[metric]), r: p.champion ? 6 : 4 },
    svg("title", {}, `v${p.version}: ${metricText(p.metrics[metric])}${p.champion ? " (champion)" : ""}`)));
  return el("figure", { className: "chart" },
    svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": `${titleId} ${descId}` },
      svg("title", { id: titleId }, `${metric} by model version`),
      svg("desc", { id: descId }, description),
      ...grid, ...labels.filter(Boolean),
      svg("path", { class: "line", d: path }),
      ...dots),
    el("figcaption", {}, `${metric} by registered version; the larger dot is the champion.`));
}

function tile(label, value, hint) {
  return el("div", { className: "tile", title: hint || "" }, el("span", { className: "tile-label", textContent: label }), el("span", { className: "tile-value", textContent: value }));
}

/** The pipeline cycles of GET /pipeline, newest first, whatever wrapper the server uses. */
function cyclesOf(body) {
  const list = Array.isArray(body) ? body : body.cycles ?? body.runs ?? [];
  return list.filter((c) => c && typeof c === "object").slice(0, CYCLES);
}

const STEP_MARKS = { succeeded: "✓", skipped: "–", failed: "✗", interrupted: "⏸" };

/** What a cycle did, in words: its steps, the version it trained, why it was skipped or failed. */
function cycleSummary(cycle) {
  const parts = [];
  if (Array.isArray(cycle.steps) && cycle.steps.length) {
    parts.push(el("ul", { className: "steps", attrs: { "aria-label": "Steps" } }, ...cycle.steps.slice(0, 8).map((step) => {
      const status = String(step.status ?? "");
      const seconds = Number(step.seconds);
      const took = Number.isFinite(seconds) && seconds > 0 ? `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s` : "";
      return el("li", { className: `step ${status}`, title: [status, took, step.detail, step.error].filter(Boolean).join(" · ") },
        `${STEP_MARKS[status] || "·"} ${step.step ?? "step"}`);
    })));
  }
  const trained = cycle.trained;
  if (trained && typeof trained === "object" && trained.version !== undefined) {
    const songs = Number.isFinite(Number(trained.songs)) ? ` on ${numbers.format(Number(trained.songs))} songs` : "";
    parts.push(el("span", { textContent: `trained v${trained.version}${songs}, ${trained.promoted ? "promoted to champion" : "not promoted"}${trained.reason ? ` (${trained.reason})` : ""}` }));
  }
  const failed = Array.isArray(cycle.steps) ? cycle.steps.find((step) => step.error) : null;
  const notes = [cycle.note, failed ? `${failed.step}: ${failed.error}` : cycle.error].filter((text) => typeof text === "string" && text);
  for (const note of notes) parts.push(el("span", { className: "note", textContent: note }));
  if (parts.length === 0) {
    // An unknown shape: its plain fields.
    const skip = new Set(["started_at", "finished_at", "status", "steps", "trained", "runner", "id"]);
    const plain = Object.entries(cycle)
      .filter(([name, value]) => !skip.has(name) && value !== null && ["number", "string", "boolean"].includes(typeof value))
      .slice(0, 6)
      .map(([name, value]) => `${name.replaceAll("_", " ")}: ${value}`)
      .join(" · ");
    parts.push(plain || "–");
  }
  return parts;
}

/** When the next cycle runs, if this server runs them. */
function plan(body) {
  const next = body && body.next_run;
  if (!next) return el("p", { className: "muted small plan", textContent: "This server does not run cycles itself; it shows the ones recorded by songrec run or the Airflow DAGs." });
  const schedule = body.schedule ? ` (${body.schedule})` : "";
  return el("p", { className: "muted small plan", textContent: `Next cycle ${when(next)}${schedule}.` });
}

function cycleRow(cycle) {
  const started = cycle.started_at ?? null;
  const status = String(cycle.status ?? "–");
  const seconds = Number(cycle.seconds);
  return el("tr", {},
    el("td", {}, started ? when(started) : "–", Number.isFinite(seconds) ? el("div", { className: "muted small", textContent: `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s` }) : null),
    el("td", {}, el("span", { className: `status ${/fail|error/i.test(status) ? "bad" : /succe|ok|done/i.test(status) ? "good" : ""}`, textContent: status })),
    el("td", { className: "details" }, ...cycleSummary(cycle)));
}

export function mount(ctx) {
  const request = channel();
  const heading = el("h1", { tabIndex: -1, textContent: "Model and pipeline" });
  const champion = el("section", { className: "block", attrs: { "aria-labelledby": "champion-title" } }, el("h2", { id: "champion-title", textContent: "Champion" }), loading());
  const history = el("section", { className: "block", attrs: { "aria-labelledby": "history-title" } }, el("h2", { id: "history-title", textContent: "Versions" }), loading());
  const pipeline = el("section", { className: "block", attrs: { "aria-labelledby": "pipeline-title" } }, el("h2", { id: "pipeline-title", textContent: "Last pipeline cycles" }), loading());
  ctx.setTitle("Model");
  ctx.main.append(el("article", { className: "model-view" },
    el("header", { className: "page-head" }, el("p", { className: "eyebrow", textContent: "Behind the recommendations" }), heading),
    champion, history, pipeline));

  function part(section, ...children) {
    section.replaceChildren(section.querySelector("h2"), ...children);
  }

  async function load() {
    const ticket = request.start();
    const [model, models, cycles] = await Promise.allSettled([
      api("/model", { signal: ticket.signal }),
      api("/models", { signal: ticket.signal }),
      api(`/pipeline?limit=${CYCLES}`, { signal: ticket.signal }),
    ]);
    if (ticket.stale) return;
    if (model.status === "fulfilled") {
      const m = model.value;
      const metrics = m.metrics || {};
      const tiles = [
        tile("Version", m.version !== null && m.version !== undefined ? `v${m.version}` : "–"),
        tile("Trained", m.trained_at ? ago(m.trained_at) || "–" : "–", m.trained_at),
        tile("Songs", numbers.format(m.songs ?? 0)),
        ...KEY_METRICS.filter(([name]) => name in metrics).map(([name, label, hint]) => tile(label, metricText(metrics[name]), hint)),
      ];
      const others = Object.entries(metrics).filter(([name]) => !KEY_METRICS.some(([k]) => k === name));
      part(champion, el("div", { className: "tiles" }, ...tiles),
        el("p", { className: "muted small" }, `Trained ${when(m.trained_at)}; serving since ${when(m.loaded_at)}.`),
        others.length ? el("details", { className: "more-metrics" }, el("summary", { textContent: "All metrics" }),
          el("dl", { className: "facts" }, ...others.map(([n, v]) => el("div", {}, el("dt", { textContent: n }), el("dd", { textContent: metricText(v) }))))) : null);
    } else {
      part(champion, errorState(model.reason, "the model"));
      ctx.fail(model.reason);
    }
    if (models.status === "fulfilled") {
      const versions = versionsOf(models.value);
      const primary = (!Array.isArray(models.value) && models.value.primary_metric) || PRIMARY;
      part(history, versions.length ? chart(versions, primary) : emptyState("No version is registered yet."),
        versions.length ? versionTable(versions, primary) : null);
    } else if (models.reason.kind !== Failure.ABORTED) {
      part(history, errorState(models.reason, "the version history"));
    }
    if (cycles.status === "fulfilled") {
      const list = cyclesOf(cycles.value);
      part(pipeline, plan(cycles.value), list.length
        ? el("div", { className: "table-wrap", tabIndex: 0, attrs: { role: "region", "aria-label": "Pipeline cycles" } }, el("table", { className: "cycles" },
          el("thead", {}, el("tr", {}, el("th", { scope: "col", textContent: "Started" }), el("th", { scope: "col", textContent: "Status" }), el("th", { scope: "col", textContent: "What happened" }))),
          el("tbody", {}, ...list.map(cycleRow))))
        : emptyState("No pipeline cycle has run yet.", "songrec run (or the Airflow DAG) records one per fetch → train → promote cycle."));
    } else if (cycles.reason.kind !== Failure.ABORTED) {
      part(pipeline, errorState(cycles.reason, "pipeline history"));
    }
    ctx.done();
  }

  function versionTable(versions, primary) {
    return el("div", { className: "table-wrap", tabIndex: 0, attrs: { role: "region", "aria-label": "Model versions" } }, el("table", { className: "versions" },
      el("thead", {}, el("tr", {}, el("th", { scope: "col", textContent: "Version" }), el("th", { scope: "col", textContent: "Registered" }), el("th", { scope: "col", textContent: primary }))),
      el("tbody", {}, ...versions.slice().reverse().slice(0, 10).map((v) => el("tr", { className: v.champion ? "is-champion" : "" },
        el("td", {}, `v${v.version}`, v.champion ? el("span", { className: "pill", textContent: "champion" }) : null),
        el("td", { textContent: v.created ? when(v.created) : "–" }),
        el("td", { textContent: metricText(v.metrics[primary]) }))))));
  }

  load();
  return { unmount: () => request.cancel() };
}
