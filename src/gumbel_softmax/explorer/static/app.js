// The explorer page: controls, and charts of what the server's JSON API answers.
// Nothing random about the sampler is computed here: every sample comes from /api/sample
// (the gumbel_softmax library). The page only picks parameters and draws.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

const state = {
  logits: [0.5, 1.5, 0.2, -0.8, 1.0],
  tau: 1,
  noise: "gumbel",
  n: 10000,
  seed: null,       // kept while tau, logits or noise move; "Sample" asks for a fresh one
  info: null,
  request: 0,       // number of the latest request: older answers are ignored
  updates: 0,       // renders so far (tests wait on body[data-updates])
  densityKey: null,
  density: null,
};

// ---------- talking to the server ----------

function formatLogit(v) {
  return v === -Infinity ? "-inf" : String(Number(v.toFixed(4)));
}

function query(params) {
  return Object.entries(params).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&");
}

async function api(path, params) {
  const url = `${path}?${query(params)}`;
  const response = await fetch(url);
  const body = await response.json();
  if (!response.ok) {
    const error = new Error(`${body.parameter ? body.parameter + ": " : ""}${body.error}`);
    error.status = response.status;
    throw error;
  }
  return { url, body };
}

function showError(message) {
  const box = $("error");
  box.textContent = message ? `The server refused the request — ${message}` : "";
  box.hidden = !message;
}

async function refresh(freshSeed = false) {
  const number = ++state.request;
  document.body.dataset.busy = "1";
  const params = { logits: state.logits.map(formatLogit).join(","), tau: state.tau, n: state.n, noise: state.noise };
  if (!freshSeed && state.seed !== null) params.seed = state.seed;
  try {
    const { body } = await api("/api/sample", params);
    if (number !== state.request) return;
    state.seed = body.seed;
    showError("");
    // The link repeats this very draw: it carries the seed the server chose.
    const url = `/api/sample?${query({ ...params, seed: body.seed })}`;
    const link = $("api-url");
    link.href = url;
    link.textContent = decodeURIComponent(url);
    await renderDensity(body);
    if (number !== state.request) return;
    render(body);
  } catch (error) {
    if (number === state.request) showError(error.message);
  } finally {
    if (number === state.request) delete document.body.dataset.busy;
  }
}

let pending = null;
function refreshSoon() {
  clearTimeout(pending);
  document.body.dataset.busy = "1";
  pending = setTimeout(() => refresh(false), 60);
}

// ---------- charts ----------

function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

// The top of the y axis and the spacing of its grid lines, for data whose largest value is `value`.
const AXES = [[0.05, 0.01], [0.1, 0.02], [0.2, 0.05], [0.3, 0.05], [0.4, 0.1], [0.5, 0.1], [0.6, 0.1], [0.8, 0.2]];
function niceAxis(value) {
  for (const [top, step] of AXES) if (value <= top) return { yMax: top, step };
  return { yMax: 1, step: 0.25 };
}

// Grouped bars: one group per class, one bar per series. marks: class indices to flag with a triangle.
function drawBars(svg, series, { yMax, step, marks = [] }) {
  const width = svg.clientWidth || 640;
  const height = 260;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.replaceChildren();
  const k = series[0].values.length;
  const pad = { left: 44, right: 12, top: 14, bottom: 34 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const y = (v) => pad.top + plotH * (1 - v / yMax);
  const lines = Math.round(yMax / step);
  for (let i = 0; i <= lines; i++) {
    const v = step * i;
    el("line", { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v), class: "grid" }, svg);
    el("text", { x: pad.left - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" }, svg).textContent =
      Number(v.toFixed(3));
  }
  const group = plotW / k;
  const inner = Math.min(group * 0.8, 28 * series.length);
  const barW = inner / series.length;
  // Label every class while they fit (about 24 px each), else every 2nd, 4th, 5th, 8th or 10th.
  const labelEvery = [1, 2, 4, 5, 8, 10, 16].find((every) => (group * every) >= 24) || 16;
  for (let c = 0; c < k; c++) {
    const x0 = pad.left + group * c + (group - inner) / 2;
    series.forEach((s, j) => {
      const v = s.values[c];
      const rect = el("rect", {
        x: x0 + j * barW, y: y(Math.min(v, yMax)), width: Math.max(barW - 1, 1),
        height: Math.max(y(0) - y(Math.min(v, yMax)), 0), class: `bar ${s.cls}`,
        "data-series": s.name, "data-class": c, "data-value": v,
      }, svg);
      el("title", {}, rect).textContent = `class ${c}, ${s.label}: ${v.toPrecision(4)}`;
    });
    if (c % labelEvery === 0) {
      el("text", { x: pad.left + group * (c + 0.5), y: height - 14, class: "axis", "text-anchor": "middle" }, svg)
        .textContent = c;
    }
    if (marks.includes(c)) {
      el("text", { x: pad.left + group * (c + 0.5), y: height - 1, class: "mark", "text-anchor": "middle" }, svg)
        .textContent = "▲";
    }
  }
  el("line", { x1: pad.left, x2: width - pad.right, y1: y(0), y2: y(0), class: "baseline" }, svg);
}

function fixed(v, digits = 4) {
  return v.toFixed(digits);
}

function render(body) {
  const { probs, samples, summary, n } = body;
  const soft = samples.soft[0];
  const hard = samples.hard[0];
  drawBars($("chart-one"), [
    { name: "pi", label: "π", cls: "pi", values: probs },
    { name: "soft", label: "soft sample y", cls: "soft", values: soft },
  ], { ...niceAxis(1), marks: [hard] });
  $("hard-class").textContent = `class ${hard}`;

  drawDraws(samples.soft, samples.hard, n);

  $("many-title").textContent = `N = ${n.toLocaleString("en")} samples`;
  const top = Math.max(...probs, ...summary.frequencies, ...summary.mean_soft);
  drawBars($("chart-many"), [
    { name: "pi", label: "π", cls: "pi", values: probs },
    { name: "frequency", label: "argmax frequency", cls: "freq", values: summary.frequencies },
    { name: "mean", label: "mean soft sample", cls: "mean", values: summary.mean_soft },
  ], niceAxis(top * 1.08));

  const chi = summary.chi_square;
  const verdict = $("chi-square");
  const p = chi.p_value < 1e-12 ? "< 1e-12" : `= ${chi.p_value.toPrecision(3)}`;
  let text = `Pearson χ² of the argmax counts against π: ${chi.statistic.toFixed(2)} on ${chi.df} d.o.f., p ${p}`;
  if (chi.df === 0) text = "Only one unmasked class: every draw picks it.";
  else if (!chi.reliable) text += " (some expected counts are below 5: raise N for a trustworthy p-value)";
  else if (chi.p_value < 1e-6) text += " — the argmax frequencies are not π.";
  else text += " — consistent with π.";
  verdict.textContent = text;
  verdict.className = `verdict ${chi.reliable && chi.df > 0 && chi.p_value < 1e-6 ? "bad" : "good"}`;
  $("mean-max").textContent =
    `Average largest entry of a soft sample: ${fixed(summary.mean_max, 3)} (1 means one-hot; 1/K = ${fixed(1 / probs.length, 3)} means uniform).`;

  const rows = probs.map((pi, c) =>
    `<tr><td>${c}</td><td>${fixed(pi)}</td><td>${summary.counts[c].toLocaleString("en")}</td>` +
    `<td>${fixed(summary.frequencies[c])}</td><td>${fixed(summary.mean_soft[c])}</td></tr>`);
  $("counts").innerHTML = "<thead><tr><th>class</th><th>π</th><th>argmax count</th><th>frequency</th>" +
    `<th>mean y</th></tr></thead><tbody>${rows.join("")}</tbody>`;

  $("seed").textContent = body.seed;
  renderLogitRows(probs);
  if (body.k === 3 && state.density) drawDensity(state.density, samples.soft);
  state.updates += 1;
  document.body.dataset.updates = state.updates;
}

const DRAWS = 12;

// A grid of the first draws: a row per draw, a cell per class shaded by y_k, the argmax outlined.
// (Built with the DOM, not HTML text: the page's content policy forbids inline style attributes.)
function drawDraws(soft, hard, n) {
  const rows = soft.slice(0, DRAWS);
  const k = rows[0].length;
  $("draws-title").textContent = rows.length === 1 ? "The draw" : `The first ${rows.length} of ${n.toLocaleString("en")} draws`;
  const grid = $("draws");
  grid.style.gridTemplateColumns = `28px repeat(${k}, minmax(0, 1fr))`;
  const span = (cls, text) => {
    const node = document.createElement("span");
    node.className = cls;
    node.textContent = text;
    return node;
  };
  const cells = [span("head", "")];
  for (let c = 0; c < k; c++) cells.push(span("head", k > 16 && c % 4 ? "" : c));
  rows.forEach((row, r) => {
    cells.push(span("head", r + 1));
    row.forEach((v, c) => {
      const cell = span(`cell${v > 0.55 ? " dark" : ""}${hard[r] === c ? " chosen" : ""}`, k <= 10 ? v.toFixed(2) : "");
      cell.style.setProperty("--y", v);
      cell.title = `draw ${r + 1}, class ${c}: ${v.toPrecision(4)}`;
      cells.push(cell);
    });
  });
  grid.replaceChildren(...cells);
}

// ---------- the Concrete density (K = 3) ----------

const STOPS = [[13, 8, 135], [126, 3, 168], [204, 71, 120], [248, 149, 64], [240, 249, 33]];

function colour(t) {
  const x = Math.min(Math.max(t, 0), 1) * (STOPS.length - 1);
  const i = Math.min(Math.floor(x), STOPS.length - 2);
  const f = x - i;
  const c = STOPS[i].map((a, d) => Math.round(a + f * (STOPS[i + 1][d] - a)));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function densityAvailable(k) {
  return k === 3 && state.logits.every(Number.isFinite);
}

async function renderDensity(body) {
  const on = densityAvailable(body.k);
  $("panel-density").hidden = !on;
  if (!on) return;
  const key = `${body.logits.join(",")}|${body.tau}`;
  if (key === state.densityKey) return;
  const { body: density } = await api("/api/density", {
    logits: state.logits.map(formatLogit).join(","), tau: state.tau, resolution: 48,
  });
  state.density = density;
  state.densityKey = key;
}

function drawDensity(density, points) {
  const canvas = $("density");
  const ctx = canvas.getContext("2d");
  const w = canvas.width;
  const h = canvas.height;
  const corner = [[40, h - 36], [w - 40, h - 36], [w / 2, h - 36 - (w - 80) * Math.sqrt(3) / 2]];
  const at = (b) => [0, 1].map((d) => b[0] * corner[0][d] + b[1] * corner[1][d] + b[2] * corner[2][d]);
  const finite = density.log_density.filter((v) => v !== null).sort((a, b) => a - b);
  const high = finite[finite.length - 1];
  const low = Math.max(finite[Math.floor(finite.length * 0.02)], high - 30);
  ctx.clearRect(0, 0, w, h);
  density.triangles.forEach((tri, i) => {
    const v = density.log_density[i];
    ctx.fillStyle = colour(v === null ? 0 : (v - low) / (high - low || 1));
    ctx.strokeStyle = ctx.fillStyle;
    ctx.beginPath();
    tri.forEach((b, j) => { const [x, y] = at(b); j ? ctx.lineTo(x, y) : ctx.moveTo(x, y); });
    ctx.closePath();
    ctx.fill();
    ctx.stroke();
  });
  ctx.strokeStyle = "#334155";
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  corner.forEach(([x, y], j) => (j ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
  ctx.closePath();
  ctx.stroke();
  ctx.lineWidth = 1;
  for (const p of points) {
    const [x, y] = at(p);
    ctx.beginPath();
    ctx.arc(x, y, 2.6, 0, 2 * Math.PI);
    ctx.fillStyle = "rgba(255,255,255,0.85)";
    ctx.fill();
    ctx.strokeStyle = "#0f172a";
    ctx.stroke();
  }
  ctx.fillStyle = "#0f172a";
  ctx.font = "13px system-ui, sans-serif";
  ctx.textAlign = "center";
  ["class 0", "class 1", "class 2"].forEach((label, c) => {
    const [x, y] = corner[c];
    ctx.fillText(label, x, c === 2 ? y - 10 : y + 22);
  });
  const legend = $("legend").getContext("2d");
  for (let y = 0; y < 240; y++) {
    legend.fillStyle = colour(1 - y / 239);
    legend.fillRect(0, y, 16, 1);
  }
  $("legend-high").textContent = `${high.toFixed(1)}`;
  $("legend-low").textContent = `≤ ${low.toFixed(1)}`;
}

// ---------- controls ----------

function renderLogitRows(probs = null) {
  const box = $("logit-rows");
  if (box.children.length !== state.logits.length) {
    box.replaceChildren();
    state.logits.forEach((_, c) => {
      const row = document.createElement("div");
      row.className = "logit-row";
      row.innerHTML = `<input type="checkbox" checked title="unchecked: class masked (-inf)">` +
        `<span class="cls">${c}</span><input type="range" min="-6" max="6" step="0.1">` +
        `<span class="val"></span><span class="prob"></span>`;
      const [check, , slider] = row.children;
      check.addEventListener("change", () => {
        state.logits[c] = check.checked ? Number(slider.value) : -Infinity;
        syncControls();
        refreshSoon();
      });
      slider.addEventListener("input", () => {
        state.logits[c] = Number(slider.value);
        check.checked = true;
        syncControls();
        refreshSoon();
      });
      box.appendChild(row);
    });
  }
  state.logits.forEach((v, c) => {
    const [check, , slider, val, prob] = box.children[c].children;
    const masked = v === -Infinity;
    check.checked = !masked;
    if (!masked) slider.value = v;
    box.children[c].classList.toggle("masked", masked);
    val.textContent = masked ? "−∞" : v.toFixed(1);
    if (probs) prob.textContent = `π ${probs[c].toFixed(3)}`;
  });
}

function syncControls() {
  $("k").value = state.logits.length;
  $("logits-text").value = state.logits.map(formatLogit).join(", ");
  renderLogitRows();
}

function randomLogits(k) {
  // Standard normal logits (Box-Muller) scaled by 1.5: just a new distribution to look at.
  return Array.from({ length: k }, () => {
    const u = 1 - Math.random();
    const v = Math.random();
    return Number((1.5 * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)).toFixed(1));
  });
}

function setTau(log10) {
  state.tau = Number(Math.pow(10, log10).toPrecision(3));
  $("tau-value").textContent = state.tau;
}

function noiseNote() {
  $("noise-note").textContent = state.noise === "gumbel"
    ? "Gumbel(0, 1) noise: argmax(log π + g) is distributed exactly as π."
    : "Normal(0, π²/6) noise has the Gumbel's variance, yet its argmax frequencies drift away from π.";
}

function bind() {
  $("tau").addEventListener("input", (e) => { setTau(Number(e.target.value)); refreshSoon(); });
  $("sample").addEventListener("click", () => refresh(true));
  $("n").addEventListener("change", (e) => { state.n = Number(e.target.value); refresh(false); });
  document.querySelectorAll("input[name=noise]").forEach((radio) => radio.addEventListener("change", () => {
    state.noise = radio.value;
    noiseNote();
    refresh(false);
  }));
  $("k").addEventListener("change", (e) => {
    const k = Math.min(Math.max(Math.round(Number(e.target.value)) || 2, 2), 64);
    state.logits = Array.from({ length: k }, (_, c) => (c < state.logits.length ? state.logits[c] : 0));
    syncControls();
    refresh(false);
  });
  $("randomize").addEventListener("click", () => {
    state.logits = randomLogits(state.logits.length);
    syncControls();
    refresh(false);
  });
  $("uniform").addEventListener("click", () => {
    state.logits = state.logits.map(() => 0);
    syncControls();
    refresh(false);
  });
  $("logits-text").addEventListener("change", (e) => {
    const values = e.target.value.split(",").map((s) => s.trim()).filter((s) => s.length)
      .map((s) => (/^-inf(inity)?$/i.test(s) ? -Infinity : Number(s)));
    if (values.some(Number.isNaN)) return showError("logits: type numbers separated by commas, or -inf");
    state.logits = values;
    syncControls();
    refresh(false);
  });
  window.addEventListener("resize", refreshSoon);
}

async function start() {
  bind();
  setTau(Number($("tau").value));
  noiseNote();
  syncControls();
  try {
    state.info = (await api("/api/info", {})).body;
    $("version").textContent = `computed by gumbel_softmax ${state.info.version}`;
  } catch (error) {
    showError(error.message);
  }
  await refresh(true);
}

start();
