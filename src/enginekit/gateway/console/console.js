// The enginekit console: talks to the gateway's JSON endpoints with fetch. With
// ENGINE_API_TOKEN set, the token the user types is kept in sessionStorage and sent as a
// bearer header; it is never put in a cookie, so a cross-site request cannot carry it.

const TOKEN_KEY = "enginekit.token";
const ENGINES_POLL_MS = 3000;

const $ = (id) => document.getElementById(id);

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return node;
}

function bytes(n) {
  if (n === null || n === undefined) return "?";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function seconds(s) { return `${Number(s).toFixed(2)} s`; }

function notice(message, error = false) {
  const box = $("notice");
  box.textContent = message;
  box.classList.toggle("error", error);
  box.hidden = !message;
}

// -- talking to the gateway ----------------------------------------------------------------

class HttpError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

function detailOf(body, status) {
  const detail = body && (body.detail ?? body.error?.message);
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((d) => d.msg).join("; ");
  return `HTTP ${status}`;
}

let tokenPrompt = null;

function askToken(refused) {
  if (tokenPrompt) return tokenPrompt;
  const dialog = $("token-dialog");
  $("token-text").textContent = refused
    ? "That token was refused. Enter this gateway's ENGINE_API_TOKEN."
    : "This gateway needs its ENGINE_API_TOKEN. It is kept for this tab only (session storage), never in a cookie.";
  $("token-input").value = "";
  tokenPrompt = new Promise((resolve) => {
    const submit = (event) => {
      event.preventDefault();
      const token = $("token-input").value.trim();
      if (!token) return;
      sessionStorage.setItem(TOKEN_KEY, token);
      $("token-form").removeEventListener("submit", submit);
      dialog.close();
      tokenPrompt = null;
      $("forget-token").hidden = false;
      resolve();
    };
    $("token-form").addEventListener("submit", submit);
    dialog.addEventListener("cancel", (event) => event.preventDefault());
    dialog.showModal();
  });
  return tokenPrompt;
}

async function request(path, options = {}) {
  for (let attempt = 0; ; attempt += 1) {
    const headers = new Headers(options.headers || {});
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.set("Authorization", `Bearer ${token}`);
    const reply = await fetch(path, { ...options, headers });
    if (reply.status !== 401 || attempt > 3) return reply;
    await askToken(Boolean(token));
  }
}

async function failure(reply) {
  let body = null;
  try { body = await reply.json(); } catch { /* not JSON */ }
  return new HttpError(reply.status, detailOf(body, reply.status));
}

async function api(path, { method = "GET", json } = {}) {
  const options = { method };
  if (json !== undefined) {
    options.headers = { "Content-Type": "application/json" };
    options.body = JSON.stringify(json);
  }
  const reply = await request(path, options);
  if (!reply.ok) throw await failure(reply);
  return reply.json();
}

function enc(part) { return encodeURIComponent(part); }

// -- tabs ----------------------------------------------------------------------------------

const views = {};

function selectTab(tab, focus = false) {
  for (const other of document.querySelectorAll('[role="tab"]')) {
    const selected = other === tab;
    other.setAttribute("aria-selected", String(selected));
    other.tabIndex = selected ? 0 : -1;
    $(other.getAttribute("aria-controls")).hidden = !selected;
  }
  if (focus) tab.focus();
  const name = tab.id.replace("tab-", "");
  history.replaceState(null, "", `#${name}`);
  views[name]?.().catch(showError);
}

function setupTabs() {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  for (const tab of tabs) {
    tab.addEventListener("click", () => selectTab(tab));
    tab.addEventListener("keydown", (event) => {
      const index = tabs.indexOf(tab);
      const moves = { ArrowRight: 1, ArrowLeft: -1, Home: -index, End: tabs.length - 1 - index };
      if (!(event.key in moves)) return;
      event.preventDefault();
      selectTab(tabs[(index + moves[event.key] + tabs.length) % tabs.length], true);
    });
  }
  const wanted = tabs.find((t) => `#${t.id.replace("tab-", "")}` === location.hash);
  selectTab(wanted || tabs[0]);
}

function activeView() {
  return document.querySelector('[role="tab"][aria-selected="true"]').id.replace("tab-", "");
}

function showError(error) {
  notice(error.message || String(error), true);
}

// -- engines -------------------------------------------------------------------------------

let engines = [];
let logEngine = null;

async function loadEngines() {
  engines = (await api("/engines")).engines;
  return engines;
}

function engineAction(name, action, button) {
  return async () => {
    button.disabled = true;
    notice(`${action === "start" ? "Starting" : "Stopping"} ${name}…`);
    try {
      await api(`/engines/${enc(name)}/${action}`, { method: "POST", json: {} });
      notice(`${name} ${action === "start" ? "started" : "stopped"}.`);
    } catch (error) {
      showError(error);
    }
    await renderEngines();
  };
}

async function renderEngines() {
  await loadEngines();
  const body = $("engines-table").tBodies[0];
  body.replaceChildren(...engines.map((e) => {
    const start = h("button", { type: "button", "aria-label": `Start ${e.name}`, text: "Start" });
    const stop = h("button", { type: "button", class: "quiet", "aria-label": `Stop ${e.name}`, text: "Stop" });
    const log = h("button", { type: "button", class: "quiet", "aria-label": `Log of ${e.name}`, text: "Log" });
    start.disabled = e.state === "running" || e.state === "starting";
    stop.disabled = e.state === "stopped";
    start.addEventListener("click", engineAction(e.name, "start", start));
    stop.addEventListener("click", engineAction(e.name, "stop", stop));
    log.addEventListener("click", () => showLog(e.name).catch(showError));
    return h("tr", { "data-engine": e.name },
      h("td", { "data-label": "Engine" }, h("strong", { text: e.name })),
      h("td", { "data-label": "Type", text: e.type }),
      h("td", { "data-label": "Runner", text: e.runner }),
      h("td", { "data-label": "State" }, h("span", { class: `badge ${e.state}`, text: e.state })),
      h("td", { "data-label": "Port", text: e.port ?? "–" }),
      h("td", { "data-label": "Loaded model", text: e.model ?? "–" }),
      h("td", { "data-label": "Idle", text: e.state === "running" ? `${Math.round(e.idle_seconds)} s` : "–" }),
      h("td", { class: "actions", "data-label": "Actions" }, start, stop, log));
  }));
  if (logEngine) await refreshLog();
}

async function showLog(name) {
  logEngine = name;
  $("log-panel").hidden = false;
  $("log-title").textContent = `Log of ${name}`;
  await refreshLog();
  $("log-lines").focus();
}

async function refreshLog() {
  const lines = (await api(`/engines/${enc(logEngine)}/logs`)).lines;
  const pre = $("log-lines");
  pre.textContent = lines.slice(-200).join("\n") || "(no output yet)";
  pre.scrollTop = pre.scrollHeight;
}

views.engines = renderEngines;

// -- models --------------------------------------------------------------------------------

const following = new Set();

function kindBadge(kind) { return h("span", { class: `badge ${kind}`, text: kind }); }

function shaCell(model) {
  const parts = [];
  if (model.sha256) parts.push(h("span", { class: `badge ${model.sha256}`, text: model.sha256 }));
  else parts.push(h("span", { class: "muted", text: "none" }));
  if (model.verified) {
    const ok = model.verified.ok;
    parts.push(" ", h("span", { class: `badge ${ok ? "ok" : "bad"}`, title: `checked ${model.verified.checked_at}`, text: ok ? "verified" : "mismatch" }));
  }
  return parts;
}

function rateOf(rate) { return rate > 0 ? `${bytes(rate)}/s` : "measuring…"; }

function progressBlock(pull) {
  const bar = h("progress", { max: pull.total ?? "", value: pull.done, "aria-label": `Download of ${pull.model}` });
  if (!pull.total) bar.removeAttribute("value");
  const total = pull.total ? ` of ${bytes(pull.total)}` : "";
  const phase = pull.phase === "verifying" ? "verifying" : rateOf(pull.rate);
  const files = h("ul", { class: "files" }, pull.files.map((f) =>
    h("li", { text: `${f.path}: ${bytes(f.done)}${f.total ? ` of ${bytes(f.total)}` : ""} · ${rateOf(f.rate)}` })));
  return h("div", { class: "progress", "data-pull": pull.model },
    bar, h("div", { class: "pull-text", text: `${bytes(pull.done)}${total} · ${phase}` }), files);
}

function modelActions(engine, model) {
  const actions = [];
  const pulling = model.pull && model.pull.state === "running";
  if (model.kind === "downloadable" || pulling) {
    const pull = h("button", { type: "button", "aria-label": `Pull ${model.name}`, text: "Pull" });
    pull.disabled = pulling;
    pull.addEventListener("click", () => startPull(engine, model.name).catch(showError));
    actions.push(pull);
  }
  if (model.kind !== "downloadable") {
    const verify = h("button", { type: "button", class: "quiet", "aria-label": `Verify ${model.name}`, text: "Verify" });
    verify.addEventListener("click", () => verifyModel(engine, model.name, verify).catch(showError));
    actions.push(verify);
  }
  if (model.kind === "external" || model.kind === "downloaded") {
    const remove = h("button", { type: "button", class: "quiet", "aria-label": `Remove ${model.name}`, text: "Remove" });
    remove.addEventListener("click", () => removeModel(engine, model).catch(showError));
    actions.push(remove);
  }
  return actions;
}

function modelRow(engine, model) {
  const status = [];
  if (model.pull && model.pull.state === "running") status.push(progressBlock(model.pull));
  if (model.pull && model.pull.state === "failed") status.push(h("div", { class: "badge failed", text: `pull failed: ${model.pull.error}` }));
  return h("tr", { "data-model": model.name },
    h("td", { "data-label": "Model" }, h("strong", { text: model.name }),
      model.display_name !== model.name ? h("div", { class: "muted", text: model.display_name }) : null, status),
    h("td", { "data-label": "Kind" }, kindBadge(model.kind)),
    h("td", { "data-label": "Size", text: model.size_bytes === null ? "?" : bytes(model.size_bytes) }),
    h("td", { "data-label": "sha256" }, shaCell(model)),
    h("td", { "data-label": "Loaded", text: model.loaded ? "loaded" : "–" }),
    h("td", { class: "actions", "data-label": "Actions" }, modelActions(engine, model)));
}

async function renderModels() {
  await loadEngines();
  const listings = await Promise.all(engines.map((e) => api(`/store/${enc(e.name)}/models`)));
  $("models-list").replaceChildren(...listings.map((listing) => {
    const table = h("table", { class: "cards" },
      h("caption", { text: `${listing.engine} (${listing.type})` }),
      h("thead", {}, h("tr", {}, ["Model", "Kind", "Size", "sha256", "Loaded", "Actions"].map((c) => h("th", { scope: "col", text: c })))),
      h("tbody", {}, listing.models.map((m) => modelRow(listing.engine, m))));
    return h("section", { class: "engine-models table-wrap", "data-engine": listing.engine, "aria-label": `Models of ${listing.engine}` }, table);
  }));
  for (const listing of listings) {
    for (const m of listing.models) {
      if (m.pull && m.pull.state === "running") followPull(listing.engine, m.name);
    }
  }
  return listings;
}

async function startPull(engine, name) {
  await api(`/store/${enc(engine)}/models/${enc(name)}/pull`, { method: "POST", json: {} });
  notice(`Pulling ${name} into ${engine}…`);
  await renderModels();
  followPull(engine, name);
}

// Server-sent events read through fetch, so the bearer header goes with them.
async function followPull(engine, name) {
  const key = `${engine}/${name}`;
  if (following.has(key)) return;
  following.add(key);
  let last = null;
  try {
    const reply = await request(`/store/${enc(engine)}/models/${enc(name)}/pull/events`);
    if (!reply.ok) throw await failure(reply);
    const reader = reply.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
        if (data) { last = JSON.parse(data); updatePull(engine, last); }
      }
    }
  } finally {
    following.delete(key);
  }
  if (last && last.state === "ready") notice(`${name} is ready on ${engine}${last.downloaded ? " (downloaded and verified)" : " (already present)"}.`);
  if (last && last.state === "failed") notice(`Pull of ${name} failed: ${last.error}`, true);
  if (activeView() === "models") await renderModels();
}

function updatePull(engine, pull) {
  const row = document.querySelector(`[data-engine="${CSS.escape(engine)}"] tr[data-model="${CSS.escape(pull.model)}"]`);
  if (!row || pull.state !== "running") return;
  const old = row.querySelector(".progress");
  const block = progressBlock(pull);
  if (old) old.replaceWith(block); else row.cells[0].append(block);
}

async function verifyModel(engine, name, button) {
  button.disabled = true;
  try {
    const report = await api(`/store/${enc(engine)}/models/${enc(name)}/verify`, { method: "POST", json: {} });
    if (!report.recorded) notice(`${name}: no sha256 recorded to check against (baked-in or your own files).`);
    else if (report.ok) notice(`${name}: every file matches its recorded sha256 (${report.files.length} file${report.files.length === 1 ? "" : "s"}).`);
    else notice(`${name}: ${report.files.filter((f) => f.status !== "ok").map((f) => `${f.path} ${f.status}`).join(", ")}`, true);
  } finally {
    button.disabled = false;
  }
  await renderModels();
}

function confirmDialog(text) {
  const dialog = $("confirm-dialog");
  $("confirm-text").textContent = text;
  return new Promise((resolve) => {
    const choose = (value) => (event) => { event.preventDefault(); dialog.close(value); };
    const ok = choose("ok");
    const cancel = choose("cancel");
    $("confirm-ok").addEventListener("click", ok);
    $("confirm-cancel").addEventListener("click", cancel);
    dialog.addEventListener("close", () => {
      $("confirm-ok").removeEventListener("click", ok);
      $("confirm-cancel").removeEventListener("click", cancel);
      resolve(dialog.returnValue === "ok");
    }, { once: true });
    dialog.returnValue = "cancel";
    dialog.showModal();
    $("confirm-cancel").focus();
  });
}

async function removeModel(engine, model) {
  const what = model.kind === "downloaded"
    ? `The downloaded files of ${model.name} are deleted from ${engine}'s model directory.`
    : `${model.name} is taken out of models/; your own files in external_models/ are kept.`;
  if (!(await confirmDialog(`Remove ${model.name} from ${engine}? ${what}`))) {
    notice(`Kept ${model.name}.`);
    return;
  }
  const result = await api(`/store/${enc(engine)}/models/${enc(model.name)}`, { method: "DELETE" });
  notice(result.kept ? `Unlinked ${model.name}; your files in ${result.kept} were kept.` : `Removed ${model.name}.`);
  await renderModels();
}

views.models = async () => { await renderModels(); };

// -- speak ---------------------------------------------------------------------------------

let speakUrl = null;

function localModels(listing) {
  return listing.models.filter((m) => m.kind !== "downloadable");
}

async function listingsOf(type) {
  await loadEngines();
  const chosen = engines.filter((e) => e.type === type);
  return Promise.all(chosen.map((e) => api(`/store/${enc(e.name)}/models`)));
}

function fillSelect(select, options, keep = true) {
  const previous = select.value;
  select.replaceChildren(...options.map(([value, label]) => h("option", { value, text: label })));
  if (keep && options.some(([value]) => value === previous)) select.value = previous;
}

async function renderSpeak() {
  const listings = await listingsOf("tts");
  const options = listings.flatMap((l) => localModels(l).map((m) => [`${l.engine}/${m.name}`, `${l.engine} · ${m.name}`]));
  fillSelect($("speak-model"), options);
  fillSelect($("sample-engine"), listings.map((l) => [l.engine, l.engine]));
  const cloning = listings.filter((l) => l.speaker_cloning).map((l) => l.engine);
  $("samples-hint").textContent = cloning.length
    ? `Samples are the voices of cloning engines (${cloning.join(", ")}): upload a clean WAV of the speaker.`
    : "None of these engines clones voices; samples are kept in the engine's samples/ for engines that do.";
  await loadVoices();
}

async function loadVoices() {
  const model = $("speak-model").value;
  if (!model) { fillSelect($("speak-voice"), []); return; }
  const voices = (await api(`/v1/audio/voices?model=${enc(model)}`)).voices;
  fillSelect($("speak-voice"), voices.map((v) => [v.id, v.name]));
}

function wavOf(pcm, rate) {
  const header = new DataView(new ArrayBuffer(44));
  const text = (offset, s) => [...s].forEach((c, i) => header.setUint8(offset + i, c.charCodeAt(0)));
  text(0, "RIFF"); header.setUint32(4, 36 + pcm.size, true); text(8, "WAVE"); text(12, "fmt ");
  header.setUint32(16, 16, true); header.setUint16(20, 1, true); header.setUint16(22, 1, true);
  header.setUint32(24, rate, true); header.setUint32(28, rate * 2, true); header.setUint16(32, 2, true);
  header.setUint16(34, 16, true); text(36, "data"); header.setUint32(40, pcm.size, true);
  return new Blob([header, pcm], { type: "audio/wav" });
}

const MEDIA = { mp3: "audio/mpeg", wav: "audio/wav", opus: "audio/ogg", flac: "audio/flac", aac: "audio/aac", pcm: "audio/pcm" };

// mp3 plays while it streams (Media Source Extensions); other formats play once complete.
async function playStreaming(reply, audio, parts) {
  const source = new MediaSource();
  audio.src = URL.createObjectURL(source);
  await new Promise((resolve) => source.addEventListener("sourceopen", resolve, { once: true }));
  const buffer = source.addSourceBuffer("audio/mpeg");
  const reader = reply.body.getReader();
  let started = false;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    parts.push(value);
    buffer.appendBuffer(value);
    await new Promise((resolve) => buffer.addEventListener("updateend", resolve, { once: true }));
    if (!started) { started = true; audio.play().catch(() => {}); }
  }
  source.endOfStream();
}

async function speak(event) {
  event.preventDefault();
  const format = $("speak-format").value;
  const payload = {
    model: $("speak-model").value, voice: $("speak-voice").value, input: $("speak-text").value,
    response_format: format, speed: Number($("speak-speed").value),
  };
  const audio = $("speak-audio");
  const status = $("speak-status");
  $("speak-go").disabled = true;
  $("speak-download").hidden = true;
  status.textContent = "Speaking…";
  const begun = performance.now();
  try {
    const reply = await request("/v1/audio/speech", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload),
    });
    if (!reply.ok) throw await failure(reply);
    const parts = [];
    if (format === "mp3" && window.MediaSource && MediaSource.isTypeSupported("audio/mpeg")) {
      await playStreaming(reply, audio, parts);
    } else {
      parts.push(new Uint8Array(await reply.arrayBuffer()));
      const blob = new Blob(parts, { type: MEDIA[format] });
      const playable = format === "pcm" ? wavOf(blob, Number(reply.headers.get("X-Sample-Rate"))) : blob;
      audio.src = URL.createObjectURL(playable);
      audio.play().catch(() => {});
    }
    const file = new Blob(parts, { type: MEDIA[format] });
    if (speakUrl) URL.revokeObjectURL(speakUrl);
    speakUrl = URL.createObjectURL(file);
    const link = $("speak-download");
    link.href = speakUrl;
    link.download = `speech.${format}`;
    link.hidden = false;
    await durationOf(audio);
    const took = ((performance.now() - begun) / 1000).toFixed(1);
    status.textContent = `${bytes(file.size)} of ${format}, ${seconds(audio.duration)} long (took ${took} s).`;
  } catch (error) {
    status.textContent = "";
    showError(error);
  } finally {
    $("speak-go").disabled = false;
  }
}

function durationOf(audio) {
  if (Number.isFinite(audio.duration) && audio.duration > 0) return Promise.resolve(audio.duration);
  return new Promise((resolve) => {
    const check = () => {
      if (Number.isFinite(audio.duration) && audio.duration > 0) {
        audio.removeEventListener("durationchange", check);
        audio.removeEventListener("loadedmetadata", check);
        resolve(audio.duration);
      }
    };
    audio.addEventListener("durationchange", check);
    audio.addEventListener("loadedmetadata", check);
  });
}

async function uploadSample(event) {
  event.preventDefault();
  const engine = $("sample-engine").value;
  const id = $("sample-id").value.trim();
  const file = $("sample-file").files[0];
  if (!file) { showError(new Error("Choose a WAV file to upload.")); return; }
  $("sample-go").disabled = true;
  try {
    const reply = await request(`/engines/${enc(engine)}/samples/upload/${enc(id)}`, {
      method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: file,
    });
    if (!reply.ok) throw await failure(reply);
    $("sample-status").textContent = `Uploaded ${id} (${bytes(file.size)}) to ${engine}.`;
    await loadVoices();
  } catch (error) {
    showError(error);
  } finally {
    $("sample-go").disabled = false;
  }
}

views.speak = renderSpeak;

// -- transcribe ----------------------------------------------------------------------------

let sttAudio = null; // the last file or recording, for the SRT/VTT downloads
let recorder = null;

async function renderTranscribe() {
  const listings = await listingsOf("stt");
  fillSelect($("stt-model"), listings.flatMap((l) => localModels(l).map((m) => [`${l.engine}/${m.name}`, `${l.engine} · ${m.name}`])));
}

function transcriptionForm(format) {
  const form = new FormData();
  form.append("file", sttAudio.blob, sttAudio.name);
  form.append("model", $("stt-model").value);
  form.append("response_format", format);
  const language = $("stt-language").value.trim();
  if (language) form.append("language", language);
  if (format === "verbose_json") {
    form.append("timestamp_granularities[]", "word");
    form.append("timestamp_granularities[]", "segment");
  }
  return form;
}

async function transcribe(format) {
  const reply = await request("/v1/audio/transcriptions", { method: "POST", body: transcriptionForm(format) });
  if (!reply.ok) throw await failure(reply);
  return format === "verbose_json" ? reply.json() : reply.text();
}

function showTranscript(result) {
  const quote = $("stt-text");
  quote.textContent = result.text || "(nothing heard)";
  quote.hidden = false;
  const words = result.words || [];
  const rows = words.length ? words.map((w) => [w.start, w.end, w.word]) : (result.segments || []).map((s) => [s.start, s.end, s.text]);
  $("stt-caption").textContent = words.length ? "Word timings" : "Segment timings (this model gives no word timings)";
  const table = $("stt-timings");
  table.tBodies[0].replaceChildren(...rows.map(([start, end, text]) => h("tr", {},
    h("td", { text: seconds(start) }), h("td", { text: seconds(end) }), h("td", { text }))));
  table.hidden = rows.length === 0;
  $("stt-status").textContent = `${seconds(result.duration)} of audio, language ${result.language}.`;
}

async function runTranscription(event) {
  event?.preventDefault();
  const file = $("stt-file").files[0];
  if (file) sttAudio = { blob: file, name: file.name };
  if (!sttAudio) { showError(new Error("Choose an audio file, or record one.")); return; }
  $("stt-go").disabled = true;
  $("stt-status").textContent = "Transcribing…";
  try {
    showTranscript(await transcribe("verbose_json"));
    $("stt-srt").disabled = false;
    $("stt-vtt").disabled = false;
  } catch (error) {
    $("stt-status").textContent = "";
    showError(error);
  } finally {
    $("stt-go").disabled = false;
  }
}

function download(text, name, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = h("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function subtitles(format) {
  return async () => {
    try {
      const base = sttAudio.name.replace(/\.[^.]*$/, "") || "transcript";
      download(await transcribe(format), `${base}.${format}`, format === "vtt" ? "text/vtt" : "application/x-subrip");
    } catch (error) {
      showError(error);
    }
  };
}

async function toggleRecording() {
  const button = $("stt-record");
  if (recorder) { recorder.stop(); return; }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const chunks = [];
    recorder = new MediaRecorder(stream);
    recorder.addEventListener("dataavailable", (e) => chunks.push(e.data));
    recorder.addEventListener("stop", () => {
      stream.getTracks().forEach((t) => t.stop());
      recorder = null;
      button.textContent = "Record";
      button.setAttribute("aria-pressed", "false");
      $("stt-file").value = "";
      sttAudio = { blob: new Blob(chunks, { type: chunks[0]?.type || "audio/webm" }), name: "recording.webm" };
      runTranscription();
    });
    recorder.start();
    button.textContent = "Stop recording";
    button.setAttribute("aria-pressed", "true");
    $("stt-status").textContent = "Recording… press Stop recording to transcribe.";
  } catch (error) {
    showError(new Error(`The microphone is not available: ${error.message}`));
  }
}

views.transcribe = renderTranscribe;

// -- start ---------------------------------------------------------------------------------

function setup() {
  $("forget-token").hidden = !sessionStorage.getItem(TOKEN_KEY);
  $("forget-token").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    $("forget-token").hidden = true;
    notice("Token forgotten for this tab.");
  });
  $("log-close").addEventListener("click", () => { logEngine = null; $("log-panel").hidden = true; });
  $("log-refresh").addEventListener("click", () => refreshLog().catch(showError));
  $("speak-form").addEventListener("submit", speak);
  $("speak-model").addEventListener("change", () => loadVoices().catch(showError));
  $("samples-form").addEventListener("submit", uploadSample);
  $("transcribe-form").addEventListener("submit", runTranscription);
  $("stt-srt").addEventListener("click", subtitles("srt"));
  $("stt-vtt").addEventListener("click", subtitles("vtt"));
  if (navigator.mediaDevices?.getUserMedia && window.MediaRecorder) {
    $("stt-record").hidden = false;
    $("stt-record").addEventListener("click", toggleRecording);
  }
  setupTabs();
  setInterval(() => {
    if (activeView() === "engines" && !document.hidden) renderEngines().catch(showError);
  }, ENGINES_POLL_MS);
}

setup();
