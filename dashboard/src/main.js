// The media-pipeline dashboard: plain modules, no framework. Signs in by exchanging the API key
// for a session cookie (POST /api/session; the key is never stored in the page), then talks to
// the same API as curl does, with the cookie and the X-Requested-With header that the API's CSRF
// check wants on every state-changing request.
import './style.css';
import '@uppy/core/css/style.min.css';
import '@uppy/dashboard/css/style.min.css';
import { api, ApiError, CSRF_HEADERS } from './api.js';
import { h, clear, formatBytes, formatDuration, formatAge, formatGap, announce } from './dom.js';

const main = () => document.getElementById('main');
const POLL_MS = 2500;
let stopPolling = () => {};
let signedIn = false;

// ---- routing ------------------------------------------------------------------------------

const routes = [
  [/^#?\/?$/, libraryView],
  [/^#\/upload$/, uploadView],
  [/^#\/overview$/, overviewView],
  [/^#\/webhooks$/, webhooksView],
  [/^#\/media\/([0-9a-z]+)$/, mediaView],
];

async function render() {
  stopPolling();
  stopPolling = () => {};
  if (!signedIn) {
    signedIn = await api('GET', '/api/session').then(() => true, () => false);
  }
  const header = document.querySelector('header.top');
  header.hidden = !signedIn;
  if (!signedIn) return signInView();
  const hash = location.hash || '#/';
  for (const link of document.querySelectorAll('header nav a')) {
    const current = link.getAttribute('href') === hash || (hash.startsWith('#/media/') && link.getAttribute('href') === '#/');
    if (current) link.setAttribute('aria-current', 'page'); else link.removeAttribute('aria-current');
  }
  for (const [pattern, view] of routes) {
    const match = hash.match(pattern);
    if (match) {
      try {
        await view(...match.slice(1));
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) return signedOut('Your session has ended: sign in again.');
        showError(main(), error);
      }
      return;
    }
  }
  clear(main()).append(h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/' }, 'Back to the library')));
}

function signedOut(message) {
  signedIn = false;
  render().then(() => message && showError(main().querySelector('form') || main(), message));
}

function showError(container, error) {
  const text = typeof error === 'string' ? error : error.message;
  const old = container.querySelector(':scope > .alert');
  if (old) old.remove();
  const alert = h('div', { class: 'alert', role: 'alert' }, text);
  container.prepend(alert);
  return alert;
}

function poll(fn) {
  let timer = null;
  let stopped = false;
  const tick = async () => {
    if (stopped) return;
    if (!document.hidden) {
      try { await fn(); } catch (error) {
        if (error instanceof ApiError && error.status === 401) { stopped = true; return signedOut('Your session has ended: sign in again.'); }
      }
    }
    if (!stopped) timer = setTimeout(tick, POLL_MS);
  };
  timer = setTimeout(tick, POLL_MS);
  stopPolling = () => { stopped = true; clearTimeout(timer); };
}

// ---- sign-in ------------------------------------------------------------------------------

function signInView() {
  const key = h('input', { id: 'api-key', name: 'api_key', type: 'password', autocomplete: 'current-password',
                           required: true, 'aria-describedby': 'key-help' });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', { 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in to media-pipeline'),
    h('label', { for: 'api-key' }, 'API key', key),
    h('p', { id: 'key-help', class: 'muted' },
      'The key is exchanged for a session that lasts a working day; the page does not keep the key.'),
    button);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      await api('POST', '/api/session', { api_key: key.value });
      key.value = '';
      signedIn = true;
      await render();
      main().focus();
    } catch (error) {
      showError(form, error.status === 401 ? 'That API key is not valid. Check it and try again.' : error);
      key.focus();
      key.select();
    } finally {
      button.disabled = false;
    }
  });
  clear(main()).append(h('div', { class: 'card signin' }, form));
  key.focus();
}

document.getElementById('sign-out').addEventListener('click', async () => {
  try { await api('DELETE', '/api/session'); } catch { /* signed out either way */ }
  signedIn = false;
  location.hash = '#/';
  await render();
  announce('Signed out.');
});

// ---- library ------------------------------------------------------------------------------

const library = { status: '', kind: '', q: '', layout: 'grid', cursors: [null] };

function thumbnailFor(item) {
  if (item.status === 'completed' && (item.kind === 'video' || item.kind === 'image')) {
    const img = h('img', { src: `/files/renditions/${item.id}/thumbnail.webp`, alt: '', loading: 'lazy' });
    img.addEventListener('error', () => img.replaceWith(document.createTextNode(item.kind)));
    return img;
  }
  return item.kind;
}

function itemCard(item) {
  const facts = [item.kind, formatBytes(item.size)];
  if (item.duration) facts.push(formatDuration(item.duration));
  return h('li', { class: 'item', 'data-id': item.id, 'data-status': item.status },
    h('div', { class: 'thumb', 'aria-hidden': 'true' }, thumbnailFor(item)),
    h('div', { class: 'body' },
      h('a', { class: 'name', href: `#/media/${item.id}` }, item.name || item.id),
      h('div', { class: 'facts' },
        ...facts.map((fact) => h('span', {}, fact)),
        h('span', { class: `badge ${item.status}` }, h('span', { class: 'sr-only' }, 'status: '), item.status),
        h('span', {}, h('time', { datetime: item.created_at }, formatAge(item.created_at))))));
}

async function libraryView() {
  const search = h('input', { type: 'search', id: 'q', value: library.q, placeholder: 'name contains…' });
  const status = h('select', { id: 'status-filter' },
    ...['', 'pending', 'processing', 'completed', 'failed'].map((s) => h('option', { value: s, selected: s === library.status }, s || 'any')));
  const kind = h('select', { id: 'kind-filter' },
    ...['', 'video', 'image', 'audio'].map((k) => h('option', { value: k, selected: k === library.kind }, k || 'any')));
  const layout = h('button', { type: 'button', 'aria-pressed': String(library.layout === 'list') }, 'List view');
  const list = h('ul', { class: `grid ${library.layout}`, id: 'library', 'aria-live': 'polite', 'aria-busy': 'true' });
  const older = h('button', { type: 'button' }, 'Older');
  const newer = h('button', { type: 'button' }, 'Newer');
  const pageLabel = h('span', { class: 'muted' });
  const form = h('form', { class: 'filters', role: 'search' },
    h('label', { for: 'q' }, 'Search by name', search),
    h('label', { for: 'status-filter' }, 'Status', status),
    h('label', { for: 'kind-filter' }, 'Kind', kind),
    h('button', { type: 'submit' }, 'Search'), layout);
  clear(main()).append(
    h('div', { class: 'row' }, h('h1', {}, 'Library'), h('a', { class: 'button', href: '#/upload' }, 'Upload files')),
    form, list, h('nav', { class: 'pager', 'aria-label': 'Pages' }, newer, pageLabel, older));

  let lastBody = '';
  let page = null;
  const load = async () => {
    const cursor = library.cursors[library.cursors.length - 1];
    const params = new URLSearchParams({ limit: '24' });
    if (library.status) params.set('status', library.status);
    if (library.kind) params.set('kind', library.kind);
    if (library.q) params.set('q', library.q);
    if (cursor) params.set('cursor', cursor);
    page = await api('GET', `/api/media?${params}`);
    const body = JSON.stringify(page.items);
    if (body !== lastBody) {  // re-render only on change, so nothing flickers or loses focus
      lastBody = body;
      clear(list).append(...page.items.map(itemCard));
      if (!page.items.length) list.append(h('li', { class: 'muted' }, library.q || library.status || library.kind ? 'Nothing matches.' : 'Nothing uploaded yet.'));
    }
    list.setAttribute('aria-busy', 'false');
    older.disabled = !page.next_cursor;
    newer.disabled = library.cursors.length === 1;
    pageLabel.textContent = `Page ${library.cursors.length}`;
  };
  const reload = () => { lastBody = ''; return load().catch((error) => showError(main(), error)); };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    Object.assign(library, { q: search.value.trim(), status: status.value, kind: kind.value, cursors: [null] });
    reload();
  });
  status.addEventListener('change', () => form.requestSubmit());
  kind.addEventListener('change', () => form.requestSubmit());
  layout.addEventListener('click', () => {
    library.layout = library.layout === 'list' ? 'grid' : 'list';
    list.className = `grid ${library.layout}`;
    layout.setAttribute('aria-pressed', String(library.layout === 'list'));
  });
  older.addEventListener('click', () => { library.cursors.push(page.next_cursor); reload(); });
  newer.addEventListener('click', () => { library.cursors.pop(); reload(); });
  await load();
  poll(load);  // items in progress change status without a reload
}

// ---- upload -------------------------------------------------------------------------------

let uppy = null;

async function uploadView() {
  const target = h('div', { id: 'uppy' });
  const recent = h('ul', { class: 'grid', id: 'uploaded', 'aria-live': 'polite' });
  clear(main()).append(
    h('h1', {}, 'Upload'),
    h('p', { class: 'muted' }, 'Drop files or browse. Uploads are resumable (tus, 50 MiB chunks): an upload cut off, ',
      'even by closing the page, resumes where it stopped when the same file is added again.'),
    target, h('h2', {}, 'In the library'), recent);
  const [{ default: Uppy }, { default: Dashboard }, { default: Tus }] = await Promise.all([
    import('@uppy/core'), import('@uppy/dashboard'), import('@uppy/tus')]);
  if (uppy) uppy.destroy();
  uppy = new Uppy({ autoProceed: false, restrictions: { allowedFileTypes: ['image/*', 'video/*', 'audio/*', '.heic', '.heif', '.avif', '.mkv'] } })
    .use(Dashboard, { inline: true, target, width: '100%', height: 420, proudlyDisplayPoweredByUppy: false,
                      showProgressDetails: true, hideProgressAfterFinish: false })
    .use(Tus, {
      endpoint: '/api/uploads',
      chunkSize: 50 * 1024 * 1024,  // under the Worker's 100 MiB request limit
      headers: { ...CSRF_HEADERS },  // the creation POST is signed in by the cookie
      withCredentials: true,
      retryDelays: [0, 1000, 3000, 5000],
      allowedMetaFields: ['name', 'type'],
      removeFingerprintOnSuccess: true,
    });
  const seen = new Set();
  const refresh = async () => {
    const page = await api('GET', '/api/media?limit=12');
    clear(recent).append(...page.items.filter((item) => seen.has(item.name) || seen.size === 0).slice(0, 12).map(itemCard));
  };
  uppy.on('upload-success', (file) => { seen.add(file.name); announce(`${file.name} uploaded.`); refresh().catch(() => {}); });
  uppy.on('upload-error', (file, error) => announce(`${file?.name || 'A file'} failed: ${error?.message || 'upload error'}`));
  await refresh();
  poll(refresh);
  stopPollingAlso(() => { if (uppy) { uppy.destroy(); uppy = null; } });
}

function stopPollingAlso(fn) {
  const previous = stopPolling;
  stopPolling = () => { previous(); fn(); };
}

// ---- media page ---------------------------------------------------------------------------

let hls = null;

function mediaPlayer(item) {
  const web = (item.renditions || []).find((r) => r.name === 'web' && r.signed_url);
  if (item.kind === 'image') {
    const large = (item.renditions || []).find((r) => r.name === 'large' && r.signed_url);
    return h('img', { src: (large || item).signed_url, alt: item.name || 'the image' });
  }
  if (item.kind === 'audio') {
    return h('audio', { controls: true, src: (web || item).signed_url, 'aria-label': `Play ${item.name || 'the audio'}` });
  }
  const video = h('video', { controls: true, playsinline: true, preload: 'metadata', id: 'player',
                             'aria-label': `Play ${item.name || 'the video'}` });
  const hlsUrl = item.playback && item.playback.hls;
  if (hlsUrl) {
    if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = hlsUrl;
    } else {
      import('hls.js/light').then(({ default: Hls }) => {
        if (Hls.isSupported()) {
          hls = new Hls();
          hls.loadSource(hlsUrl);
          hls.attachMedia(video);
        } else if (web) {
          video.src = web.signed_url;
        }
      });
    }
  } else if (web) {
    video.src = web.signed_url;  // the MP4 rendition until the ladder exists
  } else if (item.signed_url) {
    video.src = item.signed_url;
  }
  return video;
}

function renditionRows(item) {
  return (item.renditions || []).map((r) => {
    const actions = h('td', { class: 'row' });
    if (r.signed_url) {
      actions.append(
        h('a', { class: 'button', href: r.signed_url, download: `${item.name || item.id}-${r.name}` }, 'Download'),
        copyButton(r.signed_url, `Copy the signed link of ${r.name}`));
    }
    return h('tr', { 'data-rendition': r.name },
      h('th', { scope: 'row' }, r.name), h('td', {}, r.content_type || r.kind || ''),
      h('td', {}, r.width && r.height ? `${r.width} × ${r.height}` : '—'),
      h('td', {}, r.size ? formatBytes(r.size) : '—'),
      h('td', {}, h('span', { class: `badge ${r.status}` }, r.status), r.error ? h('div', { class: 'error' }, r.error) : ''),
      actions);
  });
}

function copyButton(text, label) {
  const button = h('button', { type: 'button', 'aria-label': label }, 'Copy link');
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      announce('Link copied.');
    } catch {
      window.prompt('Copy the link:', text);
    }
  });
  return button;
}

function describeEvent(event) {
  const d = event.data || {};
  switch (event.type) {
    case 'media.uploaded': return `uploaded (${formatBytes(d.size)}${d.way ? `, ${d.way.replace('_', ' ')}` : ''})`;
    case 'media.queued': return `queued${d.reason ? ` (${d.reason})` : ''}`;
    case 'job.submitted': return `job submitted for ${d.rendition || 'a rendition'}`;
    case 'job.retry': return `${d.rendition || 'a job'} will be retried${d.reason ? `: ${d.reason}` : ''}`;
    case 'ittybit.webhook': return `Ittybit reported ${d.status || 'a job'}${d.rendition ? ` for ${d.rendition}` : ''}`;
    case 'rendition.stored': return `${d.rendition || 'a rendition'} stored${d.size ? ` (${formatBytes(d.size)})` : ''}`;
    case 'rendition.ready': return `${d.rendition?.name || 'a rendition'} ready`;
    case 'rendition.failed': return `${d.rendition?.name || 'a rendition'} failed${d.rendition?.error ? `: ${d.rendition.error}` : ''}`;
    case 'media.failed': return `failed${d.error ? `: ${d.error}` : ''}`;
    default: return event.type.replace('.', ' ');
  }
}

function timeline(events) {
  let previous = null;
  return h('ol', { class: 'timeline', id: 'timeline', 'aria-label': 'Timeline, oldest first' }, ...events.map((event) => {
    const at = new Date(event.timestamp);
    const gap = previous ? formatGap(at - previous) : '';
    previous = at;
    const bad = event.type.endsWith('.failed') || event.type === 'job.retry';
    return h('li', { class: bad ? 'bad' : '', 'data-type': event.type },
      gap ? h('div', { class: 'gap' }, `+${gap}`) : '',
      h('strong', {}, event.type), ' — ', describeEvent(event), ' ',
      h('time', { class: 'muted', datetime: event.timestamp }, at.toLocaleTimeString()));
  }));
}

async function allEvents(id) {
  const events = [];
  let cursor = null;
  do {
    const page = await api('GET', `/api/media/${id}/events?limit=200${cursor ? `&cursor=${cursor}` : ''}`);
    events.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && events.length < 2000);
  return events;
}

async function mediaView(id) {
  let item = await api('GET', `/api/media/${id}`);
  const title = h('h1', {}, item.name || item.id);
  const status = h('p', {});
  const playerBox = h('div', { class: 'player' });
  const tableBody = h('tbody', {});
  const timelineBox = h('div', {});
  const metaBox = h('div', {});
  const del = h('button', { type: 'button', class: 'danger' }, 'Delete…');
  clear(main()).append(
    h('p', {}, h('a', { href: '#/' }, '← Library')), title, status, playerBox,
    h('h2', {}, 'Renditions'),
    h('div', { class: 'table-wrap' }, h('table', { id: 'renditions' },
      h('thead', {}, h('tr', {}, ...['Name', 'Format', 'Width × height', 'Size', 'Status', ''].map((t) => h('th', { scope: 'col' }, t)))),
      tableBody)),
    h('h2', {}, 'Timeline'), timelineBox,
    h('h2', {}, 'Details'), metaBox,
    h('h2', {}, 'Delete'), h('p', {}, del));

  let playerKey = '';
  const paint = (events) => {
    status.replaceChildren(h('span', { class: `badge ${item.status}` }, item.status),
      item.error ? h('span', { class: 'error' }, ` ${item.error}`) : '');
    // The player is made again only when what it plays changes (not at every poll).
    const key = JSON.stringify([item.playback?.hls, (item.renditions || []).filter((r) => r.signed_url).map((r) => r.name)]);
    if (key !== playerKey) {
      playerKey = key;
      if (hls) { hls.destroy(); hls = null; }
      playerBox.replaceChildren(mediaPlayer(item));
    }
    tableBody.replaceChildren(...renditionRows(item));
    timelineBox.replaceChildren(timeline(events));
    const facts = [['id', item.id], ['kind', item.kind], ['type', item.content_type], ['size', formatBytes(item.size)],
      ['size as displayed', item.width && item.height ? `${item.width} × ${item.height}` : null],
      ['orientation', item.orientation], ['duration', item.duration ? formatDuration(item.duration) : null],
      ['frame rate', item.fps], ['codec', item.codec], ['uploaded', item.created_at], ['updated', item.updated_at],
      ...Object.entries(item.metadata || {}).map(([k, v]) => [`metadata: ${k}`, v])];
    metaBox.replaceChildren(h('dl', { class: 'meta' }, ...facts.filter(([, v]) => v !== null && v !== undefined && v !== '')
      .flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))])));
  };
  paint(await allEvents(id));
  const final = () => item.status === 'completed' || item.status === 'failed';
  if (!final()) {
    poll(async () => {
      if (final()) return;
      item = await api('GET', `/api/media/${id}`);
      paint(await allEvents(id));
    });
  }
  stopPollingAlso(() => { if (hls) { hls.destroy(); hls = null; } });
  del.addEventListener('click', async () => {
    if (!window.confirm(`Delete ${item.name || item.id} and every rendition? This cannot be undone.`)) return;
    del.disabled = true;
    try {
      await api('DELETE', `/api/media/${id}`);
      announce(`${item.name || item.id} deleted.`);
      location.hash = '#/';
    } catch (error) {
      del.disabled = false;
      showError(main(), error);
    }
  });
}

// ---- overview -----------------------------------------------------------------------------

function chart(days) {
  const width = 720, height = 200, pad = 28;
  const max = Math.max(1, ...days.map((d) => d.uploads));
  const step = (width - pad * 2) / days.length;
  const bar = Math.max(2, step * 0.7);
  const y = (v) => height - pad - ((height - pad * 2) * v) / max;
  const ns = 'http://www.w3.org/2000/svg';
  const el = (tag, attrs, text) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text) node.textContent = text;
    return node;
  };
  const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img',
                          'aria-label': `Uploads per day for the last ${days.length} days; failed in red` });
  svg.append(el('line', { x1: pad, x2: width - pad, y1: height - pad, y2: height - pad, stroke: '#aab1bf' }));
  svg.append(el('text', { x: 2, y: pad, 'font-size': 11, fill: '#5c6577' }, String(max)));
  days.forEach((d, i) => {
    const x = pad + i * step + (step - bar) / 2;
    const up = el('rect', { x, y: y(d.uploads), width: bar, height: height - pad - y(d.uploads), fill: '#1f5fd1' });
    up.append(el('title', {}, `${d.day}: ${d.uploads} uploaded, ${d.failed} failed`));
    svg.append(up);
    if (d.failed) svg.append(el('rect', { x, y: y(d.failed), width: bar, height: height - pad - y(d.failed), fill: '#b3261e' }));
    if (i % Math.ceil(days.length / 7) === 0) {
      svg.append(el('text', { x, y: height - 8, 'font-size': 11, fill: '#5c6577' }, d.day.slice(5)));
    }
  });
  return svg;
}

async function overviewView() {
  const counts = h('div', { class: 'counts', id: 'counts' });
  const chartBox = h('div', {});
  const tableBox = h('div', { class: 'table-wrap' });
  clear(main()).append(h('h1', {}, 'Overview'), counts, h('h2', {}, 'Uploads and failures per day'), chartBox,
    h('details', {}, h('summary', {}, 'The same as a table'), tableBox));
  const load = async () => {
    const [stats, daily] = await Promise.all([api('GET', '/api/stats'), api('GET', '/api/stats/daily?days=14')]);
    counts.replaceChildren(...['total', 'pending', 'processing', 'completed', 'failed'].map((name) =>
      h('div', { class: 'card', 'data-count': name }, h('strong', {}, String(stats[name])), name)));
    chartBox.replaceChildren(chart(daily.days));
    tableBox.replaceChildren(h('table', {}, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Day'), h('th', { scope: 'col' }, 'Uploads'), h('th', { scope: 'col' }, 'Failed'))),
      h('tbody', {}, ...daily.days.map((d) => h('tr', {}, h('td', {}, d.day), h('td', {}, String(d.uploads)), h('td', {}, String(d.failed)))))));
  };
  await load();
  poll(load);
}

// ---- webhooks -----------------------------------------------------------------------------

const EVENT_TYPES = ['media.created', 'media.ready', 'media.failed', 'media.deleted', 'rendition.ready', 'rendition.failed'];

function eventChecks(prefix, chosen) {
  const all = chosen.includes('*');
  return h('fieldset', {}, h('legend', {}, 'Events'),
    h('label', {}, h('input', { type: 'checkbox', name: `${prefix}-event`, value: '*', checked: all }), 'all'),
    ...EVENT_TYPES.map((type) => h('label', {}, h('input', { type: 'checkbox', name: `${prefix}-event`, value: type, checked: !all && chosen.includes(type) }), type)));
}

function checkedEvents(container, prefix) {
  const values = [...container.querySelectorAll(`input[name="${prefix}-event"]:checked`)].map((i) => i.value);
  return values.includes('*') || !values.length ? ['*'] : values;
}

async function webhooksView() {
  const url = h('input', { id: 'wh-url', type: 'url', required: true, placeholder: 'https://example.com/hooks' });
  const description = h('input', { id: 'wh-description', type: 'text', maxlength: 200 });
  const addForm = h('form', { class: 'card', id: 'add-endpoint', 'aria-labelledby': 'add-title' },
    h('h2', { id: 'add-title' }, 'Add an endpoint'),
    h('div', { class: 'row' }, h('label', { for: 'wh-url' }, 'URL', url), h('label', { for: 'wh-description' }, 'Description', description)),
    eventChecks('new', ['*']), h('p', {}, h('button', { type: 'submit', class: 'primary' }, 'Add endpoint')));
  const secretBox = h('div', { id: 'secret', 'aria-live': 'polite' });
  const list = h('div', { id: 'endpoints' });
  clear(main()).append(h('h1', {}, 'Webhooks'), addForm, secretBox, h('h2', {}, 'Endpoints'), list);

  const showSecret = (endpoint, why) => {
    secretBox.replaceChildren(h('div', { class: 'card' }, h('p', {}, `${why} Its signing secret is shown this once:`),
      h('p', { class: 'secret', 'data-secret': endpoint.secret }, endpoint.secret), copyButton(endpoint.secret, 'Copy the signing secret')));
  };
  addForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const endpoint = await api('POST', '/api/webhooks', { url: url.value.trim(), description: description.value.trim(),
                                                             events: checkedEvents(addForm, 'new') });
      url.value = ''; description.value = '';
      showSecret(endpoint, `Endpoint ${endpoint.url} added.`);
      await load();
    } catch (error) {
      showError(addForm, error);
    }
  });

  const endpointCard = (endpoint) => {
    const card = h('section', { class: 'card', 'data-endpoint': endpoint.id, 'aria-label': `Endpoint ${endpoint.url}` });
    const deliveries = h('div', { class: 'table-wrap' });
    const edit = h('form', {}, eventChecks(endpoint.id, endpoint.events), h('button', { type: 'submit' }, 'Save events'));
    const toggle = h('button', { type: 'button' }, endpoint.enabled ? 'Disable' : 'Enable');
    const rotate = h('button', { type: 'button' }, 'Rotate secret');
    const remove = h('button', { type: 'button', class: 'danger' }, 'Delete');
    const act = (fn) => async () => { try { await fn(); } catch (error) { showError(card, error); } };
    edit.addEventListener('submit', (event) => { event.preventDefault(); act(async () => {
      await api('PATCH', `/api/webhooks/${endpoint.id}`, { events: checkedEvents(edit, endpoint.id) });
      announce('Events saved.'); await load();
    })(); });
    toggle.addEventListener('click', act(async () => {
      await api('PATCH', `/api/webhooks/${endpoint.id}`, { enabled: !endpoint.enabled });
      announce(endpoint.enabled ? 'Endpoint disabled.' : 'Endpoint enabled.'); await load();
    }));
    rotate.addEventListener('click', act(async () => {
      const rotated = await api('POST', `/api/webhooks/${endpoint.id}/rotate-secret`, {});
      showSecret(rotated, 'Secret rotated; the previous one still signs for a day.');
    }));
    remove.addEventListener('click', act(async () => {
      if (!window.confirm(`Delete the endpoint ${endpoint.url} and its delivery history?`)) return;
      await api('DELETE', `/api/webhooks/${endpoint.id}`);
      announce('Endpoint deleted.'); await load();
    }));
    card.append(
      h('h3', {}, endpoint.url), endpoint.description ? h('p', {}, endpoint.description) : '',
      h('p', {}, h('span', { class: `badge ${endpoint.enabled ? 'completed' : 'failed'}` }, endpoint.enabled ? 'enabled' : 'disabled'),
        endpoint.disabled_reason ? h('span', { class: 'error' }, ` ${endpoint.disabled_reason}`) : ''),
      edit, h('p', { class: 'row' }, toggle, rotate, remove), h('h4', {}, 'Deliveries'), deliveries);
    const loadDeliveries = async () => {
      const page = await api('GET', `/api/webhooks/${endpoint.id}/deliveries`);
      if (!page.items.length) return deliveries.replaceChildren(h('p', { class: 'muted' }, 'No deliveries yet.'));
      deliveries.replaceChildren(h('table', { class: 'deliveries' },
        h('thead', {}, h('tr', {}, ...['Event', 'Status', 'Attempts', 'Last answer', 'When', ''].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, ...page.items.map((d) => {
          const replay = h('button', { type: 'button', 'aria-label': `Replay ${d.event_type}` }, 'Replay');
          replay.addEventListener('click', act(async () => {
            await api('POST', `/api/webhooks/${endpoint.id}/deliveries/${d.id}/replay`, {});
            announce('Replay queued.'); await loadDeliveries();
          }));
          return h('tr', { 'data-delivery': d.id },
            h('td', {}, d.event_type || d.event_id), h('td', {}, h('span', { class: `badge ${d.status}` }, d.status)),
            h('td', {}, String(d.attempts)),
            h('td', {}, d.last_status ? `HTTP ${d.last_status}` : (d.last_error || '—')),
            h('td', {}, h('time', { datetime: d.updated_at }, formatAge(d.updated_at))), h('td', {}, replay));
        }))));
    };
    loadDeliveries().catch((error) => showError(card, error));
    card.loadDeliveries = loadDeliveries;
    return card;
  };

  let cards = [];
  const load = async () => {
    const page = await api('GET', '/api/webhooks');
    cards = page.items.map(endpointCard);
    list.replaceChildren(...(cards.length ? cards : [h('p', { class: 'muted' }, 'No endpoints yet.')]));
  };
  await load();
  poll(async () => { for (const card of cards) await card.loadDeliveries(); });
}

window.addEventListener('hashchange', () => render());
render();
