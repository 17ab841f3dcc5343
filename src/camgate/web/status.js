// The server status page (`#/status`, administrators): the manual's Server Status tab. The
// figures, a graph of the CPU usage over the last hour and the Active users table, fetched again
// every 5 s while the page is shown.

import * as api from './api.js';
import { h } from './dom.js';

/** @typedef {import('./views.js').View} View */
/** @typedef {import('./views.js').ViewContext} ViewContext */
/** @typedef {import('./api.js').ServerStatus} ServerStatus */
/** @typedef {import('./api.js').UserLine} UserLine */
/** @typedef {import('./api.js').Lockout} Lockout */

/** How often the status is fetched again (the server samples every 5 s too). */
const REFRESH_MS = 5000;
/** The graph's time span: the server keeps an hour of samples. */
const HOUR_MS = 3600 * 1000;
const SVG_NS = 'http://www.w3.org/2000/svg';
/** The graph's height and margins in CSS pixels (the SVG is drawn at its real width, so that its
 * labels keep their size on a phone instead of shrinking with a scaled drawing). */
const GRAPH = { height: 180, left: 44, right: 14, top: 10, bottom: 26 };

/** e.g. "25 Nov 2026, 10:44" in the user's locale. */
const DATE_TIME = /** @type {const} */ ({ dateStyle: 'medium', timeStyle: 'short' });
/** The Active users table: the manual's columns, in its order. */
const COLUMNS = /** @type {const} */ ([
  ['user', 'User name'],
  ['state', 'State'],
  ['video_kBps', 'Video kB/s'],
  ['audio_kBps', 'Audio kB/s'],
  ['transcoded_video_streams', 'Transcoded video streams'],
  ['direct_video_streams', 'Direct video streams'],
  ['transcoded_audio_streams', 'Transcoded audio streams'],
]);

/**
 * @param {ViewContext} ctx
 * @returns {View}
 */
export function statusView(ctx) {
  const heading = h('h1', { id: 'status-title', tabindex: '-1' }, 'Server status');
  const updated = h('p', { id: 'status-updated', class: 'hint' }, 'Loading…');
  /** @type {Record<string, HTMLElement>} */
  const values = {};
  const figure = (/** @type {string} */ id, /** @type {string} */ label) => {
    values[id] = h('dd', { id: `status-${id}` }, '…');
    return h('div', {}, h('dt', {}, label), values[id]);
  };
  const timedOut = figure('timed-out', 'Sessions timed out');
  timedOut.hidden = true; // only from servers that count them
  const figures = h(
    'dl',
    { class: 'figures' },
    figure('active-since', 'Server active since'),
    figure('cpu', 'CPU usage now'),
    figure('bandwidth', 'External bandwidth'),
    figure('level', 'Limitation level in force'),
    figure('hardware', 'Hardware decoding'),
    figure('transcoders', 'Transcoders running'),
    timedOut,
  );

  const graphSvg = /** @type {SVGSVGElement} */ (svgElement('svg'));
  graphSvg.id = 'cpu-graph';
  graphSvg.setAttribute('role', 'img');
  graphSvg.setAttribute('aria-labelledby', 'cpu-graph-title cpu-graph-summary');
  const summary = h('p', { id: 'cpu-graph-summary', class: 'visually-hidden' });
  const graphBox = h('div', { class: 'graph-box' }, graphSvg);
  const graph = h(
    'figure',
    { class: 'cpu-graph card' },
    h('figcaption', { id: 'cpu-graph-title' }, 'CPU usage over the last hour'),
    graphBox,
    summary,
  );

  const rows = h('tbody');
  const table = h(
    'table',
    { id: 'status-users', class: 'users' },
    h(
      'thead',
      {},
      h('tr', {}, ...COLUMNS.map(([key, label]) => h('th', { scope: 'col', 'data-column': key }, label))),
    ),
    rows,
  );
  const lockoutList = h('ul', { id: 'status-lockouts', class: 'lockouts' });
  const lockouts = h(
    'section',
    { class: 'card', 'aria-labelledby': 'lockouts-title', hidden: true },
    h('h2', { id: 'lockouts-title' }, 'Locked out after failed logins'),
    lockoutList,
  );
  const element = h(
    'section',
    { id: 'status-view', class: 'view view-admin', 'aria-labelledby': 'status-title' },
    h('div', { class: 'admin-head' }, heading, updated),
    h('div', { class: 'status-top' }, h('div', { class: 'card' }, figures), graph),
    h('h2', { id: 'users-title' }, 'Active users'),
    // A wide table scrolls on its own on a phone; focusable so that keyboards can scroll it.
    h(
      'div',
      { class: 'table-scroll', role: 'region', 'aria-labelledby': 'users-title', tabindex: '0' },
      table,
    ),
    lockouts,
  );

  /** @type {ServerStatus | null} */
  let last = null;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  let paused = false;
  let disposed = false;
  let showingError = false;
  let drawnWidth = 0;

  function render() {
    if (!last) return;
    const status = last;
    const since = new Date(status.active_since);
    values['active-since'].replaceChildren(
      h('time', { datetime: status.active_since }, since.toLocaleString([], DATE_TIME)),
    );
    values.cpu.textContent = percent(status.cpu_percent);
    values.bandwidth.textContent = bandwidth(status.bandwidth_out_kbps);
    values.level.textContent = `Level ${status.level}`;
    values.hardware.textContent = capitalized(status.hardware_decoding);
    values.transcoders.textContent = String(status.transcoders);
    if (typeof status.sessions_timed_out === 'number') {
      timedOut.hidden = false;
      values['timed-out'].textContent = String(status.sessions_timed_out);
    }
    renderUsers(rows, status.users);
    renderLockouts(status.lockouts || []);
    drawGraph();
    updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
  }

  /**
   * One line per account or address locked out, each with a button that lifts it; the section
   * shows only while there are some.
   * @param {Lockout[]} locked
   */
  function renderLockouts(locked) {
    lockouts.hidden = locked.length === 0;
    lockoutList.replaceChildren(
      ...locked.map((lockout) => {
        const what = lockout.kind === 'user' ? `User ${lockout.name}` : `Address ${lockout.name}`;
        const minutes = Math.max(1, Math.ceil(lockout.seconds_left / 60));
        const lift = h('button', { type: 'button', class: 'button lockout-lift' }, 'Let in now');
        lift.addEventListener('click', async () => {
          lift.setAttribute('disabled', '');
          try {
            await api.liftLockout(lockout);
            await load();
          } catch (error) {
            lift.removeAttribute('disabled');
            ctx.showError(error instanceof api.ApiError ? error.detail : String(error));
          }
        });
        return h(
          'li',
          { 'data-kind': lockout.kind, 'data-name': lockout.name },
          h('span', {}, `${what}: about ${minutes} min left`),
          lift,
        );
      }),
    );
  }

  function drawGraph() {
    if (!last) return;
    drawnWidth = Math.round(graphBox.clientWidth) || 600;
    drawCpuGraph(graphSvg, last.cpu_history, drawnWidth);
    summary.textContent = describeHistory(last.cpu_history);
  }

  async function load() {
    clearTimeout(timer);
    if (paused || disposed) return;
    try {
      last = await api.getStatus();
    } catch (error) {
      if (disposed) return;
      if (error instanceof api.ApiError && error.status === 401) {
        ctx.sessionEnded();
        return;
      }
      showingError = true;
      const detail = error instanceof api.ApiError ? error.detail : String(error);
      ctx.showError(`Could not get the server status: ${detail}`);
      // 403: no longer an administrator; asking again will not help.
      if (!(error instanceof api.ApiError && error.status === 403)) schedule();
      return;
    }
    if (disposed) return;
    if (showingError) {
      showingError = false;
      ctx.clearError();
    }
    render();
    schedule();
  }

  function schedule() {
    clearTimeout(timer);
    if (!paused && !disposed) timer = setTimeout(load, REFRESH_MS);
  }

  // Redrawn at the new width when the page is resized or a phone is turned.
  const resized = new ResizeObserver(() => {
    if (Math.round(graphBox.clientWidth) !== drawnWidth) drawGraph();
  });
  resized.observe(graphBox);
  // After show() has put the page in place, so that the graph knows its width.
  queueMicrotask(load);

  return {
    element,
    focusTarget: heading,
    pause: () => {
      paused = true;
      clearTimeout(timer);
    },
    resume: () => {
      paused = false;
      load();
    },
    dispose: () => {
      disposed = true;
      clearTimeout(timer);
      resized.disconnect();
    },
  };
}

/**
 * One row per user line (`tr[data-user]`, cells `td[data-column]`), or a row saying none.
 * @param {HTMLElement} rows the tbody
 * @param {UserLine[]} users
 */
function renderUsers(rows, users) {
  if (!users.length) {
    const cell = h('td', { colspan: COLUMNS.length, class: 'empty' }, 'No one is logged in.');
    rows.replaceChildren(h('tr', {}, cell));
    return;
  }
  rows.replaceChildren(
    ...users.map((line) =>
      h(
        'tr',
        { 'data-user': line.user },
        ...COLUMNS.map(([key], index) => {
          const value = line[key];
          const numeric = typeof value === 'number';
          const text = numeric && key.endsWith('kBps') ? value.toFixed(1) : String(value);
          // The user name heads its row for screen readers.
          return index === 0
            ? h('th', { scope: 'row', 'data-column': key }, text)
            : h('td', { 'data-column': key, class: numeric ? 'number' : null }, text);
        }),
      ),
    ),
  );
}

/**
 * @param {string} name
 * @returns {SVGElement}
 */
function svgElement(name) {
  return /** @type {SVGElement} */ (document.createElementNS(SVG_NS, name));
}

/**
 * @param {string} name
 * @param {Record<string, string | number>} attrs
 * @param {string} [text]
 * @returns {SVGElement}
 */
function svg(name, attrs, text) {
  const element = svgElement(name);
  for (const [key, value] of Object.entries(attrs)) element.setAttribute(key, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/**
 * Draws the CPU usage of the last hour: the percentage up (0–100 %), the time across (clock
 * times), the samples as one line (`polyline`, one point per sample) over a faint area.
 * The hour ends at the newest sample, so that a client clock that is off does not shift it.
 * @param {SVGSVGElement} target
 * @param {{at: string, percent: number}[]} history oldest first
 * @param {number} width in CSS pixels
 */
function drawCpuGraph(target, history, width) {
  const { height, left, right, top, bottom } = GRAPH;
  const plotWidth = Math.max(10, width - left - right);
  const plotHeight = height - top - bottom;
  target.setAttribute('width', String(width));
  target.setAttribute('height', String(height));
  target.setAttribute('viewBox', `0 0 ${width} ${height}`);
  target.dataset.samples = String(history.length);

  const samples = history
    .map((sample) => ({ at: Date.parse(sample.at), percent: sample.percent }))
    .filter((sample) => Number.isFinite(sample.at));
  const end = samples.length ? samples[samples.length - 1].at : Date.now();
  const start = end - HOUR_MS;
  const x = (/** @type {number} */ at) => left + ((at - start) / HOUR_MS) * plotWidth;
  const y = (/** @type {number} */ pct) =>
    top + (1 - Math.min(100, Math.max(0, pct)) / 100) * plotHeight;

  /** @type {SVGElement[]} */
  const parts = [];
  for (const pct of [0, 50, 100]) {
    const level = y(pct);
    parts.push(svg('line', { class: 'grid-line', x1: left, x2: left + plotWidth, y1: level, y2: level }));
    const label = { class: 'axis-label', x: left - 6, y: level, 'text-anchor': 'end' };
    parts.push(svg('text', { ...label, 'dominant-baseline': 'middle' }, `${pct} %`));
  }
  // Every 15 minutes where there is room, else every 30.
  const steps = plotWidth >= 420 ? 4 : 2;
  for (let step = 0; step <= steps; step += 1) {
    const at = start + (HOUR_MS * step) / steps;
    const anchor = step === 0 ? 'start' : step === steps ? 'end' : 'middle';
    const across = x(at);
    const below = top + plotHeight;
    parts.push(svg('line', { class: 'tick', x1: across, x2: across, y1: below, y2: below + 4 }));
    const label = { class: 'axis-label', x: across, y: height - 6, 'text-anchor': anchor };
    parts.push(svg('text', label, clock(at)));
  }
  const shown = samples.filter((sample) => sample.at >= start);
  if (shown.length) {
    const points = shown.map((sample) => `${x(sample.at).toFixed(1)},${y(sample.percent).toFixed(1)}`);
    const base = y(0).toFixed(1);
    const first = x(shown[0].at).toFixed(1);
    const lastX = x(shown[shown.length - 1].at).toFixed(1);
    const area = `${first},${base} ${points.join(' ')} ${lastX},${base}`;
    parts.push(svg('polygon', { class: 'cpu-area', points: area }));
    parts.push(svg('polyline', { class: 'cpu-line', points: points.join(' ') }));
    const newest = shown[shown.length - 1];
    parts.push(svg('circle', { class: 'cpu-now', cx: x(newest.at), cy: y(newest.percent), r: 3 }));
  } else {
    const middle = { class: 'axis-label', x: left + plotWidth / 2, y: top + plotHeight / 2 };
    parts.push(svg('text', { ...middle, 'text-anchor': 'middle' }, 'No samples yet'));
  }
  target.replaceChildren(...parts);
}

/**
 * The graph in words, for screen readers.
 * @param {{at: string, percent: number}[]} history
 * @returns {string}
 */
function describeHistory(history) {
  if (!history.length) return 'No samples yet.';
  const values = history.map((sample) => sample.percent);
  const low = Math.min(...values);
  const high = Math.max(...values);
  return `Between ${percent(low)} and ${percent(high)}, now ${percent(values[values.length - 1])}.`;
}

/**
 * @param {number} value
 * @returns {string} e.g. "12 %"
 */
function percent(value) {
  return `${Math.round(value)} %`;
}

/**
 * @param {number} kbps kilobits per second
 * @returns {string} e.g. "850 kbit/s" or "12.4 Mbit/s"
 */
function bandwidth(kbps) {
  return kbps >= 1000 ? `${(kbps / 1000).toFixed(1)} Mbit/s` : `${Math.round(kbps)} kbit/s`;
}

/**
 * @param {number} at ms since the epoch
 * @returns {string} hours and minutes in the user's locale
 */
function clock(at) {
  return new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/**
 * @param {string} text
 * @returns {string}
 */
function capitalized(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : '—';
}
