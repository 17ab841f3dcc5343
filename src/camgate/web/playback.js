// The playback screen (`#/camera/<id>/playback[?t=ISO]`): recorded video of one camera, a
// timeline to find a moment, and the controls of an investigation (play, pause, speed, frame by
// frame, previous and next recording, a typed date and time, bookmarks, and for users who may
// export the marks that start an investigation of the camera). The video comes direct
// (the camera's own, in a <video>) or transcoded (JPEGs), like live video: see recorded.js.
// Opened only by users whose role may play back; the way to live video, the bookmarks and
// their marks on the timeline follow the role's other permissions (permissions.js).

import * as api from './api.js';
import { addBookmarkButton, playbackHref, showIfBookmarksOn } from './bookmarks.js';
import { h } from './dom.js';
import { investigationMarks, mayExport } from './investigations.js';
import { may } from './permissions.js';
import { DirectEngine, TranscodedEngine, recordingStart } from './recorded.js';
import { Timeline, ZOOMS } from './timeline.js';
import {
  clockText,
  dateText,
  fromIso,
  fromLocalInput,
  millisText,
  toIso,
  toLocalInput,
} from './times.js';
import {
  cameraHref,
  deliveryBadge,
  jpegImage,
  jpegSize,
  reportError,
  showDelivery,
} from './views.js';

/** @typedef {import('./api.js').Camera} Camera */
/** @typedef {import('./views.js').View} View */
/** @typedef {import('./views.js').ViewContext} ViewContext */
/** @typedef {import('./player.js').PlayerDelivery} PlayerDelivery */
/** @typedef {import('./recorded.js').Engine} Engine */
/** @typedef {import('./recorded.js').EngineHooks} EngineHooks */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const SPEEDS = [0.25, 0.5, 1, 2, 4, 8, 16];
const SPEED_TEXT = { 0.25: '¼×', 0.5: '½×' };
/** The moment shown when the address names none: a minute ago, what one just missed live. */
const DEFAULT_BACK_MS = MINUTE;
/** Timeline data is fetched for the window and half a window on each side, and again this often. */
const TIMELINE_REFRESH_MS = 10 * SECOND;
const TIMELINE_DEBOUNCE_MS = 250;

const STATE_TEXT = {
  loading: 'Loading…',
  playing: 'Playback',
  paused: 'Paused',
  ended: 'End',
  error: 'Error',
};

const SVG_NS = 'http://www.w3.org/2000/svg';
const ICONS = {
  play: 'M8 5l11 7-11 7z',
  pause: 'M6 5h4v14H6zM14 5h4v14h-4z',
  previousRecording: 'M4 6h2v12H4zM6 12l7-5v10zM13 12l7-5v10z',
  nextRecording: 'M18 6h2v12h-2zM18 12l-7-5v10zM11 12l-7-5v10z',
  previousFrame: 'M7 12l9-6v12zM17 6h2v12h-2z',
  nextFrame: 'M17 12l-9-6v12zM5 6h2v12H5z',
};

/**
 * @param {keyof typeof ICONS} name
 * @returns {SVGSVGElement}
 */
function icon(name) {
  const image = /** @type {SVGSVGElement} */ (document.createElementNS(SVG_NS, 'svg'));
  image.setAttribute('viewBox', '0 0 24 24');
  image.setAttribute('aria-hidden', 'true');
  image.setAttribute('class', 'icon');
  const path = document.createElementNS(SVG_NS, 'path');
  path.setAttribute('d', ICONS[name]);
  image.append(path);
  return image;
}

/**
 * @param {string} id
 * @param {keyof typeof ICONS} name
 * @param {string} label
 * @returns {HTMLButtonElement}
 */
function iconButton(id, name, label) {
  const button = /** @type {HTMLButtonElement} */ (
    h('button', {
      type: 'button',
      id,
      class: 'button icon-button',
      'aria-label': label,
      title: label,
    })
  );
  button.append(icon(name));
  return button;
}

/**
 * @param {Camera} camera
 * @param {ViewContext} ctx
 * @param {{time: number | null}} options the moment to begin at (null: a minute ago)
 * @returns {View & {update: (data: {cameras: Camera[]}) => boolean}}
 */
export function playbackView(camera, ctx, { time }) {
  const heading = h('h1', { id: 'playback-title', tabindex: '-1' }, camera.name);
  const user = ctx.user();
  // Back to the camera's live video; for a role without live, to the cameras.
  const live = may(user, 'live');
  const back = h(
    'a',
    {
      id: live ? 'playback-live' : 'playback-back',
      class: 'button',
      href: live ? cameraHref(camera.id) : '#/',
    },
    h('span', { 'aria-hidden': 'true' }, '←'),
    live ? 'Live' : 'Cameras',
  );
  const video = /** @type {HTMLVideoElement} */ (
    h('video', { muted: true, playsinline: true, 'aria-label': `Recorded video of ${camera.name}` })
  );
  // The properties are what autoplay policies look at.
  video.muted = true;
  video.playsInline = true;
  const image = jpegImage(`Recorded video of ${camera.name}`);
  const status = h('span', { class: 'camera-status badge', role: 'status' });
  const delivery = deliveryBadge();
  const notice = h('span', { id: 'playback-notice', class: 'camera-detail' });
  const stage = h(
    'div',
    { id: 'playback-stage', class: 'stage' },
    video,
    image,
    h('span', { class: 'stage-bar' }, delivery, status),
    notice,
  );

  const clock = h('span', { class: 'playback-clock' });
  const millis = h('span', { class: 'playback-ms' });
  const date = h('span', { class: 'playback-date' });
  const timeLabel = h('time', { id: 'playback-time' }, date, ' ', clock, millis);

  const previousRecording = iconButton(
    'playback-previous-recording',
    'previousRecording',
    'Previous recording',
  );
  const previousFrame = iconButton('playback-previous-frame', 'previousFrame', 'Previous frame');
  const playButton = iconButton('playback-play', 'pause', 'Pause');
  const nextFrame = iconButton('playback-next-frame', 'nextFrame', 'Next frame');
  const nextRecording = iconButton('playback-next-recording', 'nextRecording', 'Next recording');
  const speedSelect = /** @type {HTMLSelectElement} */ (
    h(
      'select',
      { id: 'playback-speed', 'aria-label': 'Speed', title: 'Speed' },
      ...SPEEDS.map((speed) =>
        h('option', { value: String(speed) }, SPEED_TEXT[speed] || `${speed}×`),
      ),
    )
  );
  speedSelect.value = '1';
  const transport = h(
    'div',
    { class: 'transport', role: 'group', 'aria-label': 'Playback controls' },
    previousRecording,
    previousFrame,
    playButton,
    nextFrame,
    nextRecording,
    speedSelect,
  );

  const zoomButtons = ZOOMS.map((zoom) =>
    h(
      'button',
      {
        type: 'button',
        class: 'button zoom',
        'data-span': String(zoom.span),
        'aria-pressed': 'false',
      },
      zoom.label,
    ),
  );
  const zoomGroup = h(
    'div',
    { class: 'zoom-group', role: 'group', 'aria-label': 'Timeline zoom' },
    ...zoomButtons,
  );

  const gotoInput = /** @type {HTMLInputElement} */ (
    h('input', {
      id: 'playback-goto-time',
      name: 'time',
      type: 'datetime-local',
      step: 1,
      required: true,
    })
  );
  const gotoForm = h(
    'form',
    { id: 'playback-goto', class: 'playback-goto' },
    h('label', { for: 'playback-goto-time', class: 'visually-hidden' }, 'Go to a date and time'),
    gotoInput,
    h('button', { type: 'submit', class: 'button' }, 'Go'),
  );
  const bookmarkSlot = h('div', { class: 'bookmark-slot' });
  const bookmarksLink = h(
    'a',
    { id: 'playback-bookmarks', class: 'button', href: '#/bookmarks', hidden: true },
    'Bookmarks',
  );

  /** The frame on screen (null: none yet). */
  /** @type {number | null} */
  let shownTime = null;
  /** The moment last asked for: bookmarks and restarts use it until a frame shows. */
  let targetTime = time ?? Date.now() - DEFAULT_BACK_MS;
  let wantPlay = true;
  let speed = 1;
  let disposed = false;
  /** Whether the notice under the picture explains the state (see showNotice). */
  let noticeOfState = false;
  /** @type {PlayerDelivery} */
  let currentDelivery = { delivery: 'direct', reason: '' };

  const bookmark = addBookmarkButton({
    id: 'playback-bookmark',
    cameraId: camera.id,
    slot: bookmarkSlot,
    now: () => shownTime ?? targetTime,
    onSaved: () => fetchTimeline(true),
  });
  showIfBookmarksOn(
    [
      ...(may(user, 'bookmarks_create') ? [bookmark.button] : []),
      ...(may(user, 'bookmarks_view') ? [bookmarksLink] : []),
    ],
    ctx,
  );
  // Like a bookmark, from the moment watched; for the users the server lets export.
  const marks = investigationMarks({ cameraId: camera.id, now: () => shownTime ?? targetTime });
  marks.element.hidden = !mayExport(user);

  const timeline = new Timeline(
    {
      onSeek: (moment) => goTo(moment),
      onWindow: () => scheduleTimeline(),
      onZoom: (span) => markZoom(span),
    },
    ZOOMS[0].span,
  );

  const element = h(
    'section',
    { id: 'playback-view', class: 'view view-playback', 'aria-labelledby': 'playback-title' },
    h(
      'div',
      { class: 'camera-head' },
      back,
      heading,
      h('span', { class: 'view-kind' }, 'Playback'),
    ),
    stage,
    h('div', { class: 'playback-bar' }, transport, timeLabel),
    timeline.element,
    h(
      'div',
      { class: 'playback-tools' },
      zoomGroup,
      gotoForm,
      bookmark.button,
      bookmarksLink,
      bookmark.note,
      marks.element,
    ),
    bookmarkSlot,
  );

  /** @type {EngineHooks} */
  const hooks = {
    onFrame: (moment) => {
      shownTime = moment;
      showTime(moment);
      timeline.setCursor(moment);
    },
    onState: (state, detail) => {
      stage.dataset.state = state === 'loading' ? 'connecting' : state;
      video.dataset.state = state;
      image.dataset.state = state;
      status.textContent = STATE_TEXT[state];
      // A state's detail lasts as long as the state; a notice until the user goes elsewhere.
      if (detail) showNotice(detail, true);
      else if (noticeOfState) showNotice('', false);
      if (state === 'ended' || (state === 'paused' && wantPlay && detail)) setWantPlay(false);
    },
    onNotice: (text) => showNotice(text, false),
    onFallback: (reason) => switchToTranscoded(reason),
    onUnauthorized: () => ctx.sessionEnded(),
  };

  /** @type {Engine} */
  let engine = camera.privacy_masks?.length
    ? transcodedEngine('privacy_mask')
    : new DirectEngine(video, camera, hooks);

  /**
   * @param {string} reason
   * @returns {Engine}
   */
  function transcodedEngine(reason) {
    currentDelivery = { delivery: 'transcoded', reason };
    video.hidden = true;
    image.hidden = false;
    const size = () => jpegSize(stage, camera.streams);
    return new TranscodedEngine(image, camera.id, size, hooks);
  }

  /** @param {string} reason */
  function switchToTranscoded(reason) {
    if (disposed || currentDelivery.delivery === 'transcoded') return;
    engine.stop();
    engine = transcodedEngine(reason);
    showDelivery(delivery, currentDelivery);
    start(engine);
  }

  /**
   * Starts an engine where the view is, at its speed.
   * @param {Engine} fresh
   */
  function start(fresh) {
    fresh.go(shownTime ?? targetTime, wantPlay);
    if (wantPlay) fresh.play(speed);
  }

  /**
   * @param {string} text
   * @param {boolean} ofState whether it explains the state (and goes with it)
   */
  function showNotice(text, ofState) {
    notice.textContent = text;
    noticeOfState = ofState;
  }

  /** @param {number} moment */
  function showTime(moment) {
    const iso = toIso(moment);
    timeLabel.dataset.time = iso;
    timeLabel.setAttribute('datetime', iso);
    date.textContent = dateText(moment);
    clock.textContent = clockText(moment);
    millis.textContent = millisText(moment);
  }

  /** @param {boolean} on */
  function setWantPlay(on) {
    wantPlay = on;
    const label = on ? 'Pause' : 'Play';
    playButton.replaceChildren(icon(on ? 'pause' : 'play'));
    playButton.setAttribute('aria-label', label);
    playButton.title = label;
  }

  /**
   * Shows a moment (playing on from it when playing).
   * @param {number} moment
   */
  function goTo(moment) {
    // Nothing is recorded in the future: a typed time after now waits at the live edge.
    moment = Math.min(moment, Date.now());
    targetTime = moment;
    showNotice('', false);
    gotoInput.value = toLocalInput(moment);
    timeline.setCursor(moment);
    timeline.follow();
    // The address follows, so that a reload or a shared link shows the same moment.
    history.replaceState(null, '', playbackHref(camera.id, moment));
    engine.go(moment, wantPlay);
  }

  /** @param {'next' | 'previous'} direction */
  async function jump(direction) {
    const from = shownTime ?? targetTime;
    ctx.clearError();
    let found;
    try {
      found = await recordingStart(camera.id, from, direction, streamId);
    } catch (error) {
      if (!disposed) reportError(error, ctx);
      return;
    }
    if (disposed) return;
    if (found === null) {
      showNotice(direction === 'next' ? 'No later recording.' : 'No earlier recording.', false);
      return;
    }
    goTo(found);
  }

  /** @param {number} span */
  function markZoom(span) {
    for (const button of zoomButtons) {
      button.setAttribute('aria-pressed', String(Number(button.dataset.span) === span));
    }
  }

  // --- the timeline's data: recorded intervals and bookmarks around the window ---------------
  /** @type {{start: number, end: number, at: number} | null} what was fetched, and when */
  let fetched = null;
  /** @type {string | null} the recorded stream, as the timeline's answer names it */
  let streamId = null;
  /** Whether the timeline shows bookmarks: the role may see them, and they are on. */
  let marksOn = may(user, 'bookmarks_view');
  let timelineSerial = 0;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timelineTimer;

  function scheduleTimeline() {
    clearTimeout(timelineTimer);
    timelineTimer = setTimeout(() => fetchTimeline(false), TIMELINE_DEBOUNCE_MS);
  }

  /** @param {boolean} force even when the window is still covered */
  async function fetchTimeline(force) {
    clearTimeout(timelineTimer);
    if (disposed || document.hidden) return;
    const { start: from, end: to } = timeline.range;
    const span = to - from;
    const now = Date.now();
    const covered = fetched && fetched.start <= from && fetched.end >= Math.min(to, now);
    const fresh = fetched && (fetched.end < now - SECOND || now - fetched.at < TIMELINE_REFRESH_MS);
    if (!force && covered && fresh) {
      timelineTimer = setTimeout(() => fetchTimeline(false), TIMELINE_REFRESH_MS);
      return;
    }
    const serial = ++timelineSerial;
    const wanted = { start: from - span / 2, end: Math.min(now + span / 2, to + span / 2) };
    try {
      const [recordings, marks] = await Promise.all([
        api.getRecordings(camera.id, toIso(wanted.start), toIso(wanted.end)),
        marksOn ? bookmarksIn(wanted.start, wanted.end) : Promise.resolve([]),
      ]);
      if (disposed || serial !== timelineSerial) return;
      fetched = { ...wanted, at: Date.now() };
      streamId = recordings.stream_id ?? streamId;
      timeline.setIntervals(
        recordings.intervals.map((i) => ({ start: fromIso(i.start), end: fromIso(i.end) })),
      );
      timeline.setMarks(marks);
    } catch (error) {
      if (disposed || serial !== timelineSerial) return;
      if (api.isStatus(error, 401)) {
        ctx.sessionEnded();
        return;
      }
      // The network or the server is away; the video says so. Try again later.
    }
    timelineTimer = setTimeout(() => fetchTimeline(false), TIMELINE_REFRESH_MS);
  }

  /**
   * @param {number} from
   * @param {number} to
   * @returns {Promise<import('./timeline.js').Mark[]>}
   */
  async function bookmarksIn(from, to) {
    try {
      const found = await api.listBookmarks({
        camera_id: camera.id,
        start: toIso(from),
        end: toIso(to),
        limit: 1000,
      });
      return found.map((b) => ({
        start: fromIso(b.start),
        end: fromIso(b.end),
        headline: b.headline,
      }));
    } catch (error) {
      if (!api.isStatus(error, 403)) throw error;
      marksOn = false; // bookmarks are turned off on this server
      return [];
    }
  }

  // --- controls ------------------------------------------------------------------------------
  playButton.addEventListener('click', () => {
    setWantPlay(!wantPlay);
    if (wantPlay) engine.play(speed);
    else engine.pause();
  });
  speedSelect.addEventListener('change', () => {
    speed = Number(speedSelect.value);
    if (wantPlay) engine.play(speed);
  });
  const step = (/** @type {1 | -1} */ frames) => {
    setWantPlay(false);
    engine.step(frames);
  };
  previousFrame.addEventListener('click', () => step(-1));
  nextFrame.addEventListener('click', () => step(1));
  previousRecording.addEventListener('click', () => jump('previous'));
  nextRecording.addEventListener('click', () => jump('next'));
  zoomButtons.forEach((button) => {
    button.addEventListener('click', () => {
      const span = Number(button.dataset.span);
      timeline.setSpan(span);
      markZoom(span);
    });
  });
  gotoForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const moment = fromLocalInput(gotoInput.value);
    if (moment !== null) goTo(moment);
  });

  /**
   * Keys for the video: Space plays or pauses, the arrows step. Not while typing or on a control
   * (a button's Space is its own); the timeline keeps its arrows (it stops them).
   */
  const onKey = (/** @type {KeyboardEvent} */ event) => {
    const target = /** @type {Element | null} */ (event.target);
    if (event.altKey || event.ctrlKey || event.metaKey || !element.isConnected) return;
    if (target?.closest('input, select, textarea, button, a, form')) return;
    if (event.key === ' ') playButton.click();
    else if (event.key === 'ArrowLeft') step(-1);
    else if (event.key === 'ArrowRight') step(1);
    else return;
    event.preventDefault();
  };
  document.addEventListener('keydown', onKey);

  markZoom(timeline.span);
  showDelivery(delivery, currentDelivery);
  setWantPlay(true);
  hooks.onState('loading', '');
  gotoInput.value = toLocalInput(targetTime);
  timeline.setCursor(targetTime);
  start(engine);
  fetchTimeline(true);

  return {
    element,
    focusTarget: heading,
    update: ({ cameras }) => {
      const next = cameras.find((candidate) => candidate.id === camera.id);
      if (!next) return false;
      heading.textContent = next.name;
      return true;
    },
    pause: () => {
      engine.stop();
      clearTimeout(timelineTimer);
    },
    resume: () => {
      engine =
        currentDelivery.delivery === 'transcoded'
          ? transcodedEngine(currentDelivery.reason)
          : new DirectEngine(video, camera, hooks);
      start(engine);
      fetchTimeline(true);
    },
    dispose: () => {
      disposed = true;
      engine.stop();
      timeline.dispose();
      clearTimeout(timelineTimer);
      document.removeEventListener('keydown', onKey);
    },
  };
}
