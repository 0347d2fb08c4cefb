// npgpt serve: the page. Plain JavaScript, no libraries, nothing fetched but this server's API.
// A reply streams as Server-Sent Events read from a fetch() body: start, token..., end.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { info: null, messages: [], replies: [], controller: null, selected: null, attention: null };

// ---------------------------------------------------------------- helpers
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function colour(p) { return `hsl(${Math.round(120 * p)}, 75%, 80%)`; }

function visible(text) { // a token's text with blanks made visible (for the tables)
  return text.replace(/ /g, "\u2423").replace(/\n/g, "\u23ce").replace(/\t/g, "\u21e5") || "\u2205";
}

function fmt(p) { return p >= 0.001 || p === 0 ? p.toFixed(3) : p.toExponential(1); }

function setStatus(text) { $("status").textContent = text || ""; }

function readNumber(id, { integer = false, optional = false } = {}) {
  const raw = $(id).value.trim();
  if (raw === "") {
    if (optional) return null;
    throw new Error(`${id.replace("_", " ")} is empty`);
  }
  const v = Number(raw);
  if (!Number.isFinite(v) || (integer && !Number.isInteger(v))) throw new Error(`${id.replace("_", " ")}: ${raw} is not a valid number`);
  return v;
}

function settings() {
  return {
    temperature: readNumber("temperature"),
    top_k: readNumber("top_k", { integer: true, optional: true }),
    top_p: readNumber("top_p", { optional: true }),
    max_tokens: readNumber("max_tokens", { integer: true }),
    seed: readNumber("seed", { integer: true, optional: true }),
  };
}

async function postJSON(path, body, signal) {
  const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), signal });
  if (!r.ok) {
    let message = `HTTP ${r.status}`;
    try { message = (await r.json()).error || message; } catch (e) { /* not JSON */ }
    throw new Error(message);
  }
  return r;
}

// ---------------------------------------------------------------- rendering
function specialChip(text) { return el("span", "special", text); }

function tokenSpan(reply, i) {
  const t = reply.tokens[i];
  const s = el("span", t.special ? "tok special" : "tok", t.text);
  s.style.background = colour(t.prob);
  s.title = `p = ${fmt(t.prob)} (drawn with); model p = ${fmt(t.p)}`;
  s.dataset.step = String(i);
  s.addEventListener("click", () => inspect(reply, i));
  return s;
}

function renderReply(reply) {
  reply.body.replaceChildren();
  if (state.info.mode === "chat") reply.body.append(specialChip("<|assistant|>"));
  else reply.body.append(el("span", "prompt", reply.request.prompt));
  reply.tokens.forEach((_, i) => reply.body.append(tokenSpan(reply, i)));
}

function addNote(text, before) {
  const note = el("div", "msg note", text);
  if (before) before.before(note);
  else $("log").append(note);
}

function addUser(text) {
  const m = el("div", "msg user");
  m.append(specialChip("<|user|>"), document.createTextNode(text), specialChip("<|end|>"));
  $("log").append(m);
  return m;
}

function scrollDown() { const log = $("log"); log.scrollTop = log.scrollHeight; }

// ---------------------------------------------------------------- generation
async function generate(reply) {
  const controller = new AbortController();
  state.controller = controller;
  busy(true);
  setStatus("");
  const body = { ...reply.request, ...settings(), prefix: reply.tokens.map((t) => t.id) };
  if (reply.reason) reply.reason.remove();
  try {
    const r = await postJSON("/api/generate", body, controller.signal);
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const line = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        if (line.startsWith("data: ")) onEvent(reply, JSON.parse(line.slice(6)));
      }
    }
  } catch (e) {
    if (e.name !== "AbortError") setStatus(e.message);
    else finish(reply, "stopped");
  } finally {
    if (state.controller === controller) state.controller = null;
    busy(false);
  }
}

function onEvent(reply, ev) {
  if (ev.type === "start") {
    reply.promptIds = ev.prompt.map((t) => t.id).slice(0, ev.prompt.length - reply.tokens.length);
    if (ev.dropped) addNote(`(dropped the oldest ${ev.dropped} turn(s) to fit the ${state.info.block_size}-token context)`, reply.el);
  } else if (ev.type === "token") {
    reply.tokens.push(ev);
    reply.body.append(tokenSpan(reply, reply.tokens.length - 1));
    scrollDown();
  } else if (ev.type === "end") {
    reply.text = ev.text;
    reply.el.dataset.end = ev.reason; // "end" (it ended its turn) or "length"
    finish(reply, ev.reason === "end" ? "" : "reply cut: it did not end its turn within the limit");
  }
}

function finish(reply, why) {
  reply.done = true;
  if (state.info.mode === "chat") {
    const text = reply.text !== undefined ? reply.text : reply.tokens.filter((t) => !t.special).map((t) => t.text).join("");
    state.messages = reply.request.messages.concat([{ role: "assistant", content: text }]);
  }
  if (why) {
    reply.reason = el("span", "reason", `(${why})`);
    reply.el.append(reply.reason);
  }
}

function busy(on) {
  $("send").disabled = on;
  $("stop").disabled = !on;
}

function newReply(request) {
  const m = el("div", state.info.mode === "chat" ? "msg assistant" : "msg completion");
  const body = el("span", "body");
  m.append(body);
  $("log").append(m);
  const reply = { el: m, body, request, tokens: [], promptIds: [], done: false, reason: null };
  state.replies.push(reply);
  renderReply(reply);
  return reply;
}

function send(ev) {
  ev.preventDefault();
  if (state.controller) return;
  const text = $("input").value;
  if (!text.trim()) return;
  try { settings(); } catch (e) { setStatus(e.message); return; }
  $("input").value = "";
  let request;
  if (state.info.mode === "chat") {
    addUser(text);
    request = { messages: state.messages.concat([{ role: "user", content: text }]) };
  } else {
    request = { prompt: text };
  }
  generate(newReply(request));
}

// continue a reply from step i with token t instead of the one drawn; later turns are dropped
function continueWith(reply, i, t) {
  if (state.controller) return;
  state.replies.splice(state.replies.indexOf(reply) + 1);
  while (reply.el.nextSibling) reply.el.nextSibling.remove();
  if (reply.reason) { reply.reason.remove(); reply.reason = null; }
  delete reply.el.dataset.end;
  reply.tokens = reply.tokens.slice(0, i).concat([{ ...t, step: i, prob: t.p, top: state.selected.top }]); // chosen by the learner: coloured by the model's p
  reply.done = false;
  renderReply(reply);
  generate(reply);
}

function reset() {
  if (state.controller) state.controller.abort();
  state.messages = [];
  state.replies = [];
  state.selected = null;
  $("log").replaceChildren();
  $("inspector").hidden = true;
  setStatus("");
}

// ---------------------------------------------------------------- inspection
async function inspect(reply, i) {
  const t = reply.tokens[i];
  document.querySelectorAll(".tok.selected").forEach((s) => s.classList.remove("selected"));
  const span = reply.body.querySelector(`.tok[data-step="${i}"]`);
  if (span) span.classList.add("selected");
  state.selected = { reply, i, top: t.top };
  $("inspector").hidden = false;
  $("inspect-title").textContent = `Step ${i + 1}: drew “${visible(t.text)}” with p = ${fmt(t.prob)} (model: ${fmt(t.p)})`;
  const rows = t.top.map((alt) => {
    const tr = el("tr", alt.id === t.id ? "drawn" : "");
    const bar = el("span", "bar");
    bar.style.width = `${Math.round(60 * alt.p)}px`;
    const pcell = el("td");
    pcell.append(bar, document.createTextNode(fmt(alt.p)));
    const b = el("button", "", "continue");
    b.type = "button";
    b.title = "continue the reply from this token";
    b.disabled = !reply.done && state.controller !== null;
    b.addEventListener("click", () => continueWith(reply, i, alt));
    const bcell = el("td");
    bcell.append(b);
    tr.append(el("td", "t", visible(alt.text)), pcell, el("td", "", fmt(alt.q)), bcell);
    return tr;
  });
  $("alternatives").tBodies[0].replaceChildren(...rows);
  $("attention-grid").replaceChildren(el("span", "hint", "computing…"));
  $("attention-context").replaceChildren();
  $("attention-label").textContent = "";
  try {
    const ids = reply.promptIds.concat(reply.tokens.slice(0, i).map((x) => x.id));
    const r = await postJSON("/api/inspect", { ids, ...settings() });
    if (state.selected && state.selected.reply === reply && state.selected.i === i) showAttention(await r.json());
  } catch (e) {
    $("attention-grid").replaceChildren(el("span", "hint", `attention unavailable: ${e.message}`));
  }
}

function showAttention(data) {
  state.attention = data;
  const grid = $("attention-grid");
  const L = data.attention.length, H = data.attention[0].length, T = data.context.length;
  grid.style.gridTemplateColumns = `auto repeat(${H}, 1fr)`;
  const cells = [el("span", "", "")];
  for (let h = 0; h < H; h++) cells.push(el("span", "", `head ${h}`));
  for (let l = 0; l < L; l++) {
    cells.push(el("span", "", `layer ${l}`));
    for (let h = 0; h < H; h++) {
      const c = el("canvas");
      c.width = T;
      c.height = 1;
      c.dataset.layer = String(l);
      c.dataset.head = String(h);
      c.title = `layer ${l}, head ${h}`;
      const ctx = c.getContext("2d");
      const w = data.attention[l][h];
      const max = Math.max(...w);
      for (let j = 0; j < T; j++) {
        ctx.fillStyle = `rgba(59, 91, 219, ${max > 0 ? w[j] / max : 0})`;
        ctx.fillRect(j, 0, 1, 1);
      }
      c.addEventListener("click", () => selectHead(l, h));
      cells.push(c);
    }
  }
  grid.replaceChildren(...cells);
  selectHead(L - 1, 0);
}

function selectHead(l, h) {
  const data = state.attention;
  document.querySelectorAll("#attention-grid canvas").forEach((c) =>
    c.classList.toggle("selected", c.dataset.layer === String(l) && c.dataset.head === String(h)));
  const w = data.attention[l][h];
  const max = Math.max(...w);
  const spans = data.context.map((t, j) => {
    const s = el("span", t.special ? "ctx special-ctx" : "ctx", t.text);
    s.style.background = `rgba(59, 91, 219, ${max > 0 ? (0.75 * w[j]) / max : 0})`;
    s.title = `weight ${fmt(w[j])}`;
    return s;
  });
  $("attention-context").replaceChildren(...spans);
  $("attention-label").textContent = `layer ${l}, head ${h}: darker = more weight (the strongest is ${fmt(max)})`;
}

// ---------------------------------------------------------------- start
async function start() {
  const r = await fetch("/api/info");
  state.info = await r.json();
  const i = state.info;
  $("model").textContent = `${i.name} · ${i.mode === "chat" ? "chat" : "completion (base model)"} · ${i.n_layer} layers × ${i.n_head} heads, ${i.block_size}-token context`;
  $("max_tokens").max = String(i.max_tokens);
  $("max_tokens").value = String(Math.min(200, i.max_tokens));
  $("top_k").max = String(i.vocab_size);
  if (i.mode !== "chat") {
    $("input").placeholder = "Type the start of a text; the model continues it (Enter sends)";
    $("send").textContent = "Continue";
  }
  $("composer").addEventListener("submit", send);
  $("input").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("composer").requestSubmit(); }
  });
  $("stop").addEventListener("click", () => state.controller && state.controller.abort());
  $("reset").addEventListener("click", reset);
  $("show-special").addEventListener("change", (e) => document.body.classList.toggle("show-special", e.target.checked));
  busy(false);
}

start().catch((e) => setStatus(`cannot reach the server: ${e.message}`));
