'use strict';
// The fluxj page: a form over the native jobs API, live progress from the job's event stream, a gallery of
// finished jobs. Plain browser JavaScript, no build step. Every call carries the API key when one is set.

const $ = (id) => document.getElementById(id);
let apiKey = localStorage.getItem('fluxj.apiKey') || '';
let currentJob = null;
let limits = { max_side: 2048, max_steps: 100, max_images: 8 };

function authHeaders(extra) {
  const h = Object.assign({}, extra || {});
  if (apiKey) h.Authorization = 'Bearer ' + apiKey;
  return h;
}

async function api(path, options) {
  const opts = Object.assign({}, options || {});
  opts.headers = authHeaders(opts.headers);
  const r = await fetch(path, opts);
  if (r.status === 401) {
    $('key-box').open = true;
    throw new Error('this server needs its API key (open "API key" above)');
  }
  const type = r.headers.get('Content-Type') || '';
  const body = type.includes('json') ? await r.json() : null;
  if (!r.ok) throw new Error((body && body.error && body.error.message) || (r.status + ' ' + r.statusText));
  return body;
}

/** An image the server holds, as an object URL (img src cannot carry the API key). */
async function imageUrl(path) {
  const r = await fetch(path, { headers: authHeaders() });
  if (!r.ok) throw new Error('cannot load ' + path + ': ' + r.status);
  return URL.createObjectURL(await r.blob());
}

function setStatus(text, isError) {
  const s = $('status');
  s.textContent = text;
  s.classList.toggle('error', !!isError);
}

function formatSeconds(s) {
  if (s == null || !isFinite(s)) return '';
  s = Math.round(s);
  return Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0');
}

async function loadModels() {
  const info = await api('/fluxj/v1/models');
  limits = info.limits;
  const select = $('model');
  select.replaceChildren();
  for (const m of info.models) {
    const o = document.createElement('option');
    o.value = m.name;
    o.textContent = m.name;
    o.selected = m.current;
    select.append(o);
  }
  for (const id of ['width', 'height']) $(id).max = limits.max_side;
  $('steps').max = limits.max_steps;
  $('count').max = limits.max_images;
  const h = await api('/health');
  $('server-status').textContent = 'model ' + h.model + (h.running ? ', busy' : ', idle') + (h.queued ? ', ' + h.queued + ' queued' : '');
}

function numberOrNull(id) {
  const v = $(id).value.trim();
  return v === '' ? null : Number(v);
}

function request() {
  const r = {
    prompt: $('prompt').value,
    negative_prompt: $('negative').value,
    width: numberOrNull('width'),
    height: numberOrNull('height'),
    n: numberOrNull('count') || 1,
    model: $('model').value || null,
  };
  for (const [field, id] of [['steps', 'steps'], ['seed', 'seed'], ['guidance', 'guidance'], ['cfg_scale', 'cfg']]) {
    const v = numberOrNull(id);
    if (v != null) r[field] = v;
  }
  if (image.loaded) {
    r.init_image = $('image-canvas').toDataURL('image/png');
    if (image.painted) r.mask = maskPng();
    r.strength = numberOrNull('strength');
  }
  return r;
}

/** Fills the form from a job's request ("use these settings again"), with the seed of the chosen image. */
function useSettings(req, seed) {
  $('prompt').value = req.prompt;
  $('negative').value = req.negative_prompt || '';
  $('width').value = req.width;
  $('height').value = req.height;
  $('steps').value = req.steps == null ? '' : req.steps;
  $('seed').value = seed;
  $('guidance').value = req.guidance == null ? '' : req.guidance;
  $('cfg').value = req.cfg_scale;
  $('count').value = 1;
  if ([...$('model').options].some((o) => o.value === req.model)) $('model').value = req.model;
  window.scrollTo(0, 0);
}

async function submit(event) {
  event.preventDefault();
  $('generate').disabled = true;
  $('result').replaceChildren();
  $('progress').style.width = '0%';
  $('eta').textContent = '';
  try {
    const job = await api('/fluxj/v1/jobs', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(request()),
    });
    currentJob = job.id;
    $('cancel').disabled = false;
    setStatus('Queued (position ' + (job.position + 1) + ').');
    await follow(job.id);
  } catch (e) {
    setStatus(e.message, true);
  } finally {
    $('generate').disabled = false;
    $('cancel').disabled = true;
    currentJob = null;
    loadGallery().catch((e) => setStatus(e.message, true));
  }
}

/** Reads the job's server-sent events (through fetch, so that the API key goes along) until it ends. */
async function follow(id) {
  const r = await fetch('/fluxj/v1/jobs/' + id + '/events', { headers: authHeaders() });
  if (!r.ok) throw new Error('event stream: ' + r.status);
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = 'message', data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) name = line.slice(7);
        else if (line.startsWith('data: ')) data += line.slice(6);
      }
      if (data && await onEvent(name, JSON.parse(data))) {
        reader.cancel();
        return;
      }
    }
  }
}

/** Shows one event; true when the job is over. */
async function onEvent(name, d) {
  switch (name) {
    case 'queued':
      setStatus('Queued (position ' + (d.position + 1) + ').');
      return false;
    case 'started':
      setStatus('Running.');
      return false;
    case 'step': {
      const frac = d.fraction || 0;
      $('progress').style.width = (100 * frac).toFixed(1) + '%';
      setStatus('Image ' + (d.image + 1) + '/' + d.images + ', step ' + d.step + '/' + d.steps);
      $('eta').textContent = d.eta_seconds == null ? '' : 'ETA ' + formatSeconds(d.eta_seconds);
      if (d.preview) {
        $('preview').src = d.preview;
        $('preview').classList.remove('hidden');
      }
      return false;
    }
    case 'image': {
      const img = document.createElement('img');
      img.src = await imageUrl(d.url);
      img.alt = 'seed ' + d.seed;
      img.className = 'output';
      $('result').append(img);
      return false;
    }
    case 'done':
      $('progress').style.width = '100%';
      $('eta').textContent = '';
      $('preview').classList.add('hidden');
      setStatus('Done: ' + d.outputs.length + ' image(s).');
      return true;
    case 'failed':
      setStatus('Failed: ' + d.error, true);
      return true;
    case 'cancelled':
      setStatus('Cancelled.');
      return true;
    default:
      return false;
  }
}

async function loadGallery() {
  const { jobs } = await api('/fluxj/v1/jobs?limit=30');
  const gallery = $('gallery');
  const cards = [];
  for (const job of jobs) {
    for (const out of job.outputs) {
      const card = document.createElement('div');
      card.className = 'card';
      const img = document.createElement('img');
      img.alt = job.request.prompt;
      imageUrl(out.url).then((u) => { img.src = u; }).catch(() => { img.alt = 'image unavailable'; });
      const params = document.createElement('pre');
      params.textContent = out.parameters;
      const again = document.createElement('button');
      again.type = 'button';
      again.className = 'use-again';
      again.textContent = 'Use these settings again';
      again.addEventListener('click', () => useSettings(job.request, out.seed));
      card.append(img, params, again);
      cards.push(card);
    }
  }
  gallery.replaceChildren(...cards);
}

// --- the uploaded image and its mask, painted with the mouse ---

const image = { loaded: false, painted: false };

function snap(v) {
  return Math.max(16, Math.min(limits.max_side, Math.round(v / 16) * 16));
}

function loadImage(file) {
  const img = new Image();
  img.onload = () => {
    const w = snap(img.naturalWidth), h = snap(img.naturalHeight);
    for (const c of [$('image-canvas'), $('mask-canvas')]) {
      c.width = w;
      c.height = h;
    }
    $('image-canvas').getContext('2d').drawImage(img, 0, 0, w, h);
    $('width').value = w;
    $('height').value = h;
    image.loaded = true;
    image.painted = false;
    $('canvas-box').classList.remove('hidden');
    URL.revokeObjectURL(img.src);
  };
  img.onerror = () => setStatus('cannot read that image', true);
  img.src = URL.createObjectURL(file);
}

function clearImage() {
  image.loaded = false;
  image.painted = false;
  $('upload').value = '';
  $('canvas-box').classList.add('hidden');
}

function setupMask() {
  const canvas = $('mask-canvas');
  const ctx = canvas.getContext('2d');
  let last = null;
  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return { x: (e.clientX - r.left) * canvas.width / r.width, y: (e.clientY - r.top) * canvas.height / r.height };
  };
  const paint = (p) => {
    ctx.strokeStyle = '#fff';
    ctx.fillStyle = '#fff';
    ctx.lineWidth = Number($('brush').value) * canvas.width / canvas.getBoundingClientRect().width;
    ctx.lineCap = 'round';
    ctx.beginPath();
    if (last) {
      ctx.moveTo(last.x, last.y);
      ctx.lineTo(p.x, p.y);
      ctx.stroke();
    } else {
      ctx.arc(p.x, p.y, ctx.lineWidth / 2, 0, 2 * Math.PI);
      ctx.fill();
    }
    last = p;
    image.painted = true;
  };
  canvas.addEventListener('pointerdown', (e) => {
    canvas.setPointerCapture(e.pointerId);
    last = null;
    paint(at(e));
  });
  canvas.addEventListener('pointermove', (e) => { if (e.buttons & 1) paint(at(e)); });
  canvas.addEventListener('pointerup', () => { last = null; });
  $('clear-mask').addEventListener('click', () => {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    image.painted = false;
  });
}

/** The painted strokes as a black-and-white PNG: white = repaint (every touched pixel, the brush's soft edge too). */
function maskPng() {
  const src = $('mask-canvas');
  const painted = src.getContext('2d').getImageData(0, 0, src.width, src.height).data;
  const out = document.createElement('canvas');
  out.width = src.width;
  out.height = src.height;
  const ctx = out.getContext('2d');
  const img = ctx.createImageData(out.width, out.height);
  for (let i = 0; i < painted.length; i += 4) {
    const v = painted[i + 3] > 0 ? 255 : 0;
    img.data[i] = img.data[i + 1] = img.data[i + 2] = v;
    img.data[i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return out.toDataURL('image/png');
}

function init() {
  if (apiKey) $('api-key').value = apiKey;
  $('save-key').addEventListener('click', () => {
    apiKey = $('api-key').value.trim();
    localStorage.setItem('fluxj.apiKey', apiKey);
    start();
  });
  $('reroll').addEventListener('click', () => { $('seed').value = Math.floor(Math.random() * 4294967296); });
  $('form').addEventListener('submit', submit);
  $('cancel').addEventListener('click', () => {
    if (currentJob) api('/fluxj/v1/jobs/' + currentJob + '/cancel', { method: 'POST' }).catch((e) => setStatus(e.message, true));
  });
  $('upload').addEventListener('change', (e) => { if (e.target.files.length) loadImage(e.target.files[0]); });
  $('clear-image').addEventListener('click', clearImage);
  setupMask();
  start();
}

function start() {
  loadModels().then(loadGallery).catch((e) => setStatus(e.message, true));
}

init();
