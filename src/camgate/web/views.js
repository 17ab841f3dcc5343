// The screens: login, the "All cameras" grid, one camera, and a plain message.
//
// Each view function returns a View; the app puts `element` on the page, and calls pause() when
// the page is hidden, resume() when it is shown again, and dispose() when leaving the view.

import * as api from './api.js';
import { h } from './dom.js';
import { LivePlayer, playbackMode, supportedCodecs } from './player.js';
import { codecName, decodableStreams, describeStream, pickStream } from './streams.js';

/** @typedef {import('./api.js').Camera} Camera */
/** @typedef {import('./api.js').Stream} Stream */
/** @typedef {import('./api.js').User} User */
/** @typedef {import('./player.js').PlayerStatus} PlayerStatus */

/**
 * @typedef {object} View
 * @property {HTMLElement} element
 * @property {HTMLElement} [focusTarget] what gets the focus when the view is shown
 * @property {() => void} pause
 * @property {() => void} resume
 * @property {() => void} dispose
 */

/**
 * What the views need from the app.
 * @typedef {object} ViewContext
 * @property {(text: string) => void} showError
 * @property {() => void} clearError
 * @property {(user: User) => void} loggedIn
 * @property {() => void} sessionEnded a player was told the session is gone
 * @property {() => void} back leave the single-camera view
 */

const STATUS_TEXT = {
  connecting: 'Connecting…',
  playing: 'Live',
  offline: 'Offline',
  error: 'Error',
};

const NO_OP = () => {};

/**
 * @param {HTMLElement} element
 * @param {HTMLElement} [focusTarget]
 * @returns {View}
 */
function staticView(element, focusTarget) {
  return { element, focusTarget, pause: NO_OP, resume: NO_OP, dispose: NO_OP };
}

// ---------------------------------------------------------------------------------------------
// Login

/**
 * The login form (`form#login`).
 * @param {ViewContext} ctx
 * @returns {View}
 */
export function loginView(ctx) {
  const username = h('input', {
    id: 'login-username',
    name: 'username',
    type: 'text',
    autocomplete: 'username',
    autocapitalize: 'none',
    spellcheck: 'false',
    required: true,
  });
  const password = h('input', {
    id: 'login-password',
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const submit = h('button', { type: 'submit', class: 'button primary' }, 'Log in');
  const form = h(
    'form',
    { id: 'login', class: 'card login', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, 'Log in'),
    field('login-username', 'User name', username),
    field('login-password', 'Password', password),
    submit,
  );
  let lockTimer;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    ctx.clearError();
    submit.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      const user = await api.login(username.value.trim(), password.value);
      ctx.loggedIn(user);
      return;
    } catch (error) {
      password.value = '';
      ctx.showError(loginErrorText(error));
      const wait = error instanceof api.ApiError && error.status === 429 ? error.retryAfter : 0;
      // Keep the button off while the server would refuse anyway.
      lockTimer = setTimeout(() => (submit.disabled = false), (wait || 0) * 1000);
      (username.value ? password : username).focus();
    } finally {
      form.removeAttribute('aria-busy');
    }
  });
  const element = h('section', { class: 'view view-login' }, form);
  return { ...staticView(element, username), dispose: () => clearTimeout(lockTimer) };
}

/**
 * @param {string} id
 * @param {string} label
 * @param {HTMLElement} input
 * @returns {HTMLElement}
 */
function field(id, label, input) {
  return h('div', { class: 'field' }, h('label', { for: id }, label), input);
}

/**
 * @param {unknown} error
 * @returns {string}
 */
function loginErrorText(error) {
  if (!(error instanceof api.ApiError)) return 'Logging in failed.';
  if (error.status === 401) return 'Wrong user name or password.';
  if (error.status === 429) {
    return error.retryAfter
      ? `Too many attempts, try again in ${error.retryAfter} s.`
      : 'Too many attempts, try again later.';
  }
  return error.detail;
}

// ---------------------------------------------------------------------------------------------
// Video helpers shared by the grid and the single view

/**
 * A <video> set up for muted inline autoplay (what phones require to start without a tap).
 * @param {string} poster shown until the first frame, and while reconnecting
 * @param {string} [label] an accessible name
 * @returns {HTMLVideoElement}
 */
function liveVideo(poster, label) {
  const video = /** @type {HTMLVideoElement} */ (
    h('video', {
      muted: true,
      playsinline: true,
      autoplay: true,
      poster,
      'aria-label': label,
      'aria-hidden': label ? null : 'true',
    })
  );
  // The attributes set the defaults; the properties are what autoplay policies look at.
  video.muted = true;
  video.defaultMuted = true;
  video.playsInline = true;
  video.autoplay = true;
  return video;
}

/**
 * Starts a LivePlayer for a camera, or explains why there is none.
 * @param {HTMLVideoElement} video
 * @param {Camera} camera
 * @param {Stream | null} stream null: the server picks the highest resolution
 * @param {ViewContext} ctx
 * @param {{onStatus: (status: PlayerStatus) => void,
 *          onInfo?: (info: import('./player.js').PlayerInfo) => void}} hooks
 * @returns {LivePlayer | null}
 */
function startPlayer(video, camera, stream, ctx, hooks) {
  const codecs = supportedCodecs();
  const problem = cannotPlay(camera, codecs);
  if (problem) {
    video.dataset.state = problem.state;
    video.dataset.drops = '0';
    hooks.onStatus(problem);
    return null;
  }
  const query = { stream: stream ? stream.id : null, codecs: [...codecs] };
  const player = new LivePlayer(video, api.liveSocketUrl(camera.id, query), {
    hlsUrl: api.hlsUrl(camera.id, query),
    onStatus: hooks.onStatus,
    onInfo: hooks.onInfo,
    onUnauthorized: ctx.sessionEnded,
  });
  player.start();
  return player;
}

/**
 * @param {Camera} camera
 * @param {Set<string>} codecs
 * @returns {PlayerStatus | null} why this camera cannot play here, or null
 */
function cannotPlay(camera, codecs) {
  if (!playbackMode()) return { state: 'error', detail: 'This browser cannot play live video.' };
  if (camera.status === 'disabled') return { state: 'offline', detail: 'The camera is disabled.' };
  if (camera.streams.length && !decodableStreams(camera.streams, codecs).length) {
    const names = [...new Set(camera.streams.map((s) => codecName(s.codec)))].join(', ');
    return { state: 'error', detail: `This browser cannot decode this camera's video (${names}).` };
  }
  return null;
}

/**
 * Shows a player status on a tile or the single view (`data-state` drives the CSS).
 * @param {HTMLElement} container
 * @param {HTMLElement} statusElement
 * @param {HTMLElement} detailElement
 * @param {PlayerStatus} status
 * @param {string} [override] text instead of the state's (e.g. "Disabled")
 */
function showStatus(container, statusElement, detailElement, status, override) {
  container.dataset.state = status.state;
  statusElement.textContent = override || STATUS_TEXT[status.state];
  // Details matter when something is wrong; "Live" needs no explanation.
  detailElement.textContent = status.state === 'playing' ? '' : status.detail;
}

// ---------------------------------------------------------------------------------------------
// Grid

/**
 * "All cameras": one live tile per camera, each on the camera's lowest-resolution stream.
 * @param {Camera[]} cameras
 * @param {ViewContext} ctx
 * @returns {View}
 */
export function gridView(cameras, ctx) {
  const heading = h('h1', { id: 'grid-title', tabindex: '-1' }, 'All cameras');
  const tiles = cameras.map((camera) => cameraTile(camera, ctx));
  // role=list: Safari drops the list semantics of a list without bullets otherwise.
  const grid = h('ul', { id: 'grid', class: 'grid', role: 'list' }, ...tiles.map((t) => t.element));
  const empty =
    !cameras.length &&
    h('p', { class: 'empty' }, 'There are no cameras to show. An administrator can add cameras, or give your role access to some.');
  const element = h(
    'section',
    { class: 'view view-grid', 'aria-labelledby': 'grid-title' },
    heading,
    grid,
    empty,
  );
  return {
    element,
    focusTarget: heading,
    pause: () => tiles.forEach((tile) => tile.stop()),
    resume: () => tiles.forEach((tile) => tile.start()),
    dispose: () => tiles.forEach((tile) => tile.stop()),
  };
}

/**
 * One tile: a link to the camera's own view, with its video, name and status.
 * @param {Camera} camera
 * @param {ViewContext} ctx
 * @returns {{element: HTMLElement, start: () => void, stop: () => void}}
 */
function cameraTile(camera, ctx) {
  const stream = pickStream(camera.streams, supportedCodecs(), 'lowest');
  const video = liveVideo(api.snapshotUrl(camera.id, stream ? stream.id : null));
  const status = h('span', { class: 'tile-status badge' });
  const detail = h('span', { class: 'tile-detail' });
  const link = h(
    'a',
    { class: 'tile', href: cameraHref(camera.id), 'data-camera-id': camera.id },
    video,
    h('span', { class: 'tile-bar' }, h('span', { class: 'tile-name' }, camera.name), status),
    detail,
  );
  const override = camera.status === 'disabled' ? 'Disabled' : undefined;
  const onStatus = (/** @type {PlayerStatus} */ s) => showStatus(link, status, detail, s, override);
  onStatus({ state: 'connecting', detail: '' });
  /** @type {LivePlayer | null} */
  let player = null;
  const start = () => {
    if (!player) player = startPlayer(video, camera, stream, ctx, { onStatus });
    else player.start();
  };
  start();
  return { element: h('li', {}, link), start, stop: () => player?.stop() };
}

/**
 * @param {string} cameraId
 * @returns {string}
 */
export function cameraHref(cameraId) {
  return `#/camera/${encodeURIComponent(cameraId)}`;
}

// ---------------------------------------------------------------------------------------------
// Single camera

/**
 * One camera, full size, on its highest-resolution stream (or the one picked).
 * @param {Camera} camera
 * @param {ViewContext} ctx
 * @returns {View}
 */
export function cameraView(camera, ctx) {
  const heading = h('h1', { id: 'camera-title', tabindex: '-1' }, camera.name);
  const back = h(
    'button',
    { type: 'button', id: 'back', class: 'button' },
    h('span', { 'aria-hidden': 'true' }, '←'),
    'All cameras',
  );
  back.addEventListener('click', () => ctx.back());

  const video = liveVideo(api.snapshotUrl(camera.id), `Live video of ${camera.name}`);
  const status = h('span', { class: 'camera-status badge', role: 'status' });
  const detail = h('span', { class: 'camera-detail' });
  const stage = h('div', { class: 'stage' }, video, h('span', { class: 'stage-bar' }, status), detail);
  const info = h('p', { class: 'camera-info' });

  const override = camera.status === 'disabled' ? 'Disabled' : undefined;
  const onStatus = (/** @type {PlayerStatus} */ s) => showStatus(stage, status, detail, s, override);
  const onInfo = (/** @type {import('./player.js').PlayerInfo} */ i) => (info.textContent = describeInfo(i));
  onStatus({ state: 'connecting', detail: '' });

  /** @type {LivePlayer | null} */
  let player = null;
  /** @type {Stream | null} */
  let chosen = null; // null: the server's choice, the highest resolution this browser decodes
  const play = () => {
    player?.stop();
    info.textContent = '';
    player = startPlayer(video, camera, chosen, ctx, { onStatus, onInfo });
  };

  const controls = h('div', { class: 'camera-controls' });
  const picker = streamPicker(camera, (stream) => {
    chosen = stream;
    play();
  });
  if (picker) controls.append(picker);
  const fullscreen = fullscreenButton(stage, video);
  if (fullscreen) controls.append(fullscreen);

  const element = h(
    'section',
    { id: 'camera-view', class: 'view view-camera', 'aria-labelledby': 'camera-title' },
    h('div', { class: 'camera-head' }, back, heading),
    stage,
    h('div', { class: 'camera-foot' }, info, controls),
  );
  play();
  return {
    element,
    focusTarget: heading,
    pause: () => player?.stop(),
    resume: () => player?.start(),
    dispose: () => player?.stop(),
  };
}

/**
 * @param {import('./player.js').PlayerInfo} info
 * @returns {string} e.g. "1280×720 · H.264 · 12 frames skipped"
 */
function describeInfo(info) {
  const parts = [];
  if (info.width && info.height) parts.push(`${info.width}×${info.height}`);
  if (info.codec) parts.push(codecName(info.codec));
  // Skipped frames are normal on a slow network; shown quietly for the curious.
  if (info.drops) parts.push(`${info.drops} frames skipped`);
  return parts.join(' · ');
}

/**
 * A select among the camera's streams, or null when there is nothing to choose.
 * @param {Camera} camera
 * @param {(stream: Stream | null) => void} onChange
 * @returns {HTMLElement | null}
 */
function streamPicker(camera, onChange) {
  if (camera.streams.length < 2) return null;
  const codecs = supportedCodecs();
  const select = /** @type {HTMLSelectElement} */ (h('select', { id: 'stream-select' }));
  select.append(h('option', { value: '' }, 'Best available'));
  camera.streams.forEach((stream, index) => {
    const decodable = !stream.codec || codecs.has(stream.codec);
    const label = describeStream(stream, index) + (decodable ? '' : ' (not supported here)');
    select.append(h('option', { value: stream.id, disabled: !decodable }, label));
  });
  select.addEventListener('change', () => {
    onChange(camera.streams.find((stream) => stream.id === select.value) || null);
  });
  return h('div', { class: 'field inline' }, h('label', { for: 'stream-select' }, 'Stream'), select);
}

/**
 * A full-screen button for the stage, or null where the browser has no way to do it.
 * @param {HTMLElement} stage
 * @param {HTMLVideoElement} video
 * @returns {HTMLElement | null}
 */
function fullscreenButton(stage, video) {
  const canStage = typeof stage.requestFullscreen === 'function' && document.fullscreenEnabled;
  // iPhone Safari cannot make an element full screen, only a video (its own player).
  const canVideo = typeof video.webkitEnterFullscreen === 'function';
  if (!canStage && !canVideo) return null;
  const button = h('button', { type: 'button', class: 'button' }, 'Full screen');
  button.addEventListener('click', () => {
    if (document.fullscreenElement) document.exitFullscreen();
    else if (canStage) stage.requestFullscreen().catch(NO_OP);
    else video.webkitEnterFullscreen();
  });
  return button;
}

// ---------------------------------------------------------------------------------------------
// Messages

/**
 * A heading, a sentence and an optional action (a link or button).
 * @param {string} title
 * @param {string} text
 * @param {HTMLElement} [action]
 * @returns {View}
 */
export function messageView(title, text, action) {
  const heading = h('h1', { tabindex: '-1' }, title);
  const element = h('section', { class: 'view view-message card' }, heading, h('p', {}, text), action);
  return staticView(element, heading);
}
