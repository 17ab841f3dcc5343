// Investigations: a name, some cameras and a time range, and the exports prepared from it (MKV,
// AVI or the native format) in the background, then downloaded. The screens:
// `#/investigations` (the list, and the form that makes one), `#/investigations/new?camera=…&
// start=…&end=…` (the same, the form open and filled in), `#/investigation/<id>` (one of them:
// edit, delete, prepare and download exports); and the marks that playback uses to start one.
//
// Every use needs investigations turned on and the Export permission. The client only hides the
// way in (the header link, the playback marks) from users without the permission: whatever else
// the server refuses, its reason is shown. Names are the user's text: they go into the page
// through h() as text, never as markup.

import {
  ApiError,
  createInvestigation,
  deleteExport,
  deleteInvestigation,
  downloadUrl,
  exportFormats,
  getInvestigation,
  isStatus,
  listExports,
  listInvestigations,
  prepareExport,
  updateInvestigation,
} from './api.js';
import { h } from './dom.js';
import { may } from './permissions.js';
import { clockText, dateTimeText, fromIso, fromLocalInput, toIso, toLocalInput } from './times.js';

/** @typedef {import('./api.js').Camera} Camera */
/** @typedef {import('./api.js').User} User */
/** @typedef {import('./views.js').View} View */
/** @typedef {import('./views.js').ViewContext} ViewContext */
/** @typedef {import('./api.js').Investigation} Investigation */
/** @typedef {import('./api.js').InvestigationPatch} InvestigationPatch */
/** @typedef {import('./api.js').NewInvestigation} NewInvestigation */
/** @typedef {import('./api.js').Export} Export */
/** @typedef {import('./api.js').ExportFormat} ExportFormat */
/** @typedef {import('./api.js').NewExport} NewExport */

/** The server's limits. */
const MAX_NAME = 100;
const MAX_SPAN_MS = 7 * 24 * 3600 * 1000;
const MIN_PASSWORD = 8;
const MAX_PASSWORD = 1024;
/** A new investigation, with no time given, covers this much (the last 5 minutes; from
 * playback, the 5 minutes around the moment watched). */
const DEFAULT_SPAN_MS = 5 * 60 * 1000;
/** How often the exports are fetched again while one is being prepared. */
const POLL_MS = 1000;

const FORMATS = /** @type {const} */ ([
  ['mkv', 'MKV', 'One Matroska file with a video track per camera: the recorded video, unchanged.'],
  ['avi', 'AVI', 'Re-encoded for older players. Several cameras give a ZIP of one AVI each.'],
  [
    'native',
    'Native',
    'A ZIP of the original recordings, signed by this server, with a script that checks them.',
  ],
]);
const STATE_TEXT = { queued: 'Waiting', running: 'Preparing', done: 'Ready', failed: 'Failed' };

// --- helpers ---------------------------------------------------------------------------------

/**
 * Whether this user may prepare video evidence: `GET /api/v1/auth/me` lists the permissions
 * (administrators have every one).
 * @param {User | null} user
 * @returns {boolean}
 */
export function mayExport(user) {
  return may(user, 'export');
}

/**
 * @param {string} id
 * @returns {string}
 */
export function investigationHref(id) {
  return `#/investigation/${encodeURIComponent(id)}`;
}

/**
 * The form of a new investigation, filled in.
 * @param {{cameraId?: string, start?: number, end?: number}} [fill]
 * @returns {string}
 */
export function newInvestigationHref({ cameraId, start, end } = {}) {
  const params = new URLSearchParams();
  if (cameraId) params.set('camera', cameraId);
  if (start !== undefined) params.set('start', toIso(start));
  if (end !== undefined) params.set('end', toIso(end));
  const query = params.toString();
  return `#/investigations/new${query ? `?${query}` : ''}`;
}

/**
 * A time range in words, e.g. "25 Nov 2026, 14:05:00 – 14:10:00".
 * @param {number} start
 * @param {number} end
 * @returns {string}
 */
function rangeText(start, end) {
  const sameDay = new Date(start).toDateString() === new Date(end).toDateString();
  return `${dateTimeText(start)} – ${sameDay ? clockText(end) : dateTimeText(end)}`;
}

/**
 * @param {number} bytes
 * @returns {string} e.g. "12.3 MB"
 */
function sizeText(bytes) {
  if (bytes < 1000) return `${bytes} bytes`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = value < 10 ? 1 : 0;
  return `${value.toLocaleString([], { maximumFractionDigits: digits })} ${units[unit]}`;
}

/**
 * @param {Investigation} investigation
 * @param {Map<string, string>} names camera names by id
 * @returns {string} e.g. "Gate, Car park"
 */
function cameraNames(investigation, names) {
  return investigation.camera_ids.map((id) => names.get(id) || 'Unknown camera').join(', ');
}

/**
 * @param {User | null} user
 * @param {Investigation} investigation
 * @returns {boolean} whether this user may edit and delete it (the server decides too)
 */
function mayChange(user, investigation) {
  return Boolean(user && (may(user, 'administration') || user.username === investigation.owner));
}

/**
 * Says why a call failed: a lost session goes to the login page, anything else is put in
 * `where` (a refusal such as "investigations are turned off on this server").
 * @param {unknown} error
 * @param {ViewContext} ctx
 * @param {HTMLElement} where
 */
function explain(error, ctx, where) {
  if (isStatus(error, 401)) ctx.sessionEnded();
  else where.textContent = error instanceof ApiError ? error.detail : String(error);
}

/**
 * @param {HTMLElement} input
 * @param {string} label
 * @returns {HTMLElement}
 */
function field(input, label) {
  return h('div', { class: 'field' }, h('label', { for: input.id }, label), input);
}

// --- the form --------------------------------------------------------------------------------

/**
 * @typedef {object} InvestigationFormOptions
 * @property {Camera[]} cameras the cameras this user may view
 * @property {Investigation | null} investigation the one to edit (null: a new one)
 * @property {{cameraIds: string[], start: number, end: number}} fill what the fields hold
 * @property {(fields: NewInvestigation) => Promise<void>} save rejects with an ApiError to keep
 *   the form open and show it
 * @property {() => void} cancel
 */

/**
 * A name, the cameras (ticked) and a time range (local time, to the second):
 * `form#investigation-form`.
 * @param {InvestigationFormOptions} options
 * @returns {{element: HTMLElement, focus: () => void}}
 */
function investigationForm({ cameras, investigation, fill, save, cancel }) {
  const name = /** @type {HTMLInputElement} */ (
    h('input', {
      id: 'investigation-name',
      name: 'name',
      type: 'text',
      required: true,
      maxlength: MAX_NAME,
      autocomplete: 'off',
    })
  );
  name.value = investigation ? investigation.name : '';
  const chosen = new Set(fill.cameraIds);
  const boxes = cameras.map((camera) => {
    const box = /** @type {HTMLInputElement} */ (
      h('input', { type: 'checkbox', name: 'camera', value: camera.id })
    );
    box.checked = chosen.has(camera.id);
    return { camera, box };
  });
  const cameraList = boxes.length
    ? h(
        'ul',
        { class: 'checks', role: 'list' },
        ...boxes.map(({ camera, box }) =>
          h('li', {}, h('label', { class: 'check' }, box, camera.name)),
        ),
      )
    : h('p', { class: 'empty' }, 'There are no cameras you may view.');
  const from = /** @type {HTMLInputElement} */ (
    h('input', {
      id: 'investigation-start',
      name: 'start',
      type: 'datetime-local',
      step: 1,
      required: true,
    })
  );
  const to = /** @type {HTMLInputElement} */ (
    h('input', {
      id: 'investigation-end',
      name: 'end',
      type: 'datetime-local',
      step: 1,
      required: true,
    })
  );
  // To the second, outward: the range shown holds the whole of what was asked for.
  from.value = toLocalInput(Math.floor(fill.start / 1000) * 1000);
  to.value = toLocalInput(Math.ceil(fill.end / 1000) * 1000);
  const problem = h('p', { class: 'form-error', role: 'alert' });
  const submit = /** @type {HTMLButtonElement} */ (
    h(
      'button',
      { type: 'submit', class: 'button primary' },
      investigation ? 'Save' : 'Create investigation',
    )
  );
  const cancelButton = h('button', { type: 'button', class: 'button' }, 'Cancel');
  const form = h(
    'form',
    {
      id: 'investigation-form',
      class: 'card investigation-form',
      'aria-labelledby': 'investigation-form-title',
    },
    h(
      'h2',
      { id: 'investigation-form-title' },
      investigation ? 'Edit investigation' : 'New investigation',
    ),
    field(name, 'Name'),
    h('fieldset', {}, h('legend', {}, 'Cameras'), cameraList),
    h('div', { class: 'investigation-times' }, field(from, 'From'), field(to, 'To')),
    problem,
    h('div', { class: 'form-actions' }, submit, cancelButton),
  );
  cancelButton.addEventListener('click', cancel);
  form.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') cancel();
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    problem.textContent = '';
    const begin = fromLocalInput(from.value);
    const finish = fromLocalInput(to.value);
    const ticked = boxes.filter(({ box }) => box.checked).map(({ camera }) => camera.id);
    // Cameras that stay keep their place (an MKV's tracks follow it); new ones go last.
    const kept = investigation ? investigation.camera_ids.filter((id) => ticked.includes(id)) : [];
    const cameraIds = [...kept, ...ticked.filter((id) => !kept.includes(id))];
    if (!name.value.trim()) problem.textContent = 'Give the investigation a name.';
    else if (!cameraIds.length) problem.textContent = 'Choose at least one camera.';
    else if (begin === null || finish === null)
      problem.textContent = 'Give a start and an end time.';
    else if (finish <= begin) problem.textContent = 'The end must be after the start.';
    else if (finish - begin > MAX_SPAN_MS)
      problem.textContent = 'An investigation covers 7 days at most.';
    if (problem.textContent || begin === null || finish === null) return;
    submit.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      await save({
        name: name.value.trim(),
        camera_ids: cameraIds,
        start: toIso(begin),
        end: toIso(finish),
      });
    } catch (error) {
      problem.textContent = error instanceof ApiError ? error.detail : String(error);
    } finally {
      submit.disabled = false;
      form.removeAttribute('aria-busy');
    }
  });
  return { element: form, focus: () => name.focus() };
}

/**
 * What a new investigation's form holds, from the address
 * (`#/investigations/new?camera=<id>&start=<ISO>&end=<ISO>`, `camera` repeated for several).
 * Without times it covers the last 5 minutes; with one only, 5 minutes from it.
 * @param {URLSearchParams} params
 * @param {Camera[]} cameras
 * @returns {{cameraIds: string[], start: number, end: number}}
 */
function fillFrom(params, cameras) {
  const known = new Set(cameras.map((camera) => camera.id));
  let cameraIds = params.getAll('camera').filter((id) => known.has(id));
  if (!cameraIds.length && cameras.length === 1) cameraIds = [cameras[0].id];
  const read = (/** @type {string} */ name) => {
    const value = params.get(name);
    const ms = value ? fromIso(value) : NaN;
    return Number.isNaN(ms) ? null : ms;
  };
  let start = read('start');
  let end = read('end');
  if (start === null && end === null) end = Date.now();
  if (start === null) start = /** @type {number} */ (end) - DEFAULT_SPAN_MS;
  if (end === null) end = start + DEFAULT_SPAN_MS;
  return { cameraIds, start, end };
}

// --- the list --------------------------------------------------------------------------------

/**
 * The investigations page: the list, the latest first, and "New investigation".
 * @param {Camera[]} cameras the cameras this user may view
 * @param {ViewContext} ctx
 * @param {{creating: boolean, params: URLSearchParams}} options `creating`: the address asks
 *   for the form (`#/investigations/new?…`), filled in from `params`
 * @returns {View}
 */
export function investigationsView(cameras, ctx, { creating, params }) {
  const heading = h('h1', { id: 'investigations-title', tabindex: '-1' }, 'Investigations');
  const newButton = h(
    'button',
    { type: 'button', id: 'investigation-new', class: 'button primary', hidden: true },
    'New investigation',
  );
  const formSlot = h('div', { class: 'form-slot' });
  const count = h('p', { id: 'investigation-count', class: 'hint', role: 'status' }, 'Loading…');
  const list = h('ul', { id: 'investigation-list', class: 'investigation-list', role: 'list' });
  const element = h(
    'section',
    {
      id: 'investigations-view',
      class: 'view view-investigations',
      'aria-labelledby': 'investigations-title',
    },
    h(
      'div',
      { class: 'camera-head' },
      h(
        'a',
        { id: 'investigations-back', class: 'button', href: '#/' },
        h('span', { 'aria-hidden': 'true' }, '←'),
        'Cameras',
      ),
      heading,
    ),
    h('div', { class: 'investigation-tools' }, newButton),
    formSlot,
    count,
    list,
  );
  const names = new Map(cameras.map((c) => [c.id, c.name]));
  let disposed = false;

  /** @param {URLSearchParams} fillParams */
  function openForm(fillParams) {
    const close = () => {
      formSlot.replaceChildren();
      // The address no longer asks for the form (no new history entry, no hashchange).
      if (/^#\/investigations\/new/.test(location.hash)) {
        history.replaceState(null, '', '#/investigations');
      }
      newButton.focus();
    };
    const form = investigationForm({
      cameras,
      investigation: null,
      fill: fillFrom(fillParams, cameras),
      save: async (fields) => {
        const created = await createInvestigation(fields);
        // "Back" from the new investigation returns to the list (which holds it), not to
        // the form.
        history.replaceState(null, '', '#/investigations');
        ctx.go(investigationHref(created.id));
      },
      cancel: close,
    });
    formSlot.replaceChildren(form.element);
    form.focus();
  }

  async function load() {
    list.setAttribute('aria-busy', 'true');
    try {
      const found = await listInvestigations();
      if (disposed) return;
      list.replaceChildren(...found.map((investigation) => item(investigation)));
      count.textContent = found.length
        ? `${found.length} investigation${found.length === 1 ? '' : 's'}.`
        : 'No investigations yet.';
      newButton.hidden = false;
      if (creating) openForm(params);
    } catch (error) {
      // "investigations are turned off on this server", no Export permission, no connection.
      if (!disposed) explain(error, ctx, count);
    } finally {
      list.removeAttribute('aria-busy');
    }
  }

  /**
   * @param {Investigation} investigation
   * @returns {HTMLElement}
   */
  function item(investigation) {
    const start = fromIso(investigation.start);
    const end = fromIso(investigation.end);
    return h(
      'li',
      { class: 'investigation', 'data-investigation-id': investigation.id },
      h(
        'div',
        { class: 'investigation-body' },
        h('h2', { class: 'investigation-name' }, investigation.name),
        h(
          'p',
          { class: 'investigation-meta' },
          h('span', { class: 'investigation-cameras' }, cameraNames(investigation, names)),
          ' · ',
          h('time', { datetime: investigation.start }, rangeText(start, end)),
          ' · ',
          h('span', {}, `by ${investigation.owner}`),
        ),
      ),
      h(
        'div',
        { class: 'item-actions' },
        h(
          'a',
          {
            class: 'button primary investigation-open',
            href: investigationHref(investigation.id),
            'aria-label': `Open ${investigation.name}`,
          },
          'Open',
        ),
      ),
    );
  }

  newButton.addEventListener('click', () => openForm(new URLSearchParams()));
  load();
  return {
    element,
    focusTarget: heading,
    pause: () => {},
    resume: () => {},
    dispose: () => {
      disposed = true;
    },
  };
}

// --- one investigation -----------------------------------------------------------------------

/**
 * One investigation: what it covers, "Edit" and "Delete" (its owner and administrators),
 * "Prepare export", and its exports with their progress (fetched again every second while one
 * is being prepared, and only while the page is shown).
 * @param {string} id
 * @param {Camera[]} cameras the cameras this user may view
 * @param {ViewContext} ctx
 * @returns {View}
 */
export function investigationView(id, cameras, ctx) {
  const heading = h('h1', { id: 'investigation-title', tabindex: '-1' }, 'Investigation');
  const names = new Map(cameras.map((c) => [c.id, c.name]));
  const problem = h(
    'p',
    { id: 'investigation-problem', class: 'hint', role: 'status' },
    'Loading…',
  );

  const facts = {
    cameras: h('dd', { id: 'investigation-cameras' }),
    range: h('dd', { id: 'investigation-range' }),
    owner: h('dd', { id: 'investigation-owner' }),
  };
  const editButton = h(
    'button',
    { type: 'button', id: 'investigation-edit', class: 'button', hidden: true },
    'Edit',
  );
  const deleteButton = /** @type {HTMLButtonElement} */ (
    h(
      'button',
      { type: 'button', id: 'investigation-delete', class: 'button danger', hidden: true },
      'Delete',
    )
  );
  const details = h(
    'div',
    { class: 'investigation-details' },
    h(
      'dl',
      { class: 'facts' },
      h('div', {}, h('dt', {}, 'Cameras'), facts.cameras),
      h('div', {}, h('dt', {}, 'Time'), facts.range),
      h('div', {}, h('dt', {}, 'Made by'), facts.owner),
    ),
    h('div', { class: 'item-actions' }, editButton, deleteButton),
  );
  const detailsCard = h('div', { class: 'card investigation-card', hidden: true }, details);

  const exporter = exportForm((body) => prepare(body));
  const exportCount = h('p', { id: 'export-count', class: 'hint', role: 'status' });
  const exportList = h('ul', { id: 'export-list', class: 'export-list', role: 'list' });
  const exportsSection = h(
    'section',
    { class: 'exports', 'aria-labelledby': 'exports-title', hidden: true },
    h('h2', { id: 'exports-title' }, 'Exports'),
    exporter.element,
    exportCount,
    exportList,
  );
  const element = h(
    'section',
    {
      id: 'investigation-view',
      class: 'view view-investigation',
      'aria-labelledby': 'investigation-title',
    },
    h(
      'div',
      { class: 'camera-head' },
      h(
        'a',
        { id: 'investigation-back', class: 'button', href: '#/investigations' },
        h('span', { 'aria-hidden': 'true' }, '←'),
        'Investigations',
      ),
      heading,
    ),
    problem,
    detailsCard,
    exportsSection,
  );

  /** @type {Investigation | null} */
  let investigation = null;
  /** @type {Export[]} the oldest first, as the server lists them */
  let exports = [];
  /** @type {Map<string, {element: HTMLElement, update: (e: Export) => void}>} by export id */
  const items = new Map();
  let disposed = false;
  let paused = false;
  let pollSerial = 0;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let pollTimer;

  /**
   * Who prepared it, the investigation's owner and administrators may delete an export.
   * @param {Export} each
   * @returns {boolean}
   */
  function mayDelete(each) {
    const user = ctx.user();
    if (!user || !investigation) return false;
    return user.username === each.requested_by || mayChange(user, investigation);
  }

  function renderDetails() {
    if (!investigation) return;
    heading.textContent = investigation.name;
    facts.cameras.textContent = cameraNames(investigation, names);
    const start = fromIso(investigation.start);
    const end = fromIso(investigation.end);
    facts.range.replaceChildren(
      h('time', { datetime: investigation.start }, rangeText(start, end)),
    );
    facts.owner.textContent = investigation.owner;
    const editable = mayChange(ctx.user(), investigation);
    editButton.hidden = !editable;
    deleteButton.hidden = !editable;
  }

  /** @param {Export[]} answer the server's, the oldest first */
  function setExports(answer) {
    exports = answer;
    const wanted = new Set(exports.map((e) => e.id));
    for (const [exportId, entry] of items) {
      if (wanted.has(exportId)) continue;
      entry.element.remove();
      items.delete(exportId);
    }
    // The latest first, like every list here. Updated in place: a focused button, or a
    // download link under the pointer, stays where it is.
    [...exports].reverse().forEach((each, index) => {
      let entry = items.get(each.id);
      if (entry) entry.update(each);
      else {
        entry = exportItem(each, { onDelete: () => removeExport(each), mayDelete });
        items.set(each.id, entry);
      }
      const here = exportList.children[index] || null;
      if (here !== entry.element) exportList.insertBefore(entry.element, here);
    });
    exportCount.textContent = exports.length ? '' : 'No exports yet.';
    schedulePoll();
  }

  function schedulePoll() {
    clearTimeout(pollTimer);
    const unfinished = exports.some((e) => e.state === 'queued' || e.state === 'running');
    if (unfinished && !paused && !disposed) pollTimer = setTimeout(poll, POLL_MS);
  }

  async function poll() {
    clearTimeout(pollTimer);
    const serial = ++pollSerial;
    try {
      const answer = await listExports(id);
      if (disposed || paused || serial !== pollSerial) return;
      setExports(answer);
    } catch (error) {
      if (disposed || serial !== pollSerial) return;
      if (isStatus(error, 401)) {
        ctx.sessionEnded();
        return;
      }
      exportCount.textContent = error instanceof ApiError ? error.detail : String(error);
      // The investigation is gone, or the server refuses now: asking again will not help.
      if (!isStatus(error, 403) && !isStatus(error, 404) && !paused) {
        pollTimer = setTimeout(poll, POLL_MS);
      }
    }
  }

  async function load() {
    try {
      const [found, answer, offered] = await Promise.all([
        getInvestigation(id),
        listExports(id),
        exportFormats(),
      ]);
      if (disposed) return;
      investigation = found;
      exporter.offer(offered);
      problem.hidden = true;
      detailsCard.hidden = false;
      exportsSection.hidden = false;
      renderDetails();
      setExports(answer);
    } catch (error) {
      if (disposed) return;
      if (isStatus(error, 404)) heading.textContent = 'Investigation not found';
      explain(error, ctx, problem);
    }
  }

  /**
   * @param {NewExport} body
   * @returns {Promise<void>}
   */
  async function prepare(body) {
    const started = await prepareExport(id, body);
    if (disposed) return;
    pollSerial += 1; // an answer on its way predates this export
    setExports([...exports.filter((e) => e.id !== started.id), started]);
  }

  /** @param {Export} gone */
  async function removeExport(gone) {
    const entry = items.get(gone.id);
    const label = FORMATS.find(([value]) => value === gone.format)?.[1] || gone.format;
    if (!confirm(`Delete this ${label} export?`)) return;
    ctx.clearError();
    try {
      await deleteExport(gone.id);
    } catch (error) {
      if (isStatus(error, 401)) ctx.sessionEnded();
      else ctx.showError(error instanceof ApiError ? error.detail : String(error));
      return;
    }
    if (disposed) return;
    const hadFocus = entry?.element.contains(document.activeElement);
    setExports(exports.filter((e) => e.id !== gone.id));
    if (hadFocus) exporter.focus();
  }

  editButton.addEventListener('click', () => {
    const current = investigation;
    if (!current) return;
    const form = investigationForm({
      cameras,
      investigation: current,
      fill: {
        cameraIds: current.camera_ids,
        start: fromIso(current.start),
        end: fromIso(current.end),
      },
      save: async (fields) => {
        const saved = await updateInvestigation(current.id, changes(current, fields));
        investigation = saved;
        renderDetails();
        detailsCard.replaceChildren(details);
        editButton.focus();
      },
      cancel: () => {
        detailsCard.replaceChildren(details);
        editButton.focus();
      },
    });
    detailsCard.replaceChildren(form.element);
    form.focus();
  });
  deleteButton.addEventListener('click', async () => {
    const current = investigation;
    if (!current || !confirm(`Delete the investigation "${current.name}" and its exports?`)) {
      return;
    }
    ctx.clearError();
    deleteButton.disabled = true;
    try {
      await deleteInvestigation(current.id);
    } catch (error) {
      deleteButton.disabled = false;
      if (isStatus(error, 401)) ctx.sessionEnded();
      else ctx.showError(error instanceof ApiError ? error.detail : String(error));
      return;
    }
    ctx.go('#/investigations');
  });

  load();
  return {
    element,
    focusTarget: heading,
    pause: () => {
      paused = true;
      pollSerial += 1;
      clearTimeout(pollTimer);
    },
    resume: () => {
      paused = false;
      if (investigation) poll();
    },
    dispose: () => {
      disposed = true;
      clearTimeout(pollTimer);
    },
  };
}

/**
 * What an edit changed. A time left as the form showed it (to the second) keeps its
 * milliseconds; changed cameras are sent whole.
 * @param {Investigation} before
 * @param {NewInvestigation} after
 * @returns {InvestigationPatch}
 */
function changes(before, after) {
  /** @type {InvestigationPatch} */
  const patch = {};
  if (after.name !== before.name) patch.name = after.name;
  if (after.camera_ids.join() !== before.camera_ids.join()) patch.camera_ids = after.camera_ids;
  const shown = (/** @type {string} */ iso, /** @type {(x: number) => number} */ round) =>
    toIso(round(fromIso(iso) / 1000) * 1000);
  if (after.start !== shown(before.start, Math.floor)) patch.start = after.start;
  if (after.end !== shown(before.end, Math.ceil)) patch.end = after.end;
  return patch;
}

/**
 * "Prepare export": a format, "Include audio" and, for the native format, an optional password
 * typed twice (`form#export-form`).
 * @param {(body: NewExport) => Promise<void>} prepare rejects with an ApiError to show it
 * @returns {{element: HTMLElement, focus: () => void, offer: (formats: ExportFormat[]) => void}}
 */
function exportForm(prepare) {
  const format = /** @type {HTMLSelectElement} */ (
    h(
      'select',
      { id: 'export-format', name: 'format', 'aria-describedby': 'export-format-hint' },
      ...FORMATS.map(([value, label]) => h('option', { value }, label)),
    )
  );
  const hint = h('p', { id: 'export-format-hint', class: 'hint' });
  const audio = /** @type {HTMLInputElement} */ (
    h('input', { id: 'export-audio', type: 'checkbox', name: 'include_audio' })
  );
  const password = /** @type {HTMLInputElement} */ (
    h('input', {
      id: 'export-password',
      name: 'password',
      type: 'password',
      autocomplete: 'new-password',
      minlength: MIN_PASSWORD,
      maxlength: MAX_PASSWORD,
      'aria-describedby': 'export-password-hint',
    })
  );
  const again = /** @type {HTMLInputElement} */ (
    h('input', {
      id: 'export-password-again',
      name: 'password_again',
      type: 'password',
      autocomplete: 'new-password',
      maxlength: MAX_PASSWORD,
    })
  );
  const protection = h(
    'fieldset',
    { class: 'export-protection', hidden: true },
    h('legend', {}, 'Password (optional)'),
    h(
      'p',
      { id: 'export-password-hint', class: 'hint' },
      `Encrypts the recordings in the download: only who has the password can watch them. ` +
        `${MIN_PASSWORD} characters at least. It cannot be recovered.`,
    ),
    h(
      'div',
      { class: 'investigation-times' },
      field(password, 'Password'),
      field(again, 'Password again'),
    ),
  );
  const problem = h('p', { id: 'export-error', class: 'form-error', role: 'alert' });
  const submit = /** @type {HTMLButtonElement} */ (
    h('button', { type: 'submit', id: 'export-prepare', class: 'button primary' }, 'Prepare export')
  );
  const form = h(
    'form',
    { id: 'export-form', class: 'card export-form', 'aria-label': 'Prepare export' },
    h(
      'div',
      { class: 'export-options' },
      field(format, 'Format'),
      h('label', { class: 'check', for: 'export-audio' }, audio, 'Include audio'),
    ),
    hint,
    protection,
    problem,
    h('div', { class: 'form-actions' }, submit),
  );

  function showFormat() {
    hint.textContent = FORMATS.find(([value]) => value === format.value)?.[2] || '';
    protection.hidden = format.value !== 'native';
  }

  format.addEventListener('change', showFormat);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    problem.textContent = '';
    const native = format.value === 'native';
    if (native && (password.value || again.value)) {
      if (password.value.length < MIN_PASSWORD)
        problem.textContent = `The password needs ${MIN_PASSWORD} characters at least.`;
      else if (password.value !== again.value) problem.textContent = 'The two passwords differ.';
    }
    if (problem.textContent) return;
    submit.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      await prepare({
        format: /** @type {ExportFormat} */ (format.value),
        include_audio: audio.checked,
        password: native && password.value ? password.value : null,
      });
      password.value = '';
      again.value = '';
    } catch (error) {
      // A format not enabled (403), no data protection password or no room (409), nothing
      // recorded (404), too many waiting (503): the server's words.
      problem.textContent = error instanceof ApiError ? error.detail : String(error);
    } finally {
      submit.disabled = false;
      form.removeAttribute('aria-busy');
    }
  });
  /**
   * Offers the formats the administrator enabled; the others stay listed, disabled, so that
   * users learn they exist.
   * @param {ExportFormat[]} enabled
   */
  function offer(enabled) {
    for (const option of format.options) {
      const on = enabled.includes(/** @type {ExportFormat} */ (option.value));
      option.disabled = !on;
      const label = FORMATS.find(([value]) => value === option.value)?.[1] || option.value;
      option.textContent = on ? label : `${label} (not enabled)`;
    }
    if (format.selectedOptions[0]?.disabled) format.value = enabled[0] || '';
    submit.disabled = enabled.length === 0;
    problem.textContent = enabled.length
      ? ''
      : 'The administrator has not enabled any export format on this server.';
    showFormat();
  }

  showFormat();
  return { element: form, focus: () => format.focus(), offer };
}

/**
 * One export: its format, state and progress, then its size and "Download", or why it failed
 * (`li.export[data-export-id][data-state]`). update() changes it in place.
 * @param {Export} first
 * @param {object} options
 * @param {() => void} options.onDelete
 * @param {(each: Export) => boolean} options.mayDelete whether to offer "Delete"
 * @returns {{element: HTMLElement, update: (e: Export) => void}}
 */
function exportItem(first, { onDelete, mayDelete }) {
  const title = h('h3', { class: 'export-title' });
  const state = h('span', { class: 'export-state' });
  const meta = h('p', { class: 'investigation-meta export-meta' });
  const progress = /** @type {HTMLProgressElement} */ (
    h('progress', { class: 'export-progress', max: 100 })
  );
  const size = h('span', { class: 'export-size' });
  const failure = h('p', { class: 'export-error' });
  const download = /** @type {HTMLAnchorElement} */ (
    h('a', { class: 'button primary export-download', download: '' }, 'Download')
  );
  const remove = h('button', { type: 'button', class: 'button danger export-delete' }, 'Delete');
  const element = h(
    'li',
    { class: 'export' },
    h(
      'div',
      { class: 'export-body' },
      h('div', { class: 'export-line' }, title, state, size),
      progress,
      failure,
      meta,
    ),
    h('div', { class: 'item-actions' }, download, remove),
  );
  remove.addEventListener('click', onDelete);

  /** @param {Export} current */
  function update(current) {
    const label = FORMATS.find(([value]) => value === current.format)?.[1] || current.format;
    const unfinished = current.state === 'queued' || current.state === 'running';
    element.dataset.exportId = current.id;
    element.dataset.state = current.state;
    title.textContent = label;
    state.textContent = unfinished
      ? `${STATE_TEXT[current.state]} ${current.progress} %`
      : STATE_TEXT[current.state] || current.state;
    progress.hidden = !unfinished;
    progress.value = current.progress;
    progress.textContent = `${current.progress} %`;
    progress.setAttribute('aria-label', `Preparing the ${label} export`);
    size.textContent = current.state === 'done' ? sizeText(current.size) : '';
    failure.textContent = current.state === 'failed' ? current.error : '';
    failure.hidden = !failure.textContent;
    const extras = [`by ${current.requested_by}`, dateTimeText(fromIso(current.created))];
    if (current.password_protected) extras.push('password protected');
    if (current.include_audio) extras.push('with audio');
    meta.textContent = extras.join(' · ');
    const done = current.state === 'done';
    download.hidden = !done;
    if (done) {
      download.href = downloadUrl(current);
      download.download = current.file_name;
      const what = `${current.file_name} (${sizeText(current.size)})`;
      download.setAttribute('aria-label', `Download ${what}`);
    } else download.removeAttribute('href');
    remove.hidden = !mayDelete(current);
    remove.setAttribute('aria-label', `Delete the ${label} export`);
  }

  update(first);
  return { element, update };
}

// --- from playback ---------------------------------------------------------------------------

/**
 * "Mark start", "Mark end" and "New investigation", for the playback screen: the link opens the
 * form of a new investigation of the camera over the marked range. A bound not marked is the
 * moment watched (when it lies on the right side of the other), else 5 minutes from the other;
 * with nothing marked, the 5 minutes around the moment watched.
 * @param {object} options
 * @param {string} options.cameraId
 * @param {() => number} options.now the moment being watched (ms)
 * @returns {{element: HTMLElement}}
 */
export function investigationMarks({ cameraId, now }) {
  const markStart = h(
    'button',
    { type: 'button', id: 'playback-mark-start', class: 'button' },
    'Mark start',
  );
  const markEnd = h(
    'button',
    { type: 'button', id: 'playback-mark-end', class: 'button' },
    'Mark end',
  );
  const link = /** @type {HTMLAnchorElement} */ (
    h('a', { id: 'playback-investigation', class: 'button' }, 'New investigation')
  );
  const marked = h('span', { id: 'playback-marks', class: 'marks', role: 'status' });
  const element = h(
    'div',
    { class: 'playback-marks', role: 'group', 'aria-label': 'Investigation' },
    markStart,
    markEnd,
    link,
    marked,
  );
  /** @type {{start: number | null, end: number | null}} */
  const marks = { start: null, end: null };

  /** @returns {{start: number, end: number}} */
  function range() {
    const at = now();
    let { start, end } = marks;
    if (start === null && end === null) {
      start = at - DEFAULT_SPAN_MS / 2;
      end = at + DEFAULT_SPAN_MS / 2;
    } else if (start === null) {
      const bound = /** @type {number} */ (end);
      start = at < bound - 1000 ? at : bound - DEFAULT_SPAN_MS;
    } else if (end === null) {
      end = at > start + 1000 ? at : start + DEFAULT_SPAN_MS;
    }
    return start <= end ? { start, end } : { start: end, end: start };
  }

  function refresh() {
    link.href = newInvestigationHref({ cameraId, ...range() });
    const { start, end } = marks;
    if (start !== null && end !== null) {
      const [first, last] = start <= end ? [start, end] : [end, start];
      marked.textContent = `${clockText(first)} – ${clockText(last)}`;
    } else if (start !== null) marked.textContent = `Start ${clockText(start)}`;
    else if (end !== null) marked.textContent = `End ${clockText(end)}`;
    else marked.textContent = '';
  }

  markStart.addEventListener('click', () => {
    marks.start = now();
    refresh();
  });
  markEnd.addEventListener('click', () => {
    marks.end = now();
    refresh();
  });
  // The moment watched moves on: the address is made when the link is about to be followed
  // (any button, a tap, or Enter), and when it gets the focus (for "copy link").
  for (const type of ['pointerdown', 'focus', 'click']) link.addEventListener(type, refresh);
  refresh();
  return { element };
}
