// Entry point: who is logged in, which screen is shown (from the URL hash), the header, the
// error region, and the refresh of the camera and view lists while a grid or a camera is open.
// Routes: `#/` the first view offered ("All cameras" when the administrator offers it),
// `#/view/<id>` one view's grid, `#/camera/<id>` one camera, `#/camera/<id>/playback[?t=ISO]` its
// recordings, `#/bookmarks[?q=…]` the bookmarks, `#/investigations` the investigations (and
// `#/investigations/new?camera=…&start=…&end=…` its form, filled in), `#/investigation/<id>`
// one of them with its exports; for administrators (the permission `administration`)
// `#/status` (the server status),
// `#/settings/performance`, `#/settings/two-step` (two-step verification), `#/camera/<id>/masks`
// (a camera's privacy masks) and
// `#/audit[?q=…&user=…&start=…&end=…]` (the audit log).
// While logged in, keepalives tell the server that this client still runs (keepalive.js).

import * as api from './api.js';
import { auditView } from './audit.js';
import { bookmarksView } from './bookmarks.js';
import { h } from './dom.js';
import { investigationView, investigationsView, mayExport } from './investigations.js';
import { startKeepalive } from './keepalive.js';
import { masksView } from './masks.js';
import { performanceView } from './performance.js';
import { twoStepSettingsView } from './twostepsettings.js';
import { may } from './permissions.js';
import { playbackView } from './playback.js';
import { statusView } from './status.js';
import { cameraView, gridView, loginView, messageView } from './views.js';

/** How often the camera and view lists are fetched again while a grid or camera is open. */
const REFRESH_MS = 5000;
/** The same while a tile waits for the server to start its camera (one added with the CLI). */
const PENDING_REFRESH_MS = 1000;

/** @typedef {import('./views.js').View} View */
/** @typedef {import('./views.js').ViewContext} ViewContext */
/** @typedef {import('./api.js').Camera} Camera */
/** @typedef {import('./api.js').CameraView} CameraView */
/** @typedef {{cameras: Camera[], views: CameraView[]}} Lists */
/**
 * @typedef {{name: 'grid', id: string | null} | {name: 'camera', id: string}
 *   | {name: 'status'} | {name: 'performance'} | {name: 'twostep'} | {name: 'masks', id: string}
 *   | {name: 'playback', id: string, time: number | null}
 *   | {name: 'bookmarks', params: URLSearchParams} | {name: 'audit', params: URLSearchParams}
 *   | {name: 'investigations', creating: boolean, params: URLSearchParams}
 *   | {name: 'investigation', id: string}} Route
 */

/** The routes only administrators may open (the server refuses anyone else too). */
const ADMIN_ROUTES = new Set(['status', 'performance', 'twostep', 'masks']);

const main = /** @type {HTMLElement} */ (document.getElementById('main'));
const errorRegion = /** @type {HTMLElement} */ (document.getElementById('error'));
const session = /** @type {HTMLElement} */ (document.getElementById('session'));
const userName = /** @type {HTMLElement} */ (document.getElementById('user-name'));
const logoutButton = /** @type {HTMLButtonElement} */ (document.getElementById('logout'));
const adminNav = /** @type {HTMLElement} */ (document.getElementById('admin-nav'));
/** The header's links for users with the Export permission (not only administrators). */
const userNav = /** @type {HTMLElement} */ (document.getElementById('user-nav'));

/** @type {import('./api.js').User | null} */
let user = null;
/** @type {View & {update?: (data: any) => boolean, pending?: () => boolean} | null} */
let view = null;
/** The route the current screen shows (null: login or a message). */
/** @type {Route | null} */
let shown = null;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let refreshTimer;
/** The name of the last view whose grid was shown, for the single view's back button. */
let lastViewName = '';
/** Increases with every navigation, so that a slow answer for an old one is ignored. */
let navigation = 0;
/** Whether the single view was opened from the grid (then "back" is history.back()). */
let cameFromGrid = false;
/** Stops the keepalives of the session (null: logged out). */
/** @type {(() => void) | null} */
let stopKeepalive = null;

/** @param {string} text */
function showError(text) {
  errorRegion.textContent = text;
}

function clearError() {
  errorRegion.textContent = '';
}

/** @type {ViewContext} */
const ctx = {
  showError,
  clearError,
  loggedIn: (loggedInUser) => enter(loggedInUser),
  sessionEnded: () => leave('Your session has ended. Please log in again.'),
  back: () => {
    if (cameFromGrid) history.back();
    else location.hash = '#/';
  },
  user: () => user,
  go: (hash) => {
    if (location.hash === hash) route();
    else location.hash = hash;
  },
};

/**
 * Replaces the current view (stopping its players) and moves the focus into the new one, so
 * that keyboard and screen-reader users land on the new content.
 * @param {View} next
 * @param {Route | null} [subject] what it shows, when it follows the lists (see refresh())
 */
function show(next, subject = null) {
  clearTimeout(refreshTimer);
  view?.dispose();
  view = next;
  shown = subject;
  main.replaceChildren(next.element);
  next.focusTarget?.focus({ preventScroll: true });
}

/**
 * @param {string} hash
 * @returns {Route}
 */
function parseRoute(hash) {
  if (/^#\/status\/?$/.test(hash)) return { name: 'status' };
  if (/^#\/settings\/performance\/?$/.test(hash)) return { name: 'performance' };
  if (/^#\/settings\/two-step\/?$/.test(hash)) return { name: 'twostep' };
  const audit = /^#\/audit\/?(?:\?(.*))?$/.exec(hash);
  if (audit) return { name: 'audit', params: new URLSearchParams(audit[1] || '') };
  const bookmarks = /^#\/bookmarks\/?(?:\?(.*))?$/.exec(hash);
  if (bookmarks) return { name: 'bookmarks', params: new URLSearchParams(bookmarks[1] || '') };
  const investigations = /^#\/investigations(\/new)?\/?(?:\?(.*))?$/.exec(hash);
  if (investigations) {
    const params = new URLSearchParams(investigations[2] || '');
    return { name: 'investigations', creating: Boolean(investigations[1]), params };
  }
  const investigation = /^#\/investigation\/([^/?#]+)\/?$/.exec(hash);
  if (investigation) {
    try {
      return { name: 'investigation', id: decodeURIComponent(investigation[1]) };
    } catch {
      return { name: 'grid', id: null }; // a malformed escape in a hand-typed URL
    }
  }
  // `#/camera/<id>`, `#/camera/<id>/masks`, `#/camera/<id>/playback[?t=…]`, `#/view/<id>`
  const match = /^#\/(camera|view)\/([^/?#]+)(?:(\/masks\/?$)|(\/playback)\/?(?:\?(.*))?$)?/.exec(
    hash,
  );
  if (!match) return { name: 'grid', id: null };
  let id;
  try {
    id = decodeURIComponent(match[2]);
  } catch {
    return { name: 'grid', id: null }; // a malformed escape in a hand-typed URL
  }
  if (match[1] === 'view') return { name: 'grid', id };
  if (match[3]) return { name: 'masks', id };
  if (match[4]) {
    const at = new URLSearchParams(match[5] || '').get('t');
    const time = at ? Date.parse(at) : NaN;
    return { name: 'playback', id, time: Number.isNaN(time) ? null : time };
  }
  return { name: 'camera', id };
}

/**
 * The header link a page belongs to: one investigation belongs to the list's.
 * @param {Route} target
 * @returns {string}
 */
function section(target) {
  if (target.name === 'investigation') return 'investigations';
  // The settings pages share the header's Settings link.
  return target.name === 'twostep' ? 'performance' : target.name;
}

/**
 * Marks the header link of the page shown (`aria-current`), if it has one.
 * @param {Route} target
 */
function markNav(target) {
  for (const link of [...userNav.querySelectorAll('a'), ...adminNav.querySelectorAll('a')]) {
    const here = section(parseRoute(link.getAttribute('href') || '')) === section(target);
    if (here) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

/**
 * The administrators' pages load their own data; anyone else is told that they are not for them.
 * @param {Route} target
 */
function showAdminPage(target) {
  clearError();
  if (!may(user, 'administration')) {
    const back = h('a', { class: 'button', href: '#/' }, 'Back to the cameras');
    show(messageView('Administrators only', 'Only an administrator may open this page.', back));
    return;
  }
  if (target.name === 'status') show(statusView(ctx));
  else if (target.name === 'performance') show(performanceView(ctx));
  else if (target.name === 'twostep') show(twoStepSettingsView(ctx));
  else if (target.name === 'masks') show(masksView(target.id, ctx));
}

/** @returns {Promise<Lists>} */
async function fetchLists() {
  const [cameras, views] = await Promise.all([api.listCameras(), api.listViews()]);
  return { cameras, views };
}

/**
 * The view a grid route shows.
 * @param {Route} target
 * @param {CameraView[]} views
 * @returns {CameraView | null} null: `#/` with no view offered, or an unknown id
 */
function viewFor(target, views) {
  if (target.id === null) return views[0] || null;
  return views.find((candidate) => candidate.id === target.id) || null;
}

/** Shows the screen the URL hash names, with fresh camera and view lists. */
async function route() {
  if (!user) return;
  const serial = ++navigation;
  const target = parseRoute(location.hash);
  markNav(target);
  if (ADMIN_ROUTES.has(target.name)) {
    main.removeAttribute('aria-busy'); // a list fetch still on its way is for an old route
    showAdminPage(target);
    return;
  }
  if (target.name === 'audit') {
    // Needs no camera list. Shown to anyone who opens it, like the investigations: the server
    // says why it refuses someone (403).
    main.removeAttribute('aria-busy');
    clearError();
    show(auditView(ctx, target.params));
    return;
  }
  main.setAttribute('aria-busy', 'true');
  let lists;
  try {
    lists = await fetchLists();
  } catch (error) {
    if (serial === navigation) failed(error, route);
    return;
  } finally {
    if (serial === navigation) main.removeAttribute('aria-busy');
  }
  if (serial !== navigation || !user) return;
  clearError();
  const { cameras, views } = lists;
  const back = h('a', { class: 'button', href: '#/' }, 'Back to the cameras');
  if (target.name === 'bookmarks') {
    if (!may(user, 'bookmarks_view')) {
      show(messageView('No bookmarks', 'Your role may not see bookmarks.', back));
      return;
    }
    show(bookmarksView(cameras, ctx, target.params));
    return;
  }
  // Shown to anyone who opens them: the server says why it refuses someone (403).
  if (target.name === 'investigations') {
    show(investigationsView(cameras, ctx, target));
    return;
  }
  if (target.name === 'investigation') {
    show(investigationView(target.id, cameras, ctx));
    return;
  }
  if (target.name === 'grid') {
    const current = viewFor(target, views);
    if (target.id !== null && !current) {
      show(messageView('View not found', 'This view does not exist, or it is not offered to you.', back));
      return;
    }
    lastViewName = current ? current.name : '';
    show(gridView({ cameras, views, current }, ctx), target);
  } else {
    const camera = cameras.find((candidate) => candidate.id === target.id);
    if (!camera) {
      show(messageView('Camera not found', 'This camera does not exist, or you may not view it.', back));
      return;
    }
    if (target.name === 'playback') {
      if (!may(user, 'playback')) {
        show(messageView('No playback', 'Your role may not play back recordings.', back));
        return;
      }
      show(playbackView(camera, ctx, { time: target.time }), target);
    } else {
      const backLabel = (cameFromGrid ? lastViewName : views[0]?.name) || 'Back';
      show(cameraView(camera, ctx, backLabel), target);
    }
  }
  scheduleRefresh();
}

/** @param {number} [delay] ms; by default sooner while a tile waits for its camera */
function scheduleRefresh(delay = view?.pending?.() ? PENDING_REFRESH_MS : REFRESH_MS) {
  clearTimeout(refreshTimer);
  if (shown) refreshTimer = setTimeout(refresh, delay);
}

/**
 * Fetches the lists again and hands them to the screen: new cameras get tiles, removed ones
 * lose theirs, names and statuses follow. When the screen's subject changed (its view or
 * camera is gone, or `#/` now means another view), the route is shown again.
 */
async function refresh() {
  const target = shown;
  const screen = view;
  if (!user || !target || !screen?.update) return;
  if (document.hidden) return; // onVisibilityChange refreshes when the page is shown again
  const serial = navigation;
  let lists;
  try {
    lists = await fetchLists();
  } catch (error) {
    if (serial !== navigation || screen !== view) return;
    if (error instanceof api.ApiError && error.status === 401) {
      leave('Your session has ended. Please log in again.');
      return;
    }
    // The network or the server is away: the players say so. Try again later.
    scheduleRefresh();
    return;
  }
  if (serial !== navigation || screen !== view) return;
  const data = target.name === 'grid' ? { ...lists, current: viewFor(target, lists.views) } : lists;
  if (!screen.update(data)) {
    route();
    return;
  }
  if (target.name === 'grid' && data.current) lastViewName = data.current.name;
  scheduleRefresh();
}

/**
 * Handles a failed API call: a lost session goes back to the login page; anything else is
 * shown with a way to try again.
 * @param {unknown} error
 * @param {() => void} retry
 */
function failed(error, retry) {
  if (error instanceof api.ApiError && error.status === 401) {
    leave('Your session has ended. Please log in again.');
    return;
  }
  const text = error instanceof api.ApiError ? error.detail : String(error);
  showError(text);
  const again = h('button', { type: 'button', class: 'button primary' }, 'Try again');
  again.addEventListener('click', () => {
    clearError();
    retry();
  });
  // The reason is in the error region (announced); the view offers the way out.
  show(messageView('Something went wrong', 'Check the connection, then try again.', again));
}

/**
 * Logged in: show the header's user and the view of the URL.
 * @param {import('./api.js').User} loggedInUser
 */
function enter(loggedInUser) {
  user = loggedInUser;
  userName.textContent = loggedInUser.username;
  session.hidden = false;
  adminNav.hidden = !may(loggedInUser, 'administration');
  // Whether the server has investigations on only it knows (settings are for administrators):
  // when they are off, the page says so.
  userNav.hidden = !mayExport(loggedInUser);
  logoutButton.disabled = false;
  stopKeepalive?.();
  stopKeepalive = startKeepalive({ onEnded: ctx.sessionEnded });
  clearError();
  route();
}

/**
 * Logged out (or the session ended): stop every player and show the login page.
 * @param {string} [message] why, in the error region
 */
function leave(message) {
  if (!user && main.querySelector('#login')) {
    // Already on the login page (several players can report the same lost session): keep
    // what was typed, only say why.
    if (message) showError(message);
    return;
  }
  user = null;
  navigation += 1; // answers still on their way belong to the old session
  stopKeepalive?.();
  stopKeepalive = null;
  session.hidden = true;
  adminNav.hidden = true;
  userNav.hidden = true;
  userName.textContent = '';
  show(loginView(ctx)); // disposing the old view closes its WebSockets
  if (message) showError(message);
}

async function logout() {
  logoutButton.disabled = true;
  clearError();
  try {
    await api.logout();
  } catch (error) {
    logoutButton.disabled = false;
    showError(`Could not log out: ${error instanceof api.ApiError ? error.detail : error}`);
    return;
  }
  leave();
}

function onHashChange(/** @type {HashChangeEvent} */ event) {
  if (!user) return; // the login page stays; the hash is used once logged in
  const from = parseRoute(new URL(event.oldURL).hash).name;
  cameFromGrid = from === 'grid' && parseRoute(location.hash).name === 'camera';
  route();
}

/** Hidden pages (another tab, a locked phone) stop streaming; video resumes when shown. */
function onVisibilityChange() {
  if (document.hidden) {
    view?.pause();
    return;
  }
  view?.resume();
  scheduleRefresh(0);
}

async function boot() {
  let current;
  try {
    current = await api.me();
  } catch (error) {
    failed(error, boot);
    return;
  }
  if (current) enter(current);
  else leave();
}

logoutButton.addEventListener('click', logout);
window.addEventListener('hashchange', onHashChange);
document.addEventListener('visibilitychange', onVisibilityChange);
boot();
