// The audit log (`#/audit?q=…&user=…&start=…&end=…`, administrators): who did what, when
// and from where, the latest first. A search form (words, user, time range) narrows it, and
// "Download CSV" saves the same search for a spreadsheet. Anyone else gets the server's refusal
// (403) in place of the list: the header offers the page to administrators only.
//
// Every text of an entry is someone's input (user names, an investigation's name, a setting's
// old and new value): it goes into the page through h() as text, never as markup.

import * as api from './api.js';
import { h } from './dom.js';
import { may } from './permissions.js';
import { dateTimeText, fromIso, fromLocalInput, toIso, toLocalInput } from './times.js';

/** @typedef {import('./api.js').AuditEntry} AuditEntry */
/** @typedef {import('./api.js').AuditQuery} AuditQuery */
/** @typedef {import('./views.js').View} View */
/** @typedef {import('./views.js').ViewContext} ViewContext */

/** The server's default number of answers; a full page says there may be more. */
const PAGE = 200;
/** The server's limits on the filters. */
const MAX_WORDS = 200;
const MAX_USER = 100;

/**
 * The search as it stands in the address, so that a reload or "back" shows the same list.
 * Times that cannot be read are left out rather than sent to the server.
 * @param {URLSearchParams} params
 * @returns {AuditQuery}
 */
function queryFrom(params) {
  /** @type {AuditQuery} */
  const query = {};
  for (const name of /** @type {const} */ (['q', 'user'])) {
    const value = params.get(name)?.trim();
    if (value) query[name] = value;
  }
  for (const name of /** @type {const} */ (['start', 'end'])) {
    const value = params.get(name);
    if (value && !Number.isNaN(fromIso(value))) query[name] = value;
  }
  return query;
}

/**
 * @param {AuditQuery} query
 * @returns {string} the route that shows it
 */
function auditHref(query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) params.set(name, String(value));
  const encoded = params.toString();
  return `#/audit${encoded ? `?${encoded}` : ''}`;
}

/**
 * A value of the details as text: strings as they are (an empty one as `""`, so that it can be
 * seen), anything else as compact JSON.
 * @param {unknown} value
 * @returns {string}
 */
function valueText(value) {
  if (typeof value === 'string') return value === '' ? '""' : value;
  return JSON.stringify(value) ?? String(value);
}

/**
 * Whether a value of the details is one change: `{"old": …, "new": …}`.
 * @param {unknown} value
 * @returns {value is {old: unknown, new: unknown}}
 */
function isChange(value) {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 2 && keys.includes('old') && keys.includes('new');
}

/**
 * What an entry's details say, a line each: `field: old → new` for each field changed (edits,
 * settings), `old → new` where the target itself changed (a role's permissions, the data
 * protection), and `name: value` for the rest (compact JSON where it is not a string).
 * @param {Record<string, unknown>} details
 * @returns {string[]}
 */
function detailLines(details) {
  if (!details || typeof details !== 'object' || Array.isArray(details)) {
    return [valueText(details)];
  }
  const lines = [];
  const rest = { ...details };
  if ('old' in rest && 'new' in rest) {
    lines.push(`${valueText(rest.old)} → ${valueText(rest.new)}`);
    delete rest.old;
    delete rest.new;
  }
  for (const [name, value] of Object.entries(rest)) {
    lines.push(
      isChange(value)
        ? `${name}: ${valueText(value.old)} → ${valueText(value.new)}`
        : `${name}: ${valueText(value)}`,
    );
  }
  return lines;
}

/**
 * The audit log page: the search form, how many entries match (or the server's refusal), the
 * CSV download of the same search, and the entries.
 * @param {ViewContext} ctx
 * @param {URLSearchParams} params the search in the address
 * @returns {View}
 */
export function auditView(ctx, params) {
  const heading = h('h1', { id: 'audit-title', tabindex: '-1' }, 'Audit log');
  const query = queryFrom(params);
  const q = /** @type {HTMLInputElement} */ (
    h('input', {
      id: 'audit-q',
      name: 'q',
      type: 'search',
      maxlength: MAX_WORDS,
      placeholder: 'e.g. settings',
    })
  );
  const userField = /** @type {HTMLInputElement} */ (
    h('input', {
      id: 'audit-user',
      name: 'user',
      type: 'text',
      maxlength: MAX_USER,
      autocomplete: 'off',
      autocapitalize: 'none',
      spellcheck: 'false',
    })
  );
  const from = /** @type {HTMLInputElement} */ (
    h('input', { id: 'audit-from', name: 'start', type: 'datetime-local', step: 1 })
  );
  const to = /** @type {HTMLInputElement} */ (
    h('input', { id: 'audit-to', name: 'end', type: 'datetime-local', step: 1 })
  );
  q.value = query.q || '';
  userField.value = query.user || '';
  from.value = query.start ? toLocalInput(fromIso(query.start)) : '';
  to.value = query.end ? toLocalInput(fromIso(query.end)) : '';
  const field = (/** @type {HTMLElement} */ input, /** @type {string} */ label) =>
    h('div', { class: 'field' }, h('label', { for: input.id }, label), input);
  // Offered to administrators; anyone else sees only why the server refuses.
  const admin = may(ctx.user(), 'administration');
  const search = h(
    'form',
    { id: 'audit-search', class: 'audit-search', role: 'search', hidden: !admin },
    field(q, 'Words'),
    field(userField, 'User'),
    field(from, 'From'),
    field(to, 'To'),
    h(
      'div',
      { class: 'field search-go' },
      h('button', { type: 'submit', class: 'button primary' }, 'Search'),
    ),
  );
  const count = h('p', { id: 'audit-count', class: 'hint', role: 'status' }, 'Loading…');
  const csv = /** @type {HTMLAnchorElement} */ (
    h(
      'a',
      { id: 'audit-csv', class: 'button', download: 'camgate-audit.csv', hidden: true },
      'Download CSV',
    )
  );
  const list = h('ul', { id: 'audit-list', class: 'audit-list', role: 'list' });
  // With the refusal: a way out of a page that has nothing for this user.
  const back = h(
    'a',
    { id: 'audit-back', class: 'button', href: '#/', hidden: true },
    'Back to the cameras',
  );
  const element = h(
    'section',
    { id: 'audit-view', class: 'view view-admin view-audit', 'aria-labelledby': 'audit-title' },
    h('div', { class: 'admin-head' }, heading),
    search,
    h('div', { class: 'audit-summary' }, count, csv),
    list,
    back,
  );
  let disposed = false;
  let serial = 0;

  /** @returns {AuditQuery} what the form asks for */
  function currentQuery() {
    /** @type {AuditQuery} */
    const next = {};
    if (q.value.trim()) next.q = q.value.trim();
    if (userField.value.trim()) next.user = userField.value.trim();
    const start = fromLocalInput(from.value);
    const end = fromLocalInput(to.value);
    if (start !== null) next.start = toIso(start);
    if (end !== null) next.end = toIso(end);
    return next;
  }

  /** @param {AuditQuery} wanted */
  async function load(wanted) {
    const mySerial = ++serial;
    list.setAttribute('aria-busy', 'true');
    try {
      const found = await api.searchAudit(wanted);
      if (disposed || mySerial !== serial) return;
      ctx.clearError();
      search.hidden = false;
      back.hidden = true;
      // The download follows the list shown, not what is typed but not yet searched.
      csv.href = api.auditCsvUrl(wanted);
      csv.hidden = false;
      list.replaceChildren(...found.map((entry) => item(entry)));
      count.textContent = countText(found.length);
    } catch (error) {
      if (disposed || mySerial !== serial) return;
      if (api.isStatus(error, 401)) {
        ctx.sessionEnded();
        return;
      }
      list.replaceChildren();
      csv.hidden = true;
      // "administrators only": nothing here is for this user, so no form either.
      if (api.isStatus(error, 403)) {
        search.hidden = true;
        back.hidden = false;
      }
      // Or an unreadable filter (422), or no connection.
      count.textContent = error instanceof api.ApiError ? error.detail : String(error);
    } finally {
      if (mySerial === serial) list.removeAttribute('aria-busy');
    }
  }

  search.addEventListener('submit', (event) => {
    event.preventDefault();
    const wanted = currentQuery();
    // The address keeps the search (no new history entry, no hashchange: the page stays).
    history.replaceState(null, '', auditHref(wanted));
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

/**
 * @param {number} found
 * @returns {string}
 */
function countText(found) {
  if (!found) return 'No entries match.';
  if (found >= PAGE) {
    return `The latest ${found} entries (narrow the search, or download the CSV, for more).`;
  }
  return found === 1 ? '1 entry.' : `${found} entries.`;
}

/**
 * One entry: what was done and when, by whom, from where and to what, then what changed.
 * @param {AuditEntry} entry
 * @returns {HTMLElement}
 */
function item(entry) {
  const time = fromIso(entry.time);
  /** @type {(Node | string)[]} */
  const meta = [];
  /** @param {string} label @param {string} name @param {string} value */
  const part = (label, name, value) => {
    if (!value) return; // the server's own actions have no address
    meta.push(meta.length ? ` · ${label} ` : `${label} `, h('span', { class: name }, value));
  };
  part('by', 'audit-user', entry.user);
  part('from', 'audit-address', entry.address);
  part('on', 'audit-target', entry.target);
  const lines = detailLines(entry.details);
  return h(
    'li',
    { class: 'audit-entry', 'data-audit-id': String(entry.id), 'data-action': entry.action },
    h(
      'p',
      { class: 'audit-head' },
      h('span', { class: 'audit-action' }, entry.action),
      h(
        'time',
        { class: 'audit-time', datetime: entry.time },
        Number.isNaN(time) ? entry.time : dateTimeText(time),
      ),
    ),
    h('p', { class: 'audit-meta' }, ...meta),
    lines.length
      ? h(
          'ul',
          { class: 'audit-details', 'aria-label': 'Details' },
          ...lines.map((line) => h('li', {}, line)),
        )
      : null,
  );
}
