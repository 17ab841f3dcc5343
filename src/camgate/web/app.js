// Entry point: who is logged in, which view is shown (from the URL hash), the header and the
// error region. Routes: `#/` the "All cameras" grid, `#/camera/<id>` one camera.

import * as api from './api.js';
import { h } from './dom.js';
import { cameraView, gridView, loginView, messageView } from './views.js';

/** @typedef {import('./views.js').View} View */
/** @typedef {import('./views.js').ViewContext} ViewContext */

const main = /** @type {HTMLElement} */ (document.getElementById('main'));
const errorRegion = /** @type {HTMLElement} */ (document.getElementById('error'));
const session = /** @type {HTMLElement} */ (document.getElementById('session'));
const userName = /** @type {HTMLElement} */ (document.getElementById('user-name'));
const logoutButton = /** @type {HTMLButtonElement} */ (document.getElementById('logout'));

/** @type {import('./api.js').User | null} */
let user = null;
/** @type {View | null} */
let view = null;
/** Increases with every navigation, so that a slow answer for an old one is ignored. */
let navigation = 0;
/** Whether the single view was opened from the grid (then "back" is history.back()). */
let cameFromGrid = false;

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
};

/**
 * Replaces the current view (stopping its players) and moves the focus into the new one, so
 * that keyboard and screen-reader users land on the new content.
 * @param {View} next
 */
function show(next) {
  view?.dispose();
  view = next;
  main.replaceChildren(next.element);
  next.focusTarget?.focus({ preventScroll: true });
}

/**
 * @param {string} hash
 * @returns {{name: 'grid'} | {name: 'camera', id: string}}
 */
function parseRoute(hash) {
  const match = /^#\/camera\/([^/?#]+)/.exec(hash);
  if (!match) return { name: 'grid' };
  try {
    return { name: 'camera', id: decodeURIComponent(match[1]) };
  } catch {
    return { name: 'grid' }; // a malformed escape in a hand-typed URL
  }
}

/** Shows the view the URL hash names, with a fresh camera list. */
async function route() {
  if (!user) return;
  const serial = ++navigation;
  const target = parseRoute(location.hash);
  main.setAttribute('aria-busy', 'true');
  let cameras;
  try {
    cameras = await api.listCameras();
  } catch (error) {
    if (serial === navigation) failed(error, route);
    return;
  } finally {
    if (serial === navigation) main.removeAttribute('aria-busy');
  }
  if (serial !== navigation || !user) return;
  clearError();
  if (target.name === 'grid') {
    show(gridView(cameras, ctx));
    return;
  }
  const camera = cameras.find((candidate) => candidate.id === target.id);
  show(
    camera
      ? cameraView(camera, ctx)
      : messageView(
          'Camera not found',
          'This camera does not exist, or you may not view it.',
          h('a', { class: 'button', href: '#/' }, 'All cameras'),
        ),
  );
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
  logoutButton.disabled = false;
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
  session.hidden = true;
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
  if (document.hidden) view?.pause();
  else view?.resume();
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
