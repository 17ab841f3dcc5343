// Players of recorded video, for the playback screen. Both show a camera's recordings from a
// moment on, play them at a speed, pause, and step frame by frame; they report the capture time of
// the frame on screen.
// - DirectEngine: a <video> plays playback.mp4 of a window around the moment (the server builds
//   it from the recordings without re-encoding; range requests let the browser seek in it). The
//   file's spans map the video's time to the wall clock. Chromium honours the file's edit list:
//   player time 0 is the moment asked for, and a span's `at` is player time as it is. A browser
//   that ignored the edit list would start at the keyframe before it; the engine notices that by
//   the duration and shifts the mapping.
// - TranscodedEngine: the controlled-playback WebSocket sends JPEGs, each after a text message
//   with its capture time; the client asks it to play, pause, seek and step. Used when the
//   server refuses the camera's own video (privacy masks, direct streaming off) or this browser
//   cannot play it.

import * as api from './api.js';
import { JpegSink } from './jpeg.js';
import { supportedCodecs } from './player.js';
import { clockText, fromIso, toIso } from './times.js';

/** @typedef {import('./api.js').Camera} Camera */
/** @typedef {import('./api.js').PlaybackFile} PlaybackFile */

/**
 * @typedef {'loading' | 'playing' | 'paused' | 'ended' | 'error'} PlaybackState
 * @typedef {object} EngineHooks
 * @property {(time: number) => void} onFrame the capture time (ms) of the frame now on screen
 * @property {(state: PlaybackState, detail: string) => void} onState
 * @property {(text: string) => void} onNotice something worth saying (a skipped gap)
 * @property {(reason: string) => void} onFallback direct video cannot be played here: the
 *   reason code of the delivery badge
 * @property {() => void} onUnauthorized the session is gone
 * @typedef {object} Engine
 * @property {(time: number, play: boolean) => void} go show (and maybe play) from a moment
 * @property {(speed: number) => void} play
 * @property {() => void} pause
 * @property {(frames: 1 | -1) => void} step pauses, then shows the next or previous frame
 * @property {() => void} stop releases the video or the connection
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const DAY = 24 * 60 * MINUTE;
/** Direct playback loads a file from a little before the moment to this long after it. */
const LEAD_MS = 5 * SECOND;
const WINDOW_MS = 10 * MINUTE;
/** Stepping back past a file's start loads one that ends there and begins this much earlier. */
const BACK_LEAD_MS = MINUTE;
/** The end of the recordings this close to now is the live edge: more is coming, ask again. */
const LIVE_EDGE_MS = MINUTE;
const MORE_RETRY_MS = 2 * SECOND;
/** Frame steps use the stream's frame rate; this one only when the server does not know it. */
const DEFAULT_FPS = 30;
/**
 * A forward step that lands on the same frame (the next one is later than usual: a dropped
 * frame, a camera's hiccup) tries a frame further, this many times, this long after each seek.
 */
const STEP_TRIES = 10;
const STEP_CHECK_MS = 150;
/** How far "previous/next recording" looks in one request, and in how many. */
const JUMP_SEARCH_MS = 7 * DAY;
const JUMP_WEEKS = 8;
/** Transcoded playback: reconnect delays, and how often it tells the server it still watches. */
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 10 * SECOND;
const KEEPALIVE_MS = 15 * SECOND;
const FATAL_CLOSE_CODES = new Set([4403, 4404, 4422]);
const CLOSE_UNAUTHORIZED = 4401;

/**
 * @param {number} from
 * @param {number} to
 * @returns {string} what to say of a gap that playback jumped
 */
function skipped(from, to) {
  return `No recording from ${clockText(from)} to ${clockText(to)}: skipped.`;
}

/**
 * Where "previous/next recording" goes: the start of the first recording after the moment, or
 * the start of the latest one that began more than a second before it (the one it is in, like
 * "previous track" in a music player, or else the one before). Asks the timeline's endpoint,
 * which joins segments that follow each other into one recording, a week at a time. After
 * weeks without any, the recordings index answers (it knows segments only, no recordings: the
 * one it names ends a recording going back, and begins one going forward after a long gap).
 * @param {string} cameraId
 * @param {number} time
 * @param {'next' | 'previous'} direction
 * @param {string | null} streamId the recorded stream, where known
 * @returns {Promise<number | null>} ms, or null: there is none
 */
export async function recordingStart(cameraId, time, direction, streamId) {
  const forward = direction === 'next';
  let from = time;
  for (let week = 0; week < JUMP_WEEKS; week += 1) {
    const lo = forward ? from : from - JUMP_SEARCH_MS;
    const hi = forward ? from + JUMP_SEARCH_MS : from;
    if (lo > Date.now()) return null; // nothing is recorded in the future
    const { intervals } = await api.getRecordings(cameraId, toIso(lo), toIso(hi));
    // The window cuts intervals at its edges: a start at its edge is no recording's start.
    const starts = intervals.map((i) => fromIso(i.start)).filter((start) => start > lo);
    const found = forward
      ? starts.find((start) => start > time)
      : starts.filter((start) => start < time - SECOND).pop();
    if (found !== undefined) return found;
    from = forward ? hi : lo;
  }
  const found = await api.adjacentRecording(cameraId, toIso(from), direction, streamId);
  if (found === null) return null;
  if (forward) return fromIso(found);
  const { intervals } = await api.getRecordings(
    cameraId,
    toIso(fromIso(found) - JUMP_SEARCH_MS),
    found,
  );
  return intervals.length ? fromIso(intervals[intervals.length - 1].start) : fromIso(found);
}

// ---------------------------------------------------------------------------------------------
// Direct playback: a <video> on playback.mp4

/**
 * A loaded playback file and its mapping between video time (s) and wall clock (ms).
 */
class LoadedFile {
  /**
   * @param {PlaybackFile} info
   * @param {number} shift seconds the video's time runs ahead of the spans' (0: the browser
   *   applied the edit list)
   */
  constructor(info, shift) {
    this.info = info;
    this.shift = shift;
    this.spans = info.spans.map((span) => ({
      at: span.at,
      wall: fromIso(span.wallclock),
      duration: span.duration,
    }));
    this.end = fromIso(info.end);
    /** The wall-clock range it plays: from player time 0 to the end of its last span. */
    this.from = this.wallAt(shift);
    const last = this.spans[this.spans.length - 1];
    this.to = last.wall + last.duration * SECOND;
  }

  /**
   * @param {number} videoTime s
   * @returns {number} ms
   */
  wallAt(videoTime) {
    const t = videoTime - this.shift;
    let span = this.spans[0];
    for (const candidate of this.spans) {
      if (candidate.at > t) break;
      span = candidate;
    }
    return Math.round(span.wall + (t - span.at) * SECOND);
  }

  /**
   * Where a moment is in the video; a moment in a gap is where the next recording begins.
   * @param {number} time ms
   * @returns {number} s
   */
  videoTime(time) {
    for (const span of this.spans) {
      if (time < span.wall) return span.at + this.shift;
      if (time < span.wall + span.duration * SECOND) {
        return span.at + (time - span.wall) / SECOND + this.shift;
      }
    }
    const last = this.spans[this.spans.length - 1];
    return last.at + last.duration + this.shift;
  }

  /**
   * @param {number} time ms
   * @returns {boolean} whether the file shows it (or the recording after it, across a gap)
   */
  holds(time) {
    return time >= this.from && time < this.to;
  }

  /**
   * @param {number} time ms
   * @returns {boolean} whether it lies in no span (the video shows the next recording instead)
   */
  inGap(time) {
    return !this.spans.some(
      (span) => time >= span.wall && time < span.wall + span.duration * SECOND,
    );
  }
}

/**
 * The edit list question: with it applied, the video lasts from player time 0 to the end of
 * the last span; without, it also holds the lead from the keyframe before the start.
 * @param {PlaybackFile} info
 * @param {number} duration the video's, s
 * @returns {number} the shift, s
 */
function editListShift(info, duration) {
  const first = info.spans[0];
  const last = info.spans[info.spans.length - 1];
  const lead = Math.max(0, -first.at);
  const end = last.at + last.duration;
  if (lead === 0) return 0;
  return Math.abs(duration - (end + lead)) < Math.abs(duration - end) ? lead : 0;
}

/** @implements {Engine} */
export class DirectEngine {
  /** @type {HTMLVideoElement} */ #video;
  /** @type {Camera} */ #camera;
  /** @type {EngineHooks} */ #hooks;
  /** @type {LoadedFile | null} */ #file = null;
  /** @type {{info: PlaybackFile, time: number} | null} a file whose video is loading */
  #pending = null;
  /** @type {string | null} the recorded stream, once a file named it */
  #streamId = null;
  /** Whether a go() is under way (asking the server, or the video loading its file). */
  #busy = false;
  /** Increases with every go(), so that an answer for an older one is dropped. */
  #serial = 0;
  #playing = false;
  #speed = 1;
  /** The video time of the frame on screen (s), or null before the first. */
  /** @type {number | null} */ #shownAt = null;
  /** @type {number | null} the moment of the last go(): where to start again after a failure */
  #target = null;
  #hasPlayed = false;
  /** @type {PlaybackState | null} */ #state = null;
  #detail = '';
  /** @type {AbortController} */ #listeners = new AbortController();
  /** @type {ReturnType<typeof setTimeout> | undefined} */ #retryTimer;
  #frameCallback = 0;
  /** @type {{from: number, target: number, frame: number, tries: number} | null} */
  #stepping = null;
  /** @type {ReturnType<typeof setTimeout> | undefined} */ #stepTimer;

  /**
   * @param {HTMLVideoElement} video
   * @param {Camera} camera
   * @param {EngineHooks} hooks
   */
  constructor(video, camera, hooks) {
    this.#video = video;
    this.#camera = camera;
    this.#hooks = hooks;
    const signal = this.#listeners.signal;
    video.addEventListener('loadedmetadata', () => this.#onMetadata(), { signal });
    video.addEventListener('ended', () => this.#onEnded(), { signal });
    video.addEventListener('error', () => this.#onError(), { signal });
    for (const name of ['playing', 'pause', 'waiting', 'seeking', 'seeked', 'canplay']) {
      video.addEventListener(name, () => this.#report(), { signal });
    }
    video.addEventListener('seeked', () => this.#checkStep(), { signal });
    if ('requestVideoFrameCallback' in video) {
      // Called for each frame put on screen, with its exact media time, also after a seek while
      // paused: the label then names the frame shown, not the position asked for.
      const onFrame = (/** @type {number} */ _now, /** @type {{mediaTime: number}} */ meta) => {
        this.#shown(meta.mediaTime);
        this.#frameCallback = video.requestVideoFrameCallback(onFrame);
      };
      this.#frameCallback = video.requestVideoFrameCallback(onFrame);
    } else {
      video.addEventListener('timeupdate', () => this.#shown(video.currentTime), { signal });
      video.addEventListener('seeked', () => this.#shown(video.currentTime), { signal });
    }
  }

  /**
   * @param {number} time
   * @param {boolean} play
   * @param {number} [lead] how much earlier than the moment the file begins
   */
  go(time, play, lead = LEAD_MS) {
    this.#playing = play;
    this.#target = time;
    clearTimeout(this.#retryTimer);
    const serial = ++this.#serial;
    const file = this.#file;
    if (file && !this.#busy && file.holds(time)) {
      this.#position(file.videoTime(time));
      return;
    }
    this.#load(time, lead, serial);
  }

  /** @param {number} speed */
  play(speed) {
    this.#speed = speed;
    this.#playing = true;
    this.#stepping = null;
    this.#video.playbackRate = speed;
    const file = this.#file;
    if (this.#busy) return; // it plays once loaded
    if (file && this.#video.ended) this.#continueAfter(file);
    else if (file) this.#startVideo();
    else if (this.#target !== null) this.go(this.#target, true); // after an end or an error
  }

  pause() {
    this.#playing = false;
    this.#video.pause();
    this.#report();
  }

  /** @param {1 | -1} frames */
  step(frames) {
    this.pause();
    const file = this.#file;
    if (!file || this.#busy || this.#shownAt === null) return;
    const frame = 1 / this.#fps(file.info.stream_id);
    // The browser shows the last frame at or before the time set. Half a frame past the next
    // frame's time (or before this one's) lands between two frames, whatever their jitter.
    // Back, the last frame before this one is always the previous; forward, a later next frame
    // is looked for further on (see #checkStep).
    const target = this.#shownAt + (frames > 0 ? 1.5 : -0.5) * frame;
    const duration = this.#video.duration;
    if (target >= 0 && target < duration) {
      this.#stepping = frames > 0 ? { from: this.#shownAt, target, frame, tries: 0 } : null;
      this.#video.currentTime = target;
      return;
    }
    // Beyond this file: load the one before or after, with the moment half a frame past the
    // next frame (or before this one), as above.
    const shown = file.wallAt(this.#shownAt);
    if (frames > 0) this.go(shown + 1.5 * frame * SECOND, false, 0);
    else this.go(shown - 0.5 * frame * SECOND, false, BACK_LEAD_MS);
  }

  /** After a forward step's seek: still the same frame on screen, one frame further. */
  #checkStep() {
    clearTimeout(this.#stepTimer);
    if (!this.#stepping) return;
    this.#stepTimer = setTimeout(() => {
      const step = this.#stepping;
      if (!step || this.#shownAt !== step.from) {
        this.#stepping = null;
        return;
      }
      const target = step.target + step.frame;
      if (step.tries >= STEP_TRIES || target >= this.#video.duration) {
        this.#stepping = null;
        return;
      }
      this.#stepping = { ...step, target, tries: step.tries + 1 };
      this.#video.currentTime = target;
    }, STEP_CHECK_MS);
  }

  stop() {
    this.#serial += 1;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#stepTimer);
    this.#stepping = null;
    this.#listeners.abort();
    if (this.#frameCallback) this.#video.cancelVideoFrameCallback(this.#frameCallback);
    this.#video.pause();
    this.#video.removeAttribute('src');
    this.#video.load();
    this.#file = null;
    this.#pending = null;
    this.#busy = false;
  }

  /**
   * @param {number} time
   * @param {number} lead
   * @param {number} serial
   */
  async #load(time, lead, serial) {
    this.#busy = true;
    this.#video.pause(); // the old file must not play on behind a frozen label
    this.#setState('loading', '');
    const id = this.#camera.id;
    let info;
    try {
      info = await api.getPlayback(id, toIso(time - lead), toIso(time + WINDOW_MS));
    } catch (error) {
      if (serial === this.#serial) this.#failed(error, time, serial);
      return;
    }
    if (serial !== this.#serial) return;
    this.#streamId = info.stream_id;
    const stream = this.#camera.streams.find((s) => s.id === info.stream_id);
    if (stream?.codec && !supportedCodecs().has(stream.codec)) {
      this.#hooks.onFallback('codec_unsupported');
      return;
    }
    const last = info.spans[info.spans.length - 1];
    if (!last || fromIso(last.wallclock) + last.duration * SECOND <= time) {
      // Recorded only before the moment (the lead): what comes next is elsewhere.
      this.#next(time, serial);
      return;
    }
    this.#file = null;
    this.#pending = { info, time };
    this.#video.src = api.playbackUrl(info);
  }

  #onMetadata() {
    const pending = this.#pending;
    if (!pending) return;
    this.#pending = null;
    this.#busy = false;
    const file = new LoadedFile(pending.info, editListShift(pending.info, this.#video.duration));
    this.#file = file;
    if (file.inGap(pending.time)) {
      const next = file.wallAt(file.videoTime(pending.time));
      this.#hooks.onNotice(skipped(pending.time, next));
    }
    this.#position(file.videoTime(pending.time));
  }

  /** @param {number} videoTime s */
  #position(videoTime) {
    const video = this.#video;
    this.#stepping = null; // a seek elsewhere ends a step's search
    video.currentTime = Math.min(Math.max(0, videoTime), video.duration || 0);
    if (this.#playing) this.#startVideo();
    else video.pause();
    this.#report();
  }

  #startVideo() {
    const video = this.#video;
    video.playbackRate = this.#speed;
    video.play().then(
      () => {
        this.#hasPlayed = true;
      },
      (error) => {
        // Autoplay refused (a phone in power-saving mode): the play button starts it.
        if (error && error.name === 'NotAllowedError') {
          this.#playing = false;
          this.#setState('paused', 'Tap play to start the video.');
        }
        // AbortError: a newer load replaced this one.
      },
    );
  }

  /** @param {number} videoTime the media time of the frame on screen */
  #shown(videoTime) {
    const file = this.#file;
    if (!file || this.#busy) return; // a frame of the file being replaced
    this.#shownAt = videoTime;
    this.#hooks.onFrame(file.wallAt(videoTime));
  }

  #onEnded() {
    const file = this.#file;
    if (file && this.#playing) this.#continueAfter(file);
    else this.#report();
  }

  /**
   * Plays on with what was recorded after a file, from where it ends. Always a new file: play()
   * on an ended video would start it over. No lead either, which would reach back into a
   * stream whose settings changed where the file ends.
   * @param {LoadedFile} file
   */
  #continueAfter(file) {
    this.#playing = true;
    this.#target = file.end;
    clearTimeout(this.#retryTimer);
    this.#load(file.end, 0, ++this.#serial);
  }

  /**
   * Where the next recording after a moment is, and playing on from there; at the live edge,
   * waiting for more.
   * @param {number} time
   * @param {number} serial
   */
  async #next(time, serial) {
    let next;
    try {
      next = await recordingStart(this.#camera.id, time, 'next', this.#streamId);
    } catch (error) {
      if (serial === this.#serial) this.#failed(error, time, serial);
      return;
    }
    if (serial !== this.#serial) return;
    if (next !== null) {
      this.#hooks.onNotice(skipped(time, next));
      this.go(next, this.#playing, 0);
      return;
    }
    if (Date.now() - time < LIVE_EDGE_MS) {
      this.#setState('loading', 'Waiting for more recorded video…');
      this.#busy = true;
      this.#retryTimer = setTimeout(() => {
        if (serial === this.#serial) this.#load(time, 0, serial);
      }, MORE_RETRY_MS);
      return;
    }
    this.#busy = false;
    this.#file = null;
    this.#setState('ended', `No recordings after ${clockText(time)}.`);
  }

  /**
   * @param {unknown} error
   * @param {number} time
   * @param {number} serial
   */
  #failed(error, time, serial) {
    if (!api.isStatus(error, 404)) this.#busy = false;
    if (api.isStatus(error, 401)) this.#hooks.onUnauthorized();
    else if (api.isStatus(error, 403)) this.#hooks.onFallback(this.#refusal());
    else if (api.isStatus(error, 404)) this.#next(time, serial);
    else this.#setState('error', error instanceof api.ApiError ? error.detail : String(error));
  }

  /** @returns {string} why the server refuses the camera's own video */
  #refusal() {
    return this.#camera.privacy_masks?.length ? 'privacy_mask' : 'direct_disabled';
  }

  /** The video could not load or decode the file: ask the server why, when it was the server. */
  async #onError() {
    const error = this.#video.error;
    const src = this.#video.currentSrc;
    if (!error || !src) return;
    const serial = this.#serial;
    const time = this.#target ?? Date.now();
    let status = 0;
    try {
      const probe = await fetch(src, {
        headers: { Range: 'bytes=0-0' },
        credentials: 'same-origin',
      });
      status = probe.status;
    } catch {
      status = 0;
    }
    if (serial !== this.#serial) return;
    if (status === 401) {
      this.#hooks.onUnauthorized();
    } else if (status === 403) {
      this.#hooks.onFallback(this.#refusal());
    } else if (status === 404) {
      this.#next(time, serial); // deleted by retention meanwhile
    } else if (status === 0 || error.code === MediaError.MEDIA_ERR_NETWORK) {
      this.#setState('error', 'No connection to the server.');
      this.#file = null;
      this.#pending = null;
      this.#busy = false;
      this.#retryTimer = setTimeout(() => this.go(time, this.#playing), BACKOFF_MAX_MS);
    } else {
      // The server sends it, and this browser cannot play it: JPEGs instead.
      this.#hooks.onFallback(this.#hasPlayed ? 'connection_lost' : 'not_started');
    }
  }

  /** @param {string} streamId @returns {number} */
  #fps(streamId) {
    const stream = this.#camera.streams.find((s) => s.id === streamId);
    return stream && stream.fps > 0 ? stream.fps : DEFAULT_FPS;
  }

  /** The state as the video element tells it. */
  #report() {
    const video = this.#video;
    if (this.#busy || !this.#file) return;
    if (video.ended && !this.#playing) this.#setState('paused', '');
    else if (video.paused) this.#setState('paused', this.#state === 'paused' ? this.#detail : '');
    else if (video.seeking || video.readyState < HTMLMediaElement.HAVE_FUTURE_DATA) {
      this.#setState('loading', '');
    } else {
      this.#setState('playing', '');
    }
  }

  /**
   * @param {PlaybackState} state
   * @param {string} detail
   */
  #setState(state, detail) {
    if (state === this.#state && detail === this.#detail) return;
    this.#state = state;
    this.#detail = detail;
    this.#hooks.onState(state, detail);
  }
}

// ---------------------------------------------------------------------------------------------
// Transcoded playback: JPEGs over the controlled-playback WebSocket

/** @implements {Engine} */
export class TranscodedEngine {
  /** @type {string} */ #cameraId;
  /** @type {EngineHooks} */ #hooks;
  /** @type {() => ({width: number, height: number} | null)} */ #size;
  /** @type {JpegSink<number>} */ #sink;
  /** @type {WebSocket | null} */ #socket = null;
  #playing = false;
  #speed = 1;
  /** The moment to (re)connect at: the last frame shown, or the last one asked for. */
  /** @type {number | null} */ #time = null;
  /** @type {number | null} the capture time announced for the next binary message */
  #frameTime = null;
  /** @type {number | null} the moment the open connection was asked to start at */
  #openedAt = null;
  #attempt = 0;
  #running = true;
  #ended = false;
  #lastError = '';
  /** @type {ReturnType<typeof setTimeout> | undefined} */ #retryTimer;
  /** @type {ReturnType<typeof setInterval> | undefined} */ #keepaliveTimer;

  /**
   * @param {HTMLImageElement} image
   * @param {string} cameraId
   * @param {() => ({width: number, height: number} | null)} size the JPEG size to ask for
   * @param {EngineHooks} hooks
   */
  constructor(image, cameraId, size, hooks) {
    this.#cameraId = cameraId;
    this.#hooks = hooks;
    this.#size = size;
    this.#sink = new JpegSink(image, (time) => {
      this.#time = time;
      this.#attempt = 0;
      hooks.onFrame(time);
    });
  }

  /**
   * @param {number} time
   * @param {boolean} play
   */
  go(time, play) {
    this.#playing = play;
    this.#time = time;
    this.#ended = false;
    if (this.#socket?.readyState === WebSocket.OPEN) {
      this.#send({ type: 'seek', time: toIso(time) });
      this.#sendPlayState();
      this.#hooks.onState('loading', '');
    } else if (!this.#socket) {
      this.#connect();
    }
  }

  /** @param {number} speed */
  play(speed) {
    this.#speed = speed;
    this.#playing = true;
    if (this.#ended && this.#time !== null) this.go(this.#time, true);
    else this.#sendPlayState();
  }

  pause() {
    this.#playing = false;
    this.#sendPlayState();
  }

  /** @param {1 | -1} frames */
  step(frames) {
    this.#playing = false; // the server pauses for a step
    this.#send({ type: 'step', frames });
  }

  stop() {
    this.#running = false;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#keepaliveTimer);
    const socket = this.#socket;
    this.#socket = null;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000);
    this.#sink.clear();
  }

  #connect() {
    if (!this.#running || this.#time === null) return;
    this.#lastError = '';
    this.#frameTime = null;
    this.#hooks.onState('loading', '');
    const at = this.#time;
    this.#openedAt = at;
    const socket = new WebSocket(api.playbackSocketUrl(this.#cameraId, toIso(at), this.#size()));
    socket.binaryType = 'arraybuffer';
    socket.addEventListener('open', () => {
      if (socket !== this.#socket) return;
      // A go() while connecting moved the moment.
      if (this.#time !== null && this.#time !== this.#openedAt) {
        this.#send({ type: 'seek', time: toIso(this.#time) });
      }
      this.#sendPlayState();
      clearInterval(this.#keepaliveTimer);
      this.#keepaliveTimer = setInterval(() => this.#send({ type: 'keepalive' }), KEEPALIVE_MS);
    });
    socket.addEventListener('message', (event) => {
      if (socket !== this.#socket) return;
      if (typeof event.data === 'string') this.#onText(event.data);
      else if (this.#frameTime !== null) {
        this.#sink.push(event.data, this.#frameTime);
        this.#frameTime = null;
      }
    });
    socket.addEventListener('close', (event) => {
      if (socket !== this.#socket) return;
      this.#socket = null;
      clearInterval(this.#keepaliveTimer);
      this.#onClose(event.code, event.reason);
    });
    this.#socket = socket;
  }

  /** @param {string} text */
  #onText(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return; // not ours to understand
    }
    switch (message.type) {
      case 'frame':
        this.#frameTime = fromIso(message.time);
        break;
      case 'state':
        // After "end" the server says "paused" too: the end is what matters then.
        if (message.state === 'playing') this.#ended = false;
        if (!this.#ended)
          this.#hooks.onState(message.state === 'playing' ? 'playing' : 'paused', '');
        break;
      case 'gap':
        this.#hooks.onNotice(skipped(fromIso(message.from), fromIso(message.to)));
        break;
      case 'end':
        this.#ended = true;
        this.#playing = false;
        if (message.time) this.#time = fromIso(message.time);
        this.#hooks.onState('ended', 'No more recordings.');
        break;
      case 'error':
        this.#lastError = String(message.detail || '');
        this.#hooks.onState('error', this.#lastError);
        break;
      default:
        break; // "playback" (the greeting) and newer messages need nothing here
    }
  }

  /**
   * @param {number} code
   * @param {string} reason
   */
  #onClose(code, reason) {
    if (!this.#running) return;
    const detail = this.#lastError || reason;
    if (code === CLOSE_UNAUTHORIZED) {
      this.#running = false;
      this.#hooks.onUnauthorized();
    } else if (FATAL_CLOSE_CODES.has(code)) {
      this.#running = false;
      this.#hooks.onState('error', detail || 'This camera cannot be played back.');
    } else if (!this.#ended) {
      // Dropped: go on where it was, after a pause that grows while it keeps failing.
      this.#hooks.onState('loading', detail || 'Reconnecting…');
      const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.#attempt);
      this.#attempt += 1;
      this.#retryTimer = setTimeout(() => this.#connect(), delay);
    }
  }

  #sendPlayState() {
    if (this.#playing) this.#send({ type: 'play', speed: this.#speed });
    else this.#send({ type: 'pause' });
  }

  /** @param {Record<string, unknown>} message */
  #send(message) {
    if (this.#socket?.readyState === WebSocket.OPEN) this.#socket.send(JSON.stringify(message));
  }
}
