// The operator's console: hash-routed pages that use only the JSON API (docs/api.md).
"use strict";

const TZ = "Asia/Ho_Chi_Minh";
let lang = localStorage.getItem("loa.lang") === "en" ? "en" : "vi";
const t = (k) => LOA_I18N[lang][k] || k;
const $ = (s, r = document) => r.querySelector(s);
const $$ = (s, r = document) => [...r.querySelectorAll(s)];

// An element: h("button", {onclick: f, id: "x"}, "text", child, ...).
function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  let value;
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "value") value = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of kids.flat()) {
    if (c != null && c !== false) e.append(c instanceof Node ? c : String(c));
  }
  if (value !== undefined) e.value = value;
  return e;
}

function say(text, error) {
  const m = $("#msg");
  m.textContent = text || "";
  m.className = error ? "err" : "";
}

// A call of the API. JSON bodies by default; a Blob is sent as is. 401: back to the login.
async function api(method, path, body, blob) {
  const headers = {};
  const opt = { method, headers, credentials: "same-origin" };
  if (method !== "GET") headers["X-CSRF-Token"] = sessionStorage.getItem("loa.csrf") || "";
  if (body instanceof Blob) {
    opt.body = body;
    headers["Content-Type"] = body.type && body.type !== "application/json" ? body.type : "application/octet-stream";
  } else if (body !== undefined) {
    opt.body = JSON.stringify(body);
    headers["Content-Type"] = "application/json";
  }
  const res = await fetch(path, opt);
  if (res.status === 401 && path !== "/api/v1/session") {
    sessionStorage.clear();
    location.hash = "#/login";
  }
  if (!res.ok) {
    let m = "HTTP " + res.status;
    try {
      const j = await res.json();
      m = j.error.code + ": " + j.error.message;
    } catch (e) { /* not JSON */ }
    throw new Error(m);
  }
  return blob ? res.blob() : res.json();
}

const qs = (o) => Object.entries(o).filter(([, v]) => v !== "" && v != null)
  .map(([k, v]) => encodeURIComponent(k) + "=" + encodeURIComponent(v)).join("&");
const today = () => new Intl.DateTimeFormat("en-CA", { timeZone: TZ }).format(new Date());
function when(utc) {
  if (!utc) return "—";
  return new Date(utc).toLocaleString(lang === "vi" ? "vi-VN" : "en-GB", { timeZone: TZ });
}
// An instant's date and time in the deployment's zone.
function local(utc) {
  const d = new Date(utc);
  return { date: new Intl.DateTimeFormat("en-CA", { timeZone: TZ }).format(d),
    time: d.toLocaleTimeString("en-GB", { timeZone: TZ, hour12: false }) };
}
const pct = (x) => (100 * x).toFixed(1) + " %";
const titles = (list) => Object.fromEntries(list.map((b) => [b.id, b.title]));

function table(cols, rows, cells) {
  return h("table", {}, h("thead", {}, h("tr", {}, cols.map((c) => h("th", {}, t(c))))),
    h("tbody", {}, rows.map((r) => h("tr", {}, cells(r).map((c) => h("td", {}, c))))));
}

function csvDownload(name, cols, rows) {
  const q = (v) => {
    const s = v == null ? "" : String(v);
    return /[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  };
  const text = "\ufeff" + [cols, ...rows].map((r) => r.map(q).join(",")).join("\r\n") + "\r\n";
  const a = h("a", { href: URL.createObjectURL(new Blob([text], { type: "text/csv" })), download: name });
  document.body.append(a);
  a.click();
  a.remove();
}

// Horizontal bars: rows of {label, value in 0..1, text}.
function barChart(rows) {
  const NS = "http://www.w3.org/2000/svg";
  const W = 640, H = 22, L = 220, S = W - L - 90;
  const svg = document.createElementNS(NS, "svg");
  const add = (tag, a, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(a)) e.setAttribute(k, v);
    if (text != null) e.textContent = text;
    svg.append(e);
  };
  svg.setAttribute("class", "bars");
  svg.setAttribute("width", W);
  svg.setAttribute("height", rows.length * H + 4);
  rows.forEach((r, i) => {
    const y = i * H + 2, w = Math.max(0, Math.min(1, r.value || 0)) * S;
    add("text", { x: 0, y: y + 14 }, r.label.length > 32 ? r.label.slice(0, 31) + "…" : r.label);
    add("rect", { x: L, y, width: S, height: H - 6, fill: "#e4e7eb" });
    add("rect", { x: L, y, width: w, height: H - 6, fill: "#0b7fab" });
    add("text", { x: L + S + 6, y: y + 14 }, r.text);
  });
  return svg;
}

// The area tree of a node list: {path, children: {seg: tree}, nodes: [node]}.
function areaTree(nodes) {
  const root = { path: "", children: {}, nodes: [] };
  for (const n of nodes) {
    let at = root;
    for (const seg of n.area.split("/")) {
      const path = at.path ? at.path + "/" + seg : seg;
      at = at.children[seg] = at.children[seg] || { path, children: {}, nodes: [] };
    }
    at.nodes.push(n);
  }
  return root;
}

function renderTree(tree, area, node) {
  const ul = h("ul");
  for (const c of Object.values(tree.children)) {
    ul.append(h("li", {}, area(c), renderTree(c, area, node)));
  }
  for (const n of tree.nodes) ul.append(h("li", {}, node(n)));
  return ul;
}

// Checkboxes of targets: the area tree with its nodes, and the groups; checked() lists them.
function targetPicker(nodes, groups) {
  const target = (value, label) => h("label", {}, h("input", { type: "checkbox", "data-target": value }), label);
  return h("fieldset", {}, h("legend", {}, t("targets")), h("b", {}, t("areas")),
    h("div", { class: "tree" }, renderTree(areaTree(nodes), (a) => target("area:" + a.path, a.path),
      (n) => target("node:" + n.id, n.id + " (" + n.name + ")"))),
    h("b", {}, t("groups")), h("div", {}, Object.keys(groups).map((g) => target("group:" + g, g))));
}
const checkedTargets = (root) => $$("[data-target]", root).filter((c) => c.checked).map((c) => c.dataset.target);

// ---- pages ----

async function login(v) {
  const name = h("input", { id: "login-name", autocomplete: "username", required: true });
  const pass = h("input", { id: "login-password", type: "password", autocomplete: "current-password", required: true });
  const form = h("form", { class: "login", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const r = await api("POST", "/api/v1/session", { name: name.value, password: pass.value });
      sessionStorage.setItem("loa.csrf", r.csrf_token);
      sessionStorage.setItem("loa.user", JSON.stringify(r.user));
      location.hash = "#/overview";
    } catch (e) {
      say(e.message, true);
    }
  } }, h("h2", {}, t("login")), h("label", {}, t("name"), name), h("label", {}, t("password"), pass),
  h("p", {}, h("button", { id: "login-submit" }, t("login"))));
  v.append(h("section", {}, form));
}

async function overview(v) {
  const [occ, health, bl] = await Promise.all([
    api("GET", "/api/v1/occurrences?" + qs({ since: today() })),
    api("GET", "/api/v1/health/nodes"),
    api("GET", "/api/v1/bulletins"),
  ]);
  const names = titles(bl.bulletins);
  const dur = Object.fromEntries(bl.bulletins.map((b) => [b.id, b.duration_s]));
  const now = Date.now();
  const todays = occ.occurrences.filter((o) => local(o.start).date === today());
  const playing = occ.occurrences.filter((o) => o.status !== "cancelled" &&
    Date.parse(o.start) <= now && now < Date.parse(o.start) + 1000 * (dur[o.bulletin] || 0));
  const up = health.nodes.filter((n) => n.online);
  const down = health.nodes.filter((n) => !n.online);
  const occRow = (o) => [local(o.start).time, names[o.bulletin] || "#" + o.bulletin,
    o.targets.join(", "), t(o.priority === "priority" ? "priority_p" : o.priority), t(o.status)];
  v.append(
    h("div", { class: "cards" },
      h("div", { class: "card" }, h("b", { class: "ok", id: "nodes-online" }, up.length), t("online")),
      h("div", { class: "card" }, h("b", { class: "bad", id: "nodes-offline" }, down.length), t("offline")),
      h("div", { class: "card" }, h("b", {}, todays.length), t("today"))),
    h("section", {}, h("h2", {}, t("now_playing")), playing.length
      ? table(["time", "bulletin", "targets", "priority", "status"], playing, occRow) : t("nothing")),
    h("section", {}, h("h2", {}, t("today")), todays.length
      ? table(["time", "bulletin", "targets", "priority", "status"], todays, occRow) : t("nothing")),
    h("section", {}, h("h2", {}, t("offline")), down.length
      ? table(["node", "area", "last_seen"], down, (n) => [n.id, n.area, when(n.last_seen)]) : t("nothing")));
  const recent = bl.bulletins.slice().sort((a, b) => b.id - a.id).slice(0, 6);
  const rows = [];
  for (const b of recent) {
    try {
      const c = await api("GET", "/api/v1/coverage?" + qs({ bulletin: b.id }));
      if (c.targeted) rows.push({ label: b.title, value: c.completed / c.targeted, text: c.completed + "/" + c.targeted });
    } catch (e) { /* a bulletin never scheduled */ }
  }
  v.append(h("section", {}, h("h2", {}, t("recent_coverage")), rows.length ? barChart(rows) : t("nothing")));
}

async function bulletins(v) {
  const bl = (await api("GET", "/api/v1/bulletins")).bulletins.sort((a, b) => b.id - a.id);
  const player = h("audio", { controls: true, id: "player" });
  const search = h("input", { type: "search", placeholder: t("search") });
  const list = h("div");
  const show = () => {
    const q = search.value.toLowerCase();
    list.replaceChildren(table(["title", "source", "duration", "created", "listen"],
      bl.filter((b) => b.title.toLowerCase().includes(q)),
      (b) => ["#" + b.id + " " + b.title, b.source, b.duration_s.toFixed(1), when(b.created),
        h("button", { type: "button", onclick: () => { player.src = b.audio_url; player.play(); } }, "▶ " + t("listen"))]));
  };
  search.addEventListener("input", show);
  show();

  const upTitle = h("input", { id: "up-title", required: true, maxlength: 200 });
  const upFile = h("input", { id: "up-file", type: "file", accept: "audio/*", required: true });
  const upload = h("form", { onsubmit: async (ev) => {
    ev.preventDefault();
    say(t("working"));
    const b = await api("POST", "/api/v1/bulletins?" + qs({ title: upTitle.value }), upFile.files[0]).catch((e) => say(e.message, true));
    if (b) saved(b);
  } }, h("label", {}, t("title"), upTitle), h("label", {}, t("file"), upFile), h("button", { id: "up-save" }, t("upload")));

  const ttsTitle = h("input", { id: "tts-title", required: true, maxlength: 200 });
  const ttsText = h("textarea", { id: "tts-text", required: true, lang: "vi" });
  const voice = h("input", { id: "tts-voice", value: "vi", size: 6 });
  const preview = h("audio", { controls: true, id: "tts-audio" });
  const tts = h("form", { onsubmit: async (ev) => {
    ev.preventDefault();
    say(t("working"));
    const b = await api("POST", "/api/v1/bulletins", { title: ttsTitle.value, text: ttsText.value, voice: voice.value })
      .catch((e) => say(e.message, true));
    if (b) saved(b);
  } }, h("div", {}, h("label", {}, t("title"), ttsTitle), h("label", {}, t("voice"), voice)),
  h("label", { class: "block" }, t("text"), ttsText),
  h("button", { type: "button", id: "tts-preview", onclick: async () => {
    say(t("working"));
    try {
      const audio = await api("POST", "/api/v1/tts/preview", { text: ttsText.value, voice: voice.value }, true);
      preview.src = URL.createObjectURL(audio);
      preview.dataset.bytes = audio.size;
      say("");
      preview.play().catch(() => {});
    } catch (e) {
      say(e.message, true);
    }
  } }, "▶ " + t("preview")), " ", h("button", { id: "tts-save" }, t("save")), " ", preview);

  function saved(b) {
    say(t("saved") + ": #" + b.id + " " + b.title);
    v.dataset.created = b.id;
    bl.unshift(b);
    show();
  }
  v.append(h("section", {}, h("h2", {}, t("from_text")), tts), h("section", {}, h("h2", {}, t("upload")), upload),
    h("section", {}, h("h2", {}, t("bulletins")), search, " ", player, list));
}

async function schedule(v) {
  const [bl, nodes, groups, occ, appr] = await Promise.all([
    api("GET", "/api/v1/bulletins"), api("GET", "/api/v1/nodes"), api("GET", "/api/v1/groups"),
    api("GET", "/api/v1/occurrences?" + qs({ since: today() })), api("GET", "/api/v1/approvals")]);
  const names = titles(bl.bulletins);
  const bulletin = h("select", { id: "sch-bulletin" },
    bl.bulletins.slice().sort((a, b) => b.id - a.id).map((b) => h("option", { value: b.id }, "#" + b.id + " " + b.title)));
  const at = h("input", { id: "sch-at", type: "datetime-local", step: 1, required: true });
  const tz = h("input", { id: "sch-tz", value: TZ });
  const freq = h("select", { id: "sch-freq" }, ["", "DAILY", "WEEKLY", "MONTHLY"].map((f) =>
    h("option", { value: f }, t(f ? f.toLowerCase() : "once"))));
  const interval = h("input", { id: "sch-interval", type: "number", min: 1, max: 1000, value: 1, style: "width:4em" });
  const days = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"].map((d) => h("input", { type: "checkbox", value: d }));
  const byhour = h("input", { id: "sch-byhour", size: 8 });
  const byminute = h("input", { id: "sch-byminute", size: 8 });
  const count = h("input", { id: "sch-count", type: "number", min: 1, style: "width:5em" });
  const until = h("input", { id: "sch-until", type: "date" });
  const rule = h("code", { id: "sch-rule" });
  const rrule = () => {
    if (!freq.value) return "";
    const p = ["FREQ=" + freq.value];
    if (+interval.value > 1) p.push("INTERVAL=" + interval.value);
    const d = days.filter((c) => c.checked).map((c) => c.value);
    if (d.length) p.push("BYDAY=" + d.join(","));
    if (byhour.value) p.push("BYHOUR=" + byhour.value.replace(/\s/g, ""));
    if (byminute.value) p.push("BYMINUTE=" + byminute.value.replace(/\s/g, ""));
    if (count.value) p.push("COUNT=" + count.value);
    if (until.value) p.push("UNTIL=" + until.value);
    return p.join(";");
  };
  const priority = h("select", { id: "sch-priority" }, ["normal", "priority", "emergency"].map((p) =>
    h("option", { value: p }, t(p === "priority" ? "priority_p" : p))));
  const volume = h("input", { id: "sch-volume", type: "number", min: 0, max: 100, value: 100, style: "width:4em" });
  const result = h("div", { id: "sch-result" });
  const body = () => {
    const b = { bulletin: +bulletin.value, at: at.value, tz: tz.value, priority: priority.value, volume: +volume.value,
      targets: checkedTargets(v) };
    if (rrule()) b.rrule = rrule();
    if (!b.targets.length) throw new Error(t("none_selected"));
    return b;
  };
  const showConflicts = (r) => {
    const lines = (r.warnings || []).concat(...(r.timelines || []).map((tl) => tl.conflicts || []));
    result.replaceChildren(h("p", { class: lines.length ? "bad" : "ok" }, lines.length ? t("conflicts") + ":" : t("no_conflicts")),
      h("ul", {}, [...new Set(lines)].map((l) => h("li", {}, l))));
  };
  const form = h("form", { onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const r = await api("POST", "/api/v1/occurrences", body());
      const id = r.id || (r.series && r.series.id);
      say(t("saved") + ": " + (r.series ? "series #" : "#") + id);
      v.dataset.created = id;
      showConflicts(r);
      drawOccurrences(await api("GET", "/api/v1/occurrences?" + qs({ since: today() })));
    } catch (e) {
      say(e.message, true);
    }
  } },
  h("label", {}, t("bulletin"), bulletin), h("label", {}, t("at"), at), h("label", {}, t("tz"), tz),
  h("fieldset", {}, h("legend", {}, t("recurrence")), h("label", {}, freq), h("label", {}, t("interval"), interval),
    h("span", {}, t("weekdays") + ": ", days.map((c) => h("label", {}, c, t(c.value.toLowerCase())))),
    h("label", {}, t("hours"), byhour), h("label", {}, t("minutes"), byminute),
    h("label", {}, t("count"), count), h("label", {}, t("until"), until), h("div", {}, t("rule") + ": ", rule)),
  targetPicker(nodes.nodes, groups.groups),
  h("label", {}, t("priority"), priority), h("label", {}, t("volume"), volume),
  h("p", {}, h("button", { type: "button", id: "sch-check", onclick: async () => {
    try {
      showConflicts(await api("POST", "/api/v1/occurrences", { ...body(), dry_run: true, days: 7 }));
    } catch (e) {
      say(e.message, true);
    }
  } }, t("check")), " ", h("button", { id: "sch-save" }, t("save"))), result);
  form.addEventListener("input", () => { rule.textContent = rrule() || t("once"); });
  rule.textContent = t("once");

  const cal = h("div");
  const list = h("div", { id: "sch-list" });
  function drawOccurrences(o) {
    const byDay = {};
    for (const x of o.occurrences) (byDay[local(x.start).date] = byDay[local(x.start).date] || []).push(x);
    const grid = h("div", { class: "cal" });
    const d0 = new Date(today() + "T00:00:00Z");
    for (let i = 0; i < 14; ++i) {
      const d = new Date(d0.getTime() + i * 86400000).toISOString().slice(0, 10);
      grid.append(h("div", {}, h("b", {}, d.slice(5)), (byDay[d] || []).map((x) =>
        h("span", { class: "chip " + x.status, title: x.targets.join(", ") }, local(x.start).time.slice(0, 5) + " " + (names[x.bulletin] || "")))));
    }
    cal.replaceChildren(grid);
    list.replaceChildren(table(["start", "bulletin", "targets", "priority", "status", ""], o.occurrences, (x) =>
      ["#" + x.id + " " + local(x.start).date + " " + local(x.start).time, names[x.bulletin] || x.bulletin, x.targets.join(", "),
        t(x.priority === "priority" ? "priority_p" : x.priority), t(x.status),
        x.status === "cancelled" ? "" : h("button", { type: "button", onclick: async () => {
          try {
            await api("POST", "/api/v1/occurrences/" + x.id + "/cancel", {});
            drawOccurrences(await api("GET", "/api/v1/occurrences?" + qs({ since: today() })));
          } catch (e) {
            say(e.message, true);
          }
        } }, t("cancel"))]));
  }
  drawOccurrences(occ);
  const decide = (verb, a) => async () => {
    try {
      await api("POST", "/api/v1/approvals/" + verb, { occurrence: a.occurrence, area: a.area });
      route();
    } catch (e) {
      say(e.message, true);
    }
  };
  v.append(h("section", {}, h("h2", {}, t("schedule")), form),
    h("section", {}, h("h2", {}, t("approvals")), appr.approvals.length
      ? table(["start", "bulletin", "area", "nodes", ""], appr.approvals, (a) => [local(a.start).date + " " + local(a.start).time, names[a.bulletin] || a.bulletin,
        a.area, a.nodes.join(", "), h("span", {}, h("button", { type: "button", onclick: decide("approve", a) }, t("approve")), " ",
          h("button", { type: "button", onclick: decide("reject", a) }, t("reject")))]) : t("nothing")),
    h("section", {}, h("h2", {}, t("calendar") + " (" + TZ + ")"), cal), h("section", {}, h("h2", {}, t("occurrences")), list));
}

async function nodes(v) {
  const [list, health] = await Promise.all([api("GET", "/api/v1/nodes"), api("GET", "/api/v1/health/nodes")]);
  const hp = Object.fromEntries(health.nodes.map((n) => [n.id, n]));
  const history = h("section", { id: "node-history", hidden: true });
  const node = (n) => {
    const st = (hp[n.id] && hp[n.id].status) || {};
    const vol = h("input", { type: "range", min: 0, max: 100, value: st.volume ?? 100, id: "vol-" + n.id });
    const out = h("output", {}, vol.value);
    vol.addEventListener("input", () => { out.textContent = vol.value; });
    return h("span", {}, h("b", {}, n.id), " " + n.name + " — ",
      h("span", { class: n.online ? "ok" : "bad" }, t(n.online ? "online" : "offline")),
      " · " + t("last_seen") + " " + when(n.last_seen),
      st.output_ok === false ? h("span", { class: "bad" }, " · " + t("output") + ": " + st.output_error) : "",
      st.muted ? " · " + t("muted") : "",
      " · " + t("volume") + " ", vol, out, " ",
      h("button", { type: "button", id: "set-" + n.id, onclick: async () => {
        try {
          await api("POST", "/api/v1/control", { command: "volume", value: +vol.value, nodes: [n.id] });
          say(t("saved") + ": " + n.id + " " + t("volume") + " " + vol.value);
        } catch (e) {
          say(e.message, true);
        }
      } }, t("set")), " ",
      h("button", { type: "button", id: "hist-" + n.id, onclick: async () => {
        const r = await api("GET", "/api/v1/nodes/" + encodeURIComponent(n.id) + "/history?limit=50");
        history.hidden = false;
        history.replaceChildren(h("h2", {}, t("history") + ": " + n.id), table(["time", "status", "volume", "output", "last_seen"],
          r.statuses, (s) => [when(s.received), t(s.online ? "online" : "offline"), s.volume,
            s.output_ok ? "ok" : s.output_error, s.last_playback ? "#" + s.last_playback.occurrence + " " + s.last_playback.outcome : ""]));
      } }, t("history")));
  };
  v.append(h("section", { class: "tree" }, h("h2", {}, t("nodes")), renderTree(areaTree(list.nodes), (a) => h("b", {}, a.path), node)), history);
}

async function logPage(v) {
  const [nl, bl] = await Promise.all([api("GET", "/api/v1/nodes"), api("GET", "/api/v1/bulletins")]);
  const opt = (value, label) => h("option", { value }, label);
  const node = h("select", {}, opt("", t("all")), nl.nodes.map((n) => opt(n.id, n.id)));
  const area = h("input", { size: 14 });
  const bulletin = h("select", {}, opt("", t("all")), bl.bulletins.map((b) => opt(b.id, "#" + b.id + " " + b.title)));
  const outcome = h("select", {}, opt("", t("all")), ["completed", "partial", "failed", "preempted", "expired", "rejected"].map((o) => opt(o, o)));
  const since = h("input", { type: "date" });
  const limit = h("input", { type: "number", value: 500, min: 1, style: "width:6em" });
  const out = h("div");
  const cols = ["node", "area", "bulletin", "title", "outcome", "start", "end", "frames_played", "frames_concealed", "frames_dropped", "detail"];
  let rows = [];
  const load = async (ev) => {
    if (ev) ev.preventDefault();
    try {
      const r = await api("GET", "/api/v1/log?" + qs({ node: node.value, area: area.value, bulletin: bulletin.value, since: since.value, limit: limit.value }));
      rows = r.events.filter((e) => !outcome.value || e.outcome === outcome.value);
      out.replaceChildren(table(["node", "area", "bulletin", "outcome", "start", "end"], rows, (e) =>
        [e.node, e.area, "#" + e.bulletin + " " + e.title, h("span", { class: e.outcome === "completed" ? "ok" : "bad" }, e.outcome), when(e.start), when(e.end)]));
    } catch (e) {
      say(e.message, true);
    }
  };
  v.append(h("section", {}, h("h2", {}, t("log")), h("form", { onsubmit: load },
    h("label", {}, t("node"), node), h("label", {}, t("area"), area), h("label", {}, t("bulletin"), bulletin),
    h("label", {}, t("outcome"), outcome), h("label", {}, t("since"), since), h("label", {}, t("limit"), limit),
    h("button", {}, t("filter")), " ",
    h("button", { type: "button", onclick: () => csvDownload("playback-log.csv", cols, rows.map((e) => cols.map((c) => e[c]))) }, t("export_csv"))), out));
  await load();
}

const FIGURES = ["targeted", "completed", "partial", "failed", "missed", "pending", "expired"];

async function coverage(v) {
  const bl = await api("GET", "/api/v1/bulletins");
  const bulletin = h("select", { id: "cov-bulletin" }, bl.bulletins.slice().sort((a, b) => b.id - a.id).map((b) => h("option", { value: b.id }, "#" + b.id + " " + b.title)));
  const one = h("div", { id: "cov-result" });
  const showBulletin = async () => {
    try {
      const c = await api("GET", "/api/v1/coverage?" + qs({ bulletin: bulletin.value, by: "area" }));
      one.dataset.targeted = c.targeted;
      one.dataset.completed = c.completed;
      one.replaceChildren(h("div", { class: "cards" }, FIGURES.map((f) => h("div", { class: "card" }, h("b", { id: "cov-" + f }, c[f]), t(f))),
        h("div", { class: "card" }, h("b", {}, c.residents_reached + "/" + c.residents_targeted), t("residents_reached"))),
      barChart(c.rows.map((r) => ({ label: r.area, value: r.targeted ? r.completed / r.targeted : 0, text: r.completed + "/" + r.targeted }))),
      table(["area", ...FIGURES], c.rows, (r) => [r.area, ...FIGURES.map((f) => r[f])]));
    } catch (e) {
      say(e.message, true);
    }
  };
  const kind = h("select", { id: "per-kind" }, ["month", "quarter", "year", "range"].map((k) => h("option", { value: k }, t(k))));
  const now = today();
  const val = h("input", { id: "per-value", value: now.slice(0, 7), size: 10 });
  const to = h("input", { type: "date", hidden: true });
  kind.addEventListener("change", () => {
    val.value = { month: now.slice(0, 7), quarter: now.slice(0, 4) + "-Q" + Math.ceil(+now.slice(5, 7) / 3), year: now.slice(0, 4), range: now.slice(0, 8) + "01" }[kind.value];
    to.hidden = kind.value !== "range";
    to.value = now;
  });
  const area = h("input", { size: 14 });
  const by = h("select", {}, ["area", "day", "bulletin"].map((b) => h("option", { value: b }, t(b))));
  const rep = h("div", { id: "per-result" });
  const cols = ["key", "label", "occurrences", "targeted", "completed", "partial", "failed", "preempted", "expired", "missed", "pending", "completion_rate", "residents_targeted", "residents_reached", "hours_aired"];
  let last;
  const showPeriod = async (ev) => {
    if (ev) ev.preventDefault();
    const q = kind.value === "range" ? { from: val.value, to: to.value } : { [kind.value]: val.value };
    try {
      last = await api("GET", "/api/v1/reports/period?" + qs({ ...q, area: area.value, by: by.value }));
      const r = last;
      rep.replaceChildren(h("h2", {}, t("period") + " " + r.period.label + (r.area ? " · " + r.area : "")),
        h("p", {}, t("rate") + ": " + pct(r.total.completion_rate) + " · " + t("occurrences") + ": " + r.total.occurrences +
          " · " + t("residents_reached") + ": " + r.total.residents_reached + "/" + r.total.residents_targeted +
          " · " + t("hours_aired") + ": " + r.total.hours_aired.toFixed(2)),
        barChart(r.rows.map((x) => ({ label: x.label, value: x.completion_rate, text: pct(x.completion_rate) }))),
        table(["period", "occurrences", ...FIGURES, "rate", "residents_reached"], [...r.rows, { label: "Σ", ...r.total }],
          (x) => [x.label, x.occurrences, ...FIGURES.map((f) => x[f]), pct(x.completion_rate), x.residents_reached]));
    } catch (e) {
      say(e.message, true);
    }
  };
  v.append(h("section", {}, h("h2", {}, t("per_bulletin")), h("form", { onsubmit: (ev) => { ev.preventDefault(); showBulletin(); } },
    h("label", {}, t("bulletin"), bulletin), h("button", { id: "cov-show" }, t("show"))), one),
  h("section", {}, h("h2", {}, t("per_period")), h("form", { onsubmit: showPeriod },
    h("label", {}, t("period"), kind, val, to), h("label", {}, t("area"), area), h("label", {}, t("by"), by),
    h("button", { id: "per-show" }, t("show")), " ",
    h("button", { type: "button", onclick: () => last && csvDownload("report-" + last.period.label + ".csv", cols,
      [...last.rows, { key: "total", label: "total", ...last.total }].map((x) => cols.map((c) => x[c]))) }, t("export_csv")), " ",
    h("button", { type: "button", onclick: () => window.print() }, t("print"))), rep));
  if (bl.bulletins.length) await showBulletin();
  await showPeriod();
}

// Live from the microphone: PCM captured in the browser, sent in segments of about 250 ms.
async function live(v) {
  const [nodes, groups] = await Promise.all([api("GET", "/api/v1/nodes"), api("GET", "/api/v1/groups")]);
  const priority = h("select", { id: "live-priority" }, ["priority", "emergency"].map((p) =>
    h("option", { value: p }, t(p === "priority" ? "priority_p" : p))));
  const chime = h("input", { type: "checkbox", id: "live-chime" });
  const state = h("p", { id: "live-state" });
  let stop = null;
  const start = async () => {
    const targets = checkedTargets(v);
    if (!targets.length) return say(t("none_selected"), true);
    const media = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: false } });
    const ctx = new AudioContext({ sampleRate: 48000 });
    const source = ctx.createMediaStreamSource(media);
    const proc = ctx.createScriptProcessor(4096, 1, 1);
    let parts = [], queued = 0, sent = 0, id = null, failed = null, chain = Promise.resolve();
    const flush = () => {
      if (!id || !queued) return;
      const pcm = new Int16Array(queued);
      let at = 0;
      for (const p of parts) { pcm.set(p, at); at += p.length; }
      parts = [];
      queued = 0;
      chain = chain.then(() => api("POST", "/api/v1/live/sessions/" + id + "/pcm",
        new Blob([pcm.buffer], { type: "application/octet-stream" }))).then(() => {
        sent += pcm.length;
        state.textContent = "● " + t("live") + " " + (sent / ctx.sampleRate).toFixed(1) + " s";
      }).catch((e) => { failed = e; });
    };
    proc.onaudioprocess = (e) => {
      const f = e.inputBuffer.getChannelData(0);
      const p = new Int16Array(f.length);
      for (let i = 0; i < f.length; ++i) p[i] = Math.max(-1, Math.min(1, f[i])) * 32767;
      parts.push(p);
      queued += p.length;
      if (queued >= ctx.sampleRate / 4) flush();
      if (failed && stop) { say(failed.message, true); stop(); }
    };
    source.connect(proc);
    proc.connect(ctx.destination);
    try {
      id = (await api("POST", "/api/v1/live/sessions", { targets, priority: priority.value, chime: chime.checked, rate: ctx.sampleRate })).id;
    } catch (e) {
      media.getTracks().forEach((tr) => tr.stop());
      ctx.close();
      return say(e.message, true);
    }
    stop = async () => {
      stop = null;
      proc.disconnect();
      media.getTracks().forEach((tr) => tr.stop());
      flush();
      await chain;
      ctx.close();
      try {
        const r = await api("POST", "/api/v1/live/sessions/" + id + "/end", {});
        state.textContent = t("ended") + ": " + r.duration_s.toFixed(1) + " s · #" + r.occurrence_id;
        v.dataset.created = r.occurrence_id;
      } catch (e) {
        say(e.message, true);
      }
    };
  };
  v.append(h("section", {}, h("h2", {}, t("live")), targetPicker(nodes.nodes, groups.groups),
    h("label", {}, t("priority"), priority), h("label", {}, chime, t("chime")),
    h("p", {}, h("button", { type: "button", id: "live-start", onclick: () => { if (!stop) start().catch((e) => say(e.message, true)); } }, "● " + t("start_live")), " ",
      h("button", { type: "button", id: "live-stop", onclick: () => { if (stop) stop(); } }, "■ " + t("stop_live"))),
    state, h("p", {}, t("live_note"))));
}

async function audit(v) {
  const since = h("input", { type: "date" });
  const actor = h("input", { size: 12 });
  const limit = h("input", { type: "number", value: 200, min: 1, style: "width:6em" });
  const out = h("div");
  const load = async (ev) => {
    if (ev) ev.preventDefault();
    try {
      const r = await api("GET", "/api/v1/audit?" + qs({ since: since.value, actor: actor.value, limit: limit.value }));
      out.replaceChildren(table(["time", "actor", "role", "remote", "action", "target", "outcome"], r.entries, (e) =>
        [when(e.at), e.actor, e.role + (e.area ? " " + e.area : ""), e.remote, e.action, e.target, e.outcome]));
    } catch (e) {
      say(e.message, true);
    }
  };
  v.append(h("section", {}, h("h2", {}, t("audit")), h("form", { onsubmit: load }, h("label", {}, t("since"), since),
    h("label", {}, t("actor"), actor), h("label", {}, t("limit"), limit), h("button", {}, t("filter"))), out));
  await load();
}

// ---- frame ----

const PAGES = { login, overview, bulletins, schedule, live, nodes, log: logPage, coverage, audit };

function frame(page) {
  document.documentElement.lang = lang;
  document.title = "loa — " + t(page);
  $("#app-title").textContent = t("app");
  $("#lang").textContent = t("lang");
  const signedIn = !!sessionStorage.getItem("loa.csrf");
  $("#nav").replaceChildren(...(signedIn ? Object.keys(PAGES).filter((p) => p !== "login").map((p) =>
    h("a", { href: "#/" + p, class: p === page ? "on" : null, id: "nav-" + p }, t(p))) : []));
  const user = JSON.parse(sessionStorage.getItem("loa.user") || "null");
  $("#who").textContent = user ? user.name + " (" + user.role + (user.area ? " " + user.area : "") + ")" : "";
  $("#logout").hidden = !signedIn;
  $("#logout").textContent = t("logout");
}

async function route() {
  let page = location.hash.replace(/^#\/?/, "") || "overview";
  if (!PAGES[page]) page = "overview";
  if (page !== "login" && !sessionStorage.getItem("loa.csrf")) {
    location.hash = "#/login";
    return;
  }
  const v = $("#view");
  delete v.dataset.ready;
  delete v.dataset.created;
  v.replaceChildren();
  say("");
  frame(page);
  try {
    await PAGES[page](v);
  } catch (e) {
    say(e.message, true);
  }
  v.dataset.ready = page;
}

$("#lang").addEventListener("click", () => {
  lang = lang === "vi" ? "en" : "vi";
  localStorage.setItem("loa.lang", lang);
  route();
});
$("#logout").addEventListener("click", async () => {
  await api("DELETE", "/api/v1/session").catch(() => {});
  sessionStorage.clear();
  location.hash = "#/login";
});
window.addEventListener("hashchange", route);
route();
