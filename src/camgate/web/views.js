// The screens: login, the grid of one view (a named camera layout, "All cameras" by default),
// one camera, and a plain message.
//
// Each screen function returns a View; the app puts `element` on the page, and calls pause() when
// the page is hidden, resume() when it is shown again, and dispose() when leaving the view. The
// grid and the single camera also have update(), which the app calls with a fresh camera and
// view list every few seconds.

import * as api from './api.js';
import { addBookmarkButton, showIfBookmarksOn } from './bookmarks.js';
import { h } from './dom.js';
import { NO_LIVE_TEXT, may } from './permissions.js';
import { secondStepForm } from './twostep.js';
import { LivePlayer, supportedCodecs } from './player.js';
import { codecName, describeStream, pickStream } from './streams.js';
import { viewForm } from './viewform.js';

/** @typedef {import('./api.js').Camera} Camera */
/** @typedef {import('./api.js').CameraView} CameraView */
/** @typedef {import('./api.js').Stream} Stream */
/** @typedef {import('./api.js').User} User */
/** @typedef {import('./player.js').PlayerStatus} PlayerStatus */
/** @typedef {import('./player.js').PlayerDelivery} PlayerDelivery */

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
 * @property {() => User | null} user the logged-in user
 * @property {(hash: string) => void} go show a route (again, when it is the current one)
 */

const STATUS_TEXT = {
  connecting: 'Connecting…',
  playing: 'Live',
  offline: 'Offline',
  error: 'Error',
};

const NO_OP = () => {};

/** How long a new tile waits at most for all its camera's streams to tell their size. */
const SETTLE_MS = 10000;

/** The JPEG frame rate a grid tile asks for when it gets transcoded video. */
const TILE_JPEG_FPS = 15;

/** Why the server sends JPEGs, in words (the `reason` of its "transcoded" notice). */
const REASON_TEXT = {
  direct_disabled: 'direct streaming is off',
  codec_unsupported: 'codec not supported',
  low_frame_rate: 'low frame rate',
  privacy_mask: 'privacy mask',
  not_started: 'video did not start',
  connection_lost: 'connection lost',
  requested: 'requested',
};

/**
 * @param {HTMLElement} element
 * @param {HTMLElement} [focusTarget]
 * @returns {View}
 */
export function staticView(element, focusTarget) {
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
  let disposeStep = () => {};
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    ctx.clearError();
    submit.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      const answer = await api.login(username.value.trim(), password.value);
      if ('user' in answer) {
        ctx.loggedIn(answer.user);
        return;
      }
      password.value = '';
      submit.disabled = false;
      // The password was right: the same page asks for the code, and "Back" returns here.
      const step = secondStepForm(ctx, answer.secondStep, () => {
        step.dispose();
        step.element.replaceWith(form);
        username.focus();
      });
      form.replaceWith(step.element);
      disposeStep = step.dispose;
      step.focusTarget.focus();
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
  return {
    ...staticView(element, username),
    dispose: () => {
      clearTimeout(lockTimer);
      disposeStep();
    },
  };
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
 * @param {string | null} poster shown until the first frame, and while reconnecting
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
 * The <img> that shows transcoded video (JPEG frames), hidden while the video plays directly.
 * @param {string} [label] an accessible name
 * @returns {HTMLImageElement}
 */
export function jpegImage(label) {
  return /** @type {HTMLImageElement} */ (
    h('img', {
      class: 'jpeg',
      alt: label || '',
      'aria-hidden': label ? null : 'true',
      decoding: 'async',
      hidden: true,
    })
  );
}

/**
 * The small badge saying how the video comes (`.delivery`, empty until known).
 * @returns {HTMLElement}
 */
export function deliveryBadge() {
  return h('span', { class: 'delivery' });
}

/**
 * @param {HTMLElement} badge
 * @param {PlayerDelivery | null} delivery null: not known (no player)
 */
export function showDelivery(badge, delivery) {
  if (!delivery) {
    delete badge.dataset.delivery;
    delete badge.dataset.reason;
    badge.textContent = '';
    badge.removeAttribute('title');
    return;
  }
  badge.dataset.delivery = delivery.delivery;
  badge.dataset.reason = delivery.reason;
  const words = REASON_TEXT[delivery.reason] || delivery.reason || 'server decision';
  badge.textContent = delivery.delivery === 'direct' ? 'direct' : `transcoded: ${words}`;
  badge.title =
    delivery.delivery === 'direct'
      ? "The camera's own video, played by the browser"
      : `JPEG pictures made by the server (${words})`;
}

/**
 * The JPEG size for a box: its CSS size × devicePixelRatio, shrunk to the stream's aspect
 * ratio when known (the server stretches to the exact size asked), in even pixels.
 * @param {HTMLElement} box
 * @param {Stream[]} streams
 * @returns {{width: number, height: number} | null} null: not laid out yet
 */
export function jpegSize(box, streams) {
  const rect = box.getBoundingClientRect();
  const ratio = window.devicePixelRatio || 1;
  let width = rect.width * ratio;
  let height = rect.height * ratio;
  if (width < 16 || height < 16) return null;
  const shaped = streams.find((stream) => stream.width > 0 && stream.height > 0);
  if (shaped) {
    const aspect = shaped.width / shaped.height;
    if (width / height > aspect) width = height * aspect;
    else height = width / aspect;
  }
  const even = (/** @type {number} */ value) => Math.max(16, 2 * Math.round(value / 2));
  return { width: even(width), height: even(height) };
}

/**
 * Starts a LivePlayer for a camera, or explains why there is none.
 * @param {HTMLVideoElement} video
 * @param {HTMLImageElement} image where JPEG frames go when the video comes transcoded
 * @param {Camera} camera
 * @param {Stream | null} stream null: the server picks the highest resolution
 * @param {ViewContext} ctx
 * @param {{onStatus: (status: PlayerStatus) => void,
 *          onDelivery: (delivery: PlayerDelivery | null) => void,
 *          size: () => ({width: number, height: number} | null),
 *          fps?: number | null,
 *          onInfo?: (info: import('./player.js').PlayerInfo) => void}} hooks
 * @returns {LivePlayer | null}
 */
function startPlayer(video, image, camera, stream, ctx, hooks) {
  const codecs = supportedCodecs();
  hooks.onDelivery(null);
  const problem = cannotPlay(camera);
  if (problem) {
    video.dataset.state = problem.state;
    video.dataset.drops = '0';
    hooks.onStatus(problem);
    return null;
  }
  const query = { stream: stream ? stream.id : null, codecs: [...codecs] };
  const player = new LivePlayer(video, api.liveSocketUrl(camera.id, query), {
    hlsUrl: api.hlsUrl(camera.id, query),
    image,
    size: hooks.size,
    fps: hooks.fps ?? null,
    onStatus: hooks.onStatus,
    onInfo: hooks.onInfo,
    onDelivery: hooks.onDelivery,
    onUnauthorized: ctx.sessionEnded,
  });
  player.start();
  return player;
}

/**
 * A browser without video decoding, or without the camera's codec, still gets JPEGs from the
 * server; only a disabled camera shows nothing.
 * @param {Camera} camera
 * @returns {PlayerStatus | null} why this camera cannot play here, or null
 */
function cannotPlay(camera) {
  if (camera.status === 'disabled') return { state: 'offline', detail: 'The camera is disabled.' };
  return null;
}

/**
 * Says, where the video would be, that the user's role may not watch live video
 * (`data-state="no-live"`): no player starts, and no snapshot is asked for either.
 * @param {HTMLElement} container
 * @param {HTMLElement} statusElement
 * @param {HTMLElement} detailElement
 */
function showNoLive(container, statusElement, detailElement) {
  container.dataset.state = 'no-live';
  statusElement.textContent = 'No live video';
  detailElement.textContent = NO_LIVE_TEXT;
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
 * What a grid shows: the cameras the user may view, the views offered, and the one open.
 * @typedef {object} GridData
 * @property {Camera[]} cameras
 * @property {CameraView[]} views
 * @property {CameraView | null} current null: there is no view to offer
 */

/**
 * One view: its name, the view picker and the view tools, and one live tile per camera of the
 * view, each on the camera's lowest-resolution stream. `update()` brings it in line with a
 * fresher camera and view list without touching the tiles that stay.
 * @param {GridData} data
 * @param {ViewContext} ctx
 * @returns {View & {viewId: string | null, update: (data: GridData) => boolean,
 *   pending: () => boolean}}
 */
export function gridView(data, ctx) {
  const viewId = data.current ? data.current.id : null;
  const heading = h('h1', { id: 'grid-title', tabindex: '-1' });
  const select = /** @type {HTMLSelectElement} */ (h('select', { id: 'view-select' }));
  const picker = h('div', { class: 'field inline' }, h('label', { for: 'view-select' }, 'View'), select);
  const newButton = h('button', { type: 'button', id: 'view-new', class: 'button' }, 'New view');
  const editButton = h('button', { type: 'button', id: 'view-edit', class: 'button' }, 'Edit');
  const deleteButton = h('button', { type: 'button', id: 'view-delete', class: 'button danger' }, 'Delete');
  const bookmarksLink = h(
    'a',
    { id: 'grid-bookmarks', class: 'button', href: '#/bookmarks', hidden: true },
    'Bookmarks',
  );
  showIfBookmarksOn(may(ctx.user(), 'bookmarks_view') ? [bookmarksLink] : [], ctx);
  // A role without live video gets its cameras' tiles without video, and this line.
  const noLive = h(
    'p',
    { id: 'grid-no-live', class: 'hint', hidden: may(ctx.user(), 'live') },
    may(ctx.user(), 'playback')
      ? `${NO_LIVE_TEXT} Open a camera to play back its recordings.`
      : NO_LIVE_TEXT,
  );
  const formSlot = h('div', { class: 'view-form-slot' });
  // role=list: Safari drops the list semantics of a list without bullets otherwise.
  const grid = h('ul', { id: 'grid', class: 'grid', role: 'list', 'data-view-id': viewId });
  const empty = h('p', { id: 'grid-empty', class: 'empty' });
  const element = h(
    'section',
    { class: 'view view-grid', 'aria-labelledby': 'grid-title' },
    h(
      'div',
      { class: 'grid-head' },
      heading,
      h('div', { class: 'view-tools' }, picker, newButton, editButton, deleteButton, bookmarksLink),
    ),
    noLive,
    formSlot,
    grid,
    empty,
  );

  /** @type {Map<string, Tile>} tiles by camera id */
  const tiles = new Map();
  let state = data;
  let paused = false;
  let pickerKey = '';
  /** @type {(() => void) | null} closes the open form, if any */
  let closeForm = null;

  function render() {
    const { current, cameras, views } = state;
    heading.textContent = current ? current.name : 'No views';

    const key = JSON.stringify(views.map((v) => [v.id, v.name]));
    if (key !== pickerKey) {
      pickerKey = key;
      select.replaceChildren(...views.map((v) => h('option', { value: v.id }, v.name)));
    }
    if (current) select.value = current.id;
    picker.hidden = !views.length;

    const user = ctx.user();
    const editable = Boolean(current && !current.builtin && (current.mine || may(user, 'administration')));
    editButton.hidden = !editable;
    deleteButton.hidden = !editable;

    if (current && current.columns > 0) grid.dataset.columns = String(current.columns);
    else delete grid.dataset.columns;

    const byId = new Map(cameras.map((camera) => [camera.id, camera]));
    // The two lists come from two requests: only cameras both know are shown.
    const ids = current ? current.camera_ids.filter((id) => byId.has(id)) : [];
    const wanted = new Set(ids);
    for (const [id, tile] of tiles) {
      if (wanted.has(id)) continue;
      tile.stop();
      tile.element.remove();
      tiles.delete(id);
    }
    ids.forEach((id, index) => {
      const camera = /** @type {Camera} */ (byId.get(id));
      let tile = tiles.get(id);
      if (tile) tile.update(camera);
      else {
        tile = cameraTile(camera, ctx, !paused);
        tiles.set(id, tile);
      }
      const here = grid.children[index] || null;
      if (here !== tile.element) grid.insertBefore(tile.element, here);
    });

    empty.textContent = emptyText(current, ids.length);
    empty.hidden = !empty.textContent;
  }

  /**
   * Opens the view form in place of any open one.
   * @param {CameraView | null} view null: a new view
   */
  function openForm(view) {
    closeForm?.();
    const opener = view ? editButton : newButton;
    const close = () => {
      form.element.remove();
      closeForm = null;
      opener.focus();
    };
    const form = viewForm({
      cameras: state.cameras,
      view,
      canShare: may(ctx.user(), 'administration'),
      cancel: close,
      save: async (body) => {
        ctx.clearError();
        try {
          if (!view) {
            const created = await api.createView(body);
            closeForm = null;
            ctx.go(viewHref(created.id));
            return;
          }
          const updated = await api.updateView(view.id, body);
          const views = state.views.map((v) => (v.id === updated.id ? updated : v));
          state = { ...state, current: updated, views };
          render();
          close();
        } catch (error) {
          reportError(error, ctx);
          throw error;
        }
      },
    });
    closeForm = () => {
      form.element.remove();
      closeForm = null;
    };
    formSlot.replaceChildren(form.element);
    form.focus();
  }

  async function deleteCurrent() {
    const view = state.current;
    if (!view || !confirm(`Delete the view "${view.name}"?`)) return;
    ctx.clearError();
    deleteButton.disabled = true;
    try {
      await api.deleteView(view.id);
    } catch (error) {
      reportError(error, ctx);
      return;
    } finally {
      deleteButton.disabled = false;
    }
    ctx.go('#/');
  }

  select.addEventListener('change', () => ctx.go(viewHref(select.value)));
  newButton.addEventListener('click', () => openForm(null));
  editButton.addEventListener('click', () => state.current && openForm(state.current));
  deleteButton.addEventListener('click', deleteCurrent);

  render();
  return {
    element,
    focusTarget: heading,
    viewId,
    pending: () => [...tiles.values()].some((tile) => tile.waiting()),
    update: (next) => {
      if ((next.current ? next.current.id : null) !== viewId) return false;
      state = next;
      render();
      return true;
    },
    pause: () => {
      paused = true;
      tiles.forEach((tile) => tile.stop());
    },
    resume: () => {
      paused = false;
      tiles.forEach((tile) => tile.start());
    },
    dispose: () => tiles.forEach((tile) => tile.stop()),
  };
}

/**
 * @param {CameraView | null} view
 * @param {number} shown how many tiles the grid has
 * @returns {string} what to say under an empty grid, or ''
 */
function emptyText(view, shown) {
  if (!view) return 'No views: ask an administrator, or create one.';
  if (shown) return '';
  if (view.builtin) {
    return (
      'There are no cameras to show. An administrator can add cameras, or give your role ' +
      'access to some.'
    );
  }
  return 'This view has no cameras that you may view.';
}

/**
 * Shows a failed call's reason in the error region; a lost session goes to the login page.
 * @param {unknown} error
 * @param {ViewContext} ctx
 */
export function reportError(error, ctx) {
  if (error instanceof api.ApiError && error.status === 401) ctx.sessionEnded();
  else ctx.showError(error instanceof api.ApiError ? error.detail : String(error));
}

/**
 * @typedef {object} Tile
 * @property {HTMLElement} element the list item
 * @property {(camera: Camera) => void} update a fresher description of the camera
 * @property {() => void} start
 * @property {() => void} stop
 * @property {() => boolean} waiting whether it waits for its camera's streams (see below)
 */

/**
 * One tile: a link to the camera's own view, with its video, name and status. A tile that
 * plays is never restarted by update(); one that could not play yet (no stream known, the
 * camera disabled) starts as soon as the camera allows it.
 * @param {Camera} camera
 * @param {ViewContext} ctx
 * @param {boolean} running start playing at once (false while the page is hidden)
 * @returns {Tile}
 */
function cameraTile(camera, ctx, running) {
  const video = liveVideo(null); // the poster comes with the stream
  const image = jpegImage();
  const name = h('span', { class: 'tile-name' }, camera.name);
  const status = h('span', { class: 'tile-status badge' });
  const detail = h('span', { class: 'tile-detail' });
  const delivery = deliveryBadge();
  const link = h(
    'a',
    { class: 'tile', href: cameraHref(camera.id), 'data-camera-id': camera.id },
    video,
    image,
    h('span', { class: 'tile-bar' }, name, status),
    delivery,
    detail,
  );
  const onDelivery = (/** @type {PlayerDelivery | null} */ d) => showDelivery(delivery, d);
  const onStatus = (/** @type {PlayerStatus} */ s) =>
    showStatus(link, status, detail, s, camera.status === 'disabled' ? 'Disabled' : undefined);
  /** @type {LivePlayer | null} */
  let player = null;
  const createdAt = performance.now();
  const live = may(ctx.user(), 'live');

  /**
   * Whether to wait before choosing the tile's stream: the server has not started the camera
   * yet (one just added with the CLI), or some of its streams have not told their size yet (a
   * camera just started), so "the smallest" is not known. At most SETTLE_MS for the sizes.
   * @returns {boolean}
   */
  const waitsForStreams = () => {
    if (!camera.streams.length) return true;
    const unsized = camera.streams.some((s) => s.status === 'connecting' && !(s.width && s.height));
    return camera.streams.length > 1 && unsized && performance.now() - createdAt < SETTLE_MS;
  };

  /** Starts a player when the camera can play and none exists yet. */
  const begin = () => {
    if (!live) {
      showNoLive(link, status, detail);
      return;
    }
    if (player || !running) return;
    const problem = cannotPlay(camera);
    if (problem) {
      onStatus(problem);
      return;
    }
    if (waitsForStreams()) {
      onStatus({ state: 'connecting', detail: '' });
      return;
    }
    // No stream in a codec this browser decodes: the smallest one anyway, transcoded.
    const stream =
      pickStream(camera.streams, supportedCodecs(), 'lowest') ||
      pickStream(camera.streams, new Set(camera.streams.map((s) => s.codec)), 'lowest');
    video.poster = api.snapshotUrl(camera.id, stream ? stream.id : null);
    player = startPlayer(video, image, camera, stream, ctx, {
      onStatus,
      onDelivery,
      size: () => jpegSize(link, stream ? [stream] : camera.streams),
      fps: TILE_JPEG_FPS,
    });
  };
  onStatus({ state: 'connecting', detail: '' });
  begin();
  return {
    element: h('li', {}, link),
    update: (next) => {
      camera = next;
      name.textContent = next.name;
      if (player && next.status === 'disabled') {
        player.stop();
        player = null;
        onDelivery(null);
      }
      begin();
    },
    start: () => {
      running = true;
      if (player) player.start();
      else begin();
    },
    waiting: () =>
      live && !player && running && camera.status !== 'disabled' && waitsForStreams(),
    stop: () => {
      running = false;
      player?.stop();
    },
  };
}

/**
 * @param {string} viewId
 * @returns {string}
 */
export function viewHref(viewId) {
  return `#/view/${encodeURIComponent(viewId)}`;
}

/**
 * @param {string} cameraId
 * @returns {string}
 */
export function cameraHref(cameraId) {
  return `#/camera/${encodeURIComponent(cameraId)}`;
}

/**
 * @param {string} cameraId
 * @returns {string} the camera's privacy masks editor (administrators)
 */
export function masksHref(cameraId) {
  return `${cameraHref(cameraId)}/masks`;
}

// ---------------------------------------------------------------------------------------------
// Single camera

/**
 * One camera, full size, on its highest-resolution stream (or the one picked). `update()`
 * follows a rename; it answers false when the camera is gone or was disabled or enabled (the
 * app then shows the route again).
 * @param {Camera} camera
 * @param {ViewContext} ctx
 * @param {string} backLabel where the back button goes, e.g. the name of the view
 * @returns {View & {update: (data: {cameras: Camera[]}) => boolean}}
 */
export function cameraView(camera, ctx, backLabel) {
  const heading = h('h1', { id: 'camera-title', tabindex: '-1' }, camera.name);
  const back = h(
    'button',
    { type: 'button', id: 'back', class: 'button' },
    h('span', { 'aria-hidden': 'true' }, '←'),
    backLabel,
  );
  back.addEventListener('click', () => ctx.back());
  const user = ctx.user();
  // A role without live video sees why where the video would be, and the ways it may go on.
  const live = may(user, 'live');

  const video = liveVideo(live ? api.snapshotUrl(camera.id) : null, `Live video of ${camera.name}`);
  const image = jpegImage(`Live video of ${camera.name}`);
  const status = h('span', { class: 'camera-status badge', role: 'status' });
  const detail = h('span', { class: 'camera-detail' });
  const delivery = deliveryBadge();
  const stage = h(
    'div',
    { class: 'stage' },
    video,
    image,
    h('span', { class: 'stage-bar' }, delivery, status),
    detail,
  );
  const onDelivery = (/** @type {PlayerDelivery | null} */ d) => showDelivery(delivery, d);
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
    if (!live) {
      showNoLive(stage, status, detail);
      return;
    }
    player = startPlayer(video, image, camera, chosen, ctx, {
      onStatus,
      onInfo,
      onDelivery,
      // The stage's box; no frame-rate limit in the single view.
      size: () => jpegSize(stage, chosen ? [chosen] : camera.streams),
    });
  };

  const controls = h('div', { class: 'camera-controls' });
  const playback = `${cameraHref(camera.id)}/playback`;
  if (may(user, 'playback')) {
    controls.append(h('a', { id: 'camera-playback', class: 'button', href: playback }, 'Playback'));
  }
  const bookmarkSlot = h('div', { class: 'bookmark-slot' });
  const bookmark = addBookmarkButton({
    id: 'camera-bookmark',
    cameraId: camera.id,
    slot: bookmarkSlot,
    // Live, the moment is now by this client's clock: live video carries no capture times.
    now: () => Date.now(),
  });
  // Live, a bookmark marks the moment watched: only while watching, for those who may add one.
  showIfBookmarksOn(live && may(user, 'bookmarks_create') ? [bookmark.button] : [], ctx);
  controls.append(bookmark.button, bookmark.note);
  const picker = live
    ? streamPicker(camera, (stream) => {
        chosen = stream;
        play();
      })
    : null;
  if (picker) controls.append(picker);
  const fullscreen = live ? fullscreenButton(stage, video) : null;
  if (fullscreen) controls.append(fullscreen);
  if (may(user, 'administration')) {
    // The server refuses anyone else; other users need not see the way there.
    const href = masksHref(camera.id);
    controls.append(h('a', { id: 'camera-masks', class: 'button', href }, 'Privacy masks'));
  }

  const element = h(
    'section',
    { id: 'camera-view', class: 'view view-camera', 'aria-labelledby': 'camera-title' },
    h('div', { class: 'camera-head' }, back, heading),
    stage,
    h('div', { class: 'camera-foot' }, info, controls),
    bookmarkSlot,
  );
  play();
  return {
    element,
    focusTarget: heading,
    update: ({ cameras }) => {
      const next = cameras.find((candidate) => candidate.id === camera.id);
      if (!next || (next.status === 'disabled') !== (camera.status === 'disabled')) return false;
      heading.textContent = next.name;
      video.setAttribute('aria-label', `Live video of ${next.name}`);
      image.alt = `Live video of ${next.name}`;
      return true;
    },
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
  if (info.codec === 'jpeg') parts.push('JPEG (transcoded)');
  else if (info.codec) parts.push(codecName(info.codec));
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
    // The server transcodes a stream this browser cannot decode (JPEG frames).
    const label = describeStream(stream, index) + (decodable ? '' : ' (transcoded here)');
    select.append(h('option', { value: stream.id }, label));
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
