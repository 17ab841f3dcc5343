// Bookmarks: the form that adds or edits one (used while watching live or playback, and in the
// list), and the `#/bookmarks` page that searches them and goes to one.
//
// Every text of a bookmark (headline, description, user name) is the user's: it goes into the
// page through h() as text, never as markup.
//
// Each use needs its permission of the user's role: bookmarks_view (the list, the marks on the
// timeline), bookmarks_create ("Add bookmark"), bookmarks_edit ("Edit" and "Delete", of one's
// own bookmarks; an administrator's, of all). What the role may not do is not shown.

import * as api from './api.js';
import { h } from './dom.js';
import { may } from './permissions.js';
import { clockText, dateTimeText, fromIso, fromLocalInput, toIso, toLocalInput } from './times.js';

/** @typedef {import('./api.js').Bookmark} Bookmark */
/** @typedef {import('./api.js').Camera} Camera */
/** @typedef {import('./api.js').BookmarkQuery} BookmarkQuery */
/** @typedef {import('./views.js').View} View */
/** @typedef {import('./views.js').ViewContext} ViewContext */

/** The server's limits. */
const MAX_HEADLINE = 100;
const MAX_DESCRIPTION = 2000;
const MAX_SPAN_MS = 24 * 3600 * 1000;
/** A new bookmark spans this much before and after the moment watched. */
const AROUND_MS = 10_000;
/** The server's default number of answers; a full page says there may be more. */
const PAGE = 100;

let formSerial = 0;

/**
 * @param {string} cameraId
 * @param {number} time ms
 * @returns {string} the playback route at that moment
 */
export function playbackHref(cameraId, time) {
  return `#/camera/${encodeURIComponent(cameraId)}/playback?t=${encodeURIComponent(toIso(time))}`;
}

/**
 * A bookmark's time range in words, e.g. "25 Nov 2026, 14:05:00 – 14:05:20".
 * @param {number} start
 * @param {number} end
 * @returns {string}
 */
function rangeText(start, end) {
  if (end === start) return dateTimeText(start);
  const sameDay = new Date(start).toDateString() === new Date(end).toDateString();
  return `${dateTimeText(start)} – ${sameDay ? clockText(end) : dateTimeText(end)}`;
}

/**
 * @typedef {object} BookmarkFormOptions
 * @property {string} title the form's heading
 * @property {number} start ms
 * @property {number} end ms
 * @property {Bookmark | null} [bookmark] the one to edit (null: a new one)
 * @property {(fields: {start: string, end: string, headline: string, description: string})
 *   => Promise<void>} save rejects with an ApiError to keep the form open and show it
 * @property {() => void} cancel
 */

/**
 * A headline, a description and a time range (local time, to the second).
 * @param {BookmarkFormOptions} options
 * @returns {{element: HTMLElement, focus: () => void}}
 */
export function bookmarkForm({ title, start, end, bookmark = null, save, cancel }) {
  const id = `bookmark-form-${(formSerial += 1)}`;
  const headline = /** @type {HTMLInputElement} */ (
    h('input', {
      id: `${id}-headline`,
      name: 'headline',
      type: 'text',
      required: true,
      maxlength: MAX_HEADLINE,
      autocomplete: 'off',
    })
  );
  const description = /** @type {HTMLTextAreaElement} */ (
    h('textarea', {
      id: `${id}-description`,
      name: 'description',
      rows: 3,
      maxlength: MAX_DESCRIPTION,
    })
  );
  const from = /** @type {HTMLInputElement} */ (
    h('input', {
      id: `${id}-start`,
      name: 'start',
      type: 'datetime-local',
      step: 1,
      required: true,
    })
  );
  const to = /** @type {HTMLInputElement} */ (
    h('input', { id: `${id}-end`, name: 'end', type: 'datetime-local', step: 1, required: true })
  );
  headline.value = bookmark ? bookmark.headline : '';
  description.value = bookmark ? bookmark.description : '';
  from.value = toLocalInput(start);
  to.value = toLocalInput(end);
  const problem = h('p', { class: 'form-error', role: 'alert' });
  const submit = /** @type {HTMLButtonElement} */ (
    h('button', { type: 'submit', class: 'button primary' }, 'Save bookmark')
  );
  const cancelButton = h('button', { type: 'button', class: 'button' }, 'Cancel');
  const field = (/** @type {HTMLElement} */ input, /** @type {string} */ label) =>
    h('div', { class: 'field' }, h('label', { for: input.id }, label), input);
  const form = h(
    'form',
    { class: 'card bookmark-form', 'aria-labelledby': `${id}-title` },
    h('h2', { id: `${id}-title` }, title),
    field(headline, 'Headline'),
    field(description, 'Description'),
    h('div', { class: 'bookmark-times' }, field(from, 'From'), field(to, 'To')),
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
    if (!headline.value.trim()) problem.textContent = 'Give the bookmark a headline.';
    else if (begin === null || finish === null)
      problem.textContent = 'Give a start and an end time.';
    else if (finish < begin) problem.textContent = 'The end must not be before the start.';
    else if (finish - begin > MAX_SPAN_MS)
      problem.textContent = 'A bookmark spans 24 hours at most.';
    if (problem.textContent || begin === null || finish === null) return;
    submit.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      await save({
        start: toIso(begin),
        end: toIso(finish),
        headline: headline.value.trim(),
        description: description.value,
      });
    } catch (error) {
      problem.textContent = error instanceof api.ApiError ? error.detail : String(error);
    } finally {
      submit.disabled = false;
      form.removeAttribute('aria-busy');
    }
  });
  return { element: form, focus: () => headline.focus() };
}

/**
 * Shows elements that are hidden to begin with once the server says that bookmarks are on (an
 * administrator can turn them off). Until then, or when it cannot say, they stay hidden. Only
 * the list says so, to those who may see it: a role that may add bookmarks but not see them
 * gets its elements at once (the server says why it refuses, when bookmarks are off).
 * @param {HTMLElement[]} elements only those the user's role may use
 * @param {ViewContext} ctx
 */
export function showIfBookmarksOn(elements, ctx) {
  if (!elements.length) return;
  if (!may(ctx.user(), 'bookmarks_view')) {
    elements.forEach((element) => (element.hidden = false));
    return;
  }
  api.bookmarksEnabled().then(
    (on) => elements.forEach((element) => (element.hidden = !on)),
    (error) => {
      if (api.isStatus(error, 401)) ctx.sessionEnded();
    },
  );
}

/**
 * The "Add bookmark" button (hidden: see showIfBookmarksOn) and its form, for a screen that
 * shows a camera.
 * @param {object} options
 * @param {string} options.id the button's id
 * @param {string} options.cameraId
 * @param {HTMLElement} options.slot where the form goes
 * @param {() => number} options.now the moment being watched (ms)
 * @param {(bookmark: Bookmark) => void} [options.onSaved]
 * @returns {{button: HTMLButtonElement, note: HTMLElement}}
 */
export function addBookmarkButton({ id, cameraId, slot, now, onSaved }) {
  const button = /** @type {HTMLButtonElement} */ (
    h('button', { type: 'button', id, class: 'button', hidden: true }, 'Add bookmark')
  );
  const note = h('span', { class: 'saved', role: 'status' });
  /** @type {HTMLElement | null} */
  let open = null;
  const close = () => {
    open?.remove();
    open = null;
  };
  button.addEventListener('click', () => {
    close();
    note.textContent = '';
    // Around the moment watched, so that a moment seen just before the tap is inside it.
    const at = now();
    const form = bookmarkForm({
      title: 'Add bookmark',
      start: at - AROUND_MS,
      end: at + AROUND_MS,
      save: async (fields) => {
        const saved = await api.createBookmark({ camera_id: cameraId, ...fields });
        close();
        note.textContent = 'Bookmark saved';
        button.focus();
        onSaved?.(saved);
      },
      cancel: () => {
        close();
        button.focus();
      },
    });
    open = form.element;
    slot.replaceChildren(form.element);
    form.focus();
  });
  return { button, note };
}

/**
 * The search as it stands in the address
 * (`#/bookmarks?q=…&camera_id=…&start=…&end=…&mine=true`), so that "back" from a bookmark's
 * playback returns to the same list.
 * @param {URLSearchParams} params
 * @returns {BookmarkQuery}
 */
function queryFrom(params) {
  /** @type {BookmarkQuery} */
  const query = {};
  for (const name of ['q', 'camera_id', 'start', 'end']) {
    const value = params.get(name);
    if (value) query[name] = value;
  }
  if (params.get('mine') === 'true') query.mine = true;
  return query;
}

/**
 * The bookmarks page: a search form and the bookmarks found, each with "Go to" (for users who
 * may play back), and "Edit" and "Delete" for one's own (an administrator's: all) for users who
 * may edit bookmarks.
 * @param {Camera[]} cameras the cameras this user may view
 * @param {ViewContext} ctx
 * @param {URLSearchParams} params the search in the address
 * @returns {View}
 */
export function bookmarksView(cameras, ctx, params) {
  const heading = h('h1', { id: 'bookmarks-title', tabindex: '-1' }, 'Bookmarks');
  const query = queryFrom(params);
  const q = /** @type {HTMLInputElement} */ (
    h('input', { id: 'bookmark-q', name: 'q', type: 'search', maxlength: 200, placeholder: 'Text' })
  );
  const camera = /** @type {HTMLSelectElement} */ (
    h(
      'select',
      { id: 'bookmark-camera', name: 'camera_id' },
      h('option', { value: '' }, 'All cameras'),
      ...cameras.map((c) => h('option', { value: c.id }, c.name)),
    )
  );
  const from = /** @type {HTMLInputElement} */ (
    h('input', { id: 'bookmark-from', name: 'start', type: 'datetime-local', step: 1 })
  );
  const to = /** @type {HTMLInputElement} */ (
    h('input', { id: 'bookmark-to', name: 'end', type: 'datetime-local', step: 1 })
  );
  const mine = /** @type {HTMLSelectElement} */ (
    h(
      'select',
      { id: 'bookmark-mine', name: 'mine' },
      h('option', { value: '' }, 'Everyone’s'),
      h('option', { value: 'true' }, 'Mine'),
    )
  );
  q.value = query.q || '';
  camera.value = query.camera_id || '';
  from.value = query.start ? toLocalInput(fromIso(query.start)) : '';
  to.value = query.end ? toLocalInput(fromIso(query.end)) : '';
  mine.value = query.mine ? 'true' : '';
  const field = (/** @type {HTMLElement} */ input, /** @type {string} */ label) =>
    h('div', { class: 'field' }, h('label', { for: input.id }, label), input);
  const search = h(
    'form',
    { id: 'bookmark-search', class: 'bookmark-search', role: 'search' },
    field(q, 'Search'),
    field(camera, 'Camera'),
    field(from, 'From'),
    field(to, 'To'),
    field(mine, 'Made by'),
    h(
      'div',
      { class: 'field search-go' },
      h('button', { type: 'submit', class: 'button primary' }, 'Search'),
    ),
  );
  const count = h('p', { id: 'bookmark-count', class: 'hint', role: 'status' });
  const list = h('ul', { id: 'bookmark-list', class: 'bookmark-list', role: 'list' });
  const element = h(
    'section',
    { id: 'bookmarks-view', class: 'view view-bookmarks', 'aria-labelledby': 'bookmarks-title' },
    h(
      'div',
      { class: 'camera-head' },
      h(
        'a',
        { id: 'bookmarks-back', class: 'button', href: '#/' },
        h('span', { 'aria-hidden': 'true' }, '←'),
        'Cameras',
      ),
      heading,
    ),
    search,
    count,
    list,
  );
  const names = new Map(cameras.map((c) => [c.id, c.name]));
  let disposed = false;
  let serial = 0;
  /** @type {Bookmark[]} */
  let found = [];

  /** @returns {BookmarkQuery} */
  function currentQuery() {
    /** @type {BookmarkQuery} */
    const next = {};
    if (q.value.trim()) next.q = q.value.trim();
    if (camera.value) next.camera_id = camera.value;
    const start = fromLocalInput(from.value);
    const end = fromLocalInput(to.value);
    if (start !== null) next.start = toIso(start);
    if (end !== null) next.end = toIso(end);
    if (mine.value === 'true') next.mine = true;
    return next;
  }

  /** @param {BookmarkQuery} wanted */
  async function load(wanted) {
    const mySerial = ++serial;
    list.setAttribute('aria-busy', 'true');
    try {
      const answer = await api.listBookmarks(wanted);
      if (disposed || mySerial !== serial) return;
      ctx.clearError();
      found = answer;
      render();
    } catch (error) {
      if (disposed || mySerial !== serial) return;
      if (api.isStatus(error, 401)) {
        ctx.sessionEnded();
        return;
      }
      found = [];
      list.replaceChildren();
      // "bookmarks are turned off on this server", a bad time range, or no connection.
      count.textContent = error instanceof api.ApiError ? error.detail : String(error);
    } finally {
      if (mySerial === serial) list.removeAttribute('aria-busy');
    }
  }

  function render() {
    list.replaceChildren(...found.map((bookmark) => item(bookmark)));
    if (!found.length) count.textContent = 'No bookmarks found.';
    else if (found.length >= PAGE)
      count.textContent = `The latest ${found.length} bookmarks found (narrow the search for more).`;
    else
      count.textContent =
        found.length === 1 ? '1 bookmark found.' : `${found.length} bookmarks found.`;
  }

  /**
   * @param {Bookmark} bookmark
   * @returns {HTMLElement}
   */
  function item(bookmark) {
    const start = fromIso(bookmark.start);
    const end = fromIso(bookmark.end);
    const user = ctx.user();
    const mine = Boolean(user && user.username === bookmark.user);
    const editable = may(user, 'bookmarks_edit') && (mine || may(user, 'administration'));
    const go = h(
      'a',
      {
        class: 'button primary bookmark-go',
        href: playbackHref(bookmark.camera_id, start),
        hidden: !may(user, 'playback'),
      },
      'Go to',
    );
    const edit = h(
      'button',
      { type: 'button', class: 'button bookmark-edit', hidden: !editable },
      'Edit',
    );
    const remove = /** @type {HTMLButtonElement} */ (
      h(
        'button',
        { type: 'button', class: 'button danger bookmark-delete', hidden: !editable },
        'Delete',
      )
    );
    const body = h(
      'div',
      { class: 'bookmark-body' },
      h('h2', { class: 'bookmark-headline' }, bookmark.headline),
      h(
        'p',
        { class: 'bookmark-meta' },
        h('span', {}, names.get(bookmark.camera_id) || 'Unknown camera'),
        ' · ',
        h('time', { datetime: bookmark.start }, rangeText(start, end)),
        ' · ',
        h('span', {}, `by ${bookmark.user}`),
      ),
      bookmark.description ? h('p', { class: 'bookmark-description' }, bookmark.description) : null,
    );
    const actions = h('div', { class: 'bookmark-actions' }, go, edit, remove);
    const li = h('li', { class: 'bookmark', 'data-bookmark-id': bookmark.id }, body, actions);
    edit.addEventListener('click', () => {
      const form = bookmarkForm({
        title: 'Edit bookmark',
        start,
        end,
        bookmark,
        save: async (fields) => {
          const saved = await api.updateBookmark(bookmark.id, fields);
          found = found.map((b) => (b.id === saved.id ? saved : b));
          render();
          const again = `[data-bookmark-id="${CSS.escape(saved.id)}"] .bookmark-edit`;
          /** @type {HTMLElement | null} */ (list.querySelector(again))?.focus();
        },
        cancel: () => {
          li.replaceChildren(body, actions);
          edit.focus();
        },
      });
      li.replaceChildren(form.element);
      form.focus();
    });
    remove.addEventListener('click', async () => {
      if (!confirm(`Delete the bookmark "${bookmark.headline}"?`)) return;
      ctx.clearError();
      remove.disabled = true;
      try {
        await api.deleteBookmark(bookmark.id);
      } catch (error) {
        remove.disabled = false;
        if (api.isStatus(error, 401)) ctx.sessionEnded();
        else ctx.showError(error instanceof api.ApiError ? error.detail : String(error));
        return;
      }
      found = found.filter((b) => b.id !== bookmark.id);
      render();
      heading.focus();
    });
    return li;
  }

  search.addEventListener('submit', (event) => {
    event.preventDefault();
    const wanted = currentQuery();
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(wanted)) params.set(name, String(value));
    const encoded = params.toString();
    // The address keeps the search (no new history entry, no hashchange: the page stays).
    history.replaceState(null, '', `#/bookmarks${encoded ? `?${encoded}` : ''}`);
    load(wanted);
  });
  load(query);
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
