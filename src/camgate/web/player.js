// The live player: fragmented MP4 over a WebSocket into Media Source Extensions, or native HLS
// where the browser has no MediaSource (older iOS Safari), or JPEG frames ("transcoded") on the
// same WebSocket when the server decides so or direct video does not work here.
//
// Protocol (see docs/ref/api.md): text {"type":"init","mime":…} then a binary init segment;
// binary moof+mdat fragments; or text {"type":"transcoded","reason":…,"width":…} then one binary
// JPEG per frame; text "drop", "status" and "error" notices; close codes 4401 (not logged in),
// 4403/4404/4422 (no access, no such camera, unsupported codec), 1011 (server error).
// Query: transcode=1 (ask for JPEG), fallback=not_started|connection_lost (why direct failed),
// width, height, fps (what the JPEGs should be).

import { JpegSink } from './jpeg.js';
import { codecName } from './streams.js';

/** @typedef {'connecting' | 'playing' | 'offline' | 'error'} PlayerState */
/** @typedef {{state: PlayerState, detail: string}} PlayerStatus */
/** @typedef {{codec: string, width: number, height: number, drops: number}} PlayerInfo */
/**
 * How the video comes: the camera's own stream, or JPEGs the server makes (and why).
 * @typedef {{delivery: 'direct' | 'transcoded', reason: string}} PlayerDelivery
 */
/**
 * @typedef {object} PlayerOptions
 * @property {(status: PlayerStatus) => void} [onStatus] called when the state or its detail changes
 * @property {(info: PlayerInfo) => void} [onInfo] called on each init (codec, size) and drop
 * @property {() => void} [onUnauthorized] the server says the session is gone (close 4401)
 * @property {string | null} [hlsUrl] the LL-HLS playlist, used only without MediaSource
 * @property {HTMLImageElement | null} [image] where JPEG frames are shown (class "jpeg"); without
 *   it the player never asks for them
 * @property {() => ({width: number, height: number} | null)} [size] the JPEG size to ask for
 * @property {number | null} [fps] the JPEG frame rate to ask for; null: no limit
 * @property {(delivery: PlayerDelivery) => void} [onDelivery] called when the delivery changes
 */

const HEVC_PROBE = 'video/mp4; codecs="hvc1.1.6.L93.B0"';

const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 10_000;
/** After this many failed reconnects in a row the player says "offline", not "connecting". */
const OFFLINE_AFTER_ATTEMPTS = 3;
/** Data waiting this long to be appended means the browser cannot keep up: start afresh. */
const MAX_QUEUE_AGE_MS = 2000;
const TICK_MS = 250;
/** Live-edge policy: jump when this far behind, speed up when between the two, else 1×. */
const JUMP_LAG_S = 1.5;
const JUMP_MARGIN_S = 0.3;
const CATCH_UP_LAG_S = 0.5;
const CATCH_UP_RATE = 1.1;
/** How close to the end of a range a stalled play position counts as stuck at its gap. */
const GAP_TOLERANCE_S = 0.1;
/** Buffered video kept behind the play position; older data is removed to bound memory. */
const KEEP_BEHIND_S = 10;
/** Without progress for this long, a playing video is shown as waiting for data. */
const STALL_MS = 3000;
const STALLED = 'Waiting for video…';
/** Close codes after which reconnecting cannot help. */
const FATAL_CLOSE_CODES = new Set([4403, 4404, 4422]);
const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_SERVER_ERROR = 1011;
/** Direct video that has not moved this long after it began to arrive falls back to JPEG. */
const START_TIMEOUT_MS = 10_000;
/** Decoder failures in a row (without progress between them) that make it fall back. */
const FALLBACK_AFTER_ERRORS = 2;

/**
 * The MediaSource implementation to use: ManagedMediaSource where present (iOS 17.1+ Safari
 * has only that one; elsewhere it lets the browser manage memory better), else MediaSource.
 * @returns {typeof MediaSource | null}
 */
export function mediaSourceClass() {
  return window.ManagedMediaSource || window.MediaSource || null;
}

/**
 * How this browser can play live video.
 * @returns {'mse' | 'hls' | null} null: not at all
 */
export function playbackMode() {
  if (mediaSourceClass()) return 'mse';
  if (document.createElement('video').canPlayType('application/vnd.apple.mpegurl')) return 'hls';
  return null;
}

/**
 * The codecs to announce to the server (`codecs=` of the live URLs). H.264 is assumed; H.265
 * only when the browser says it decodes it, since the server would otherwise send it anyway.
 * @param {'mse' | 'hls' | null} [mode]
 * @returns {Set<string>}
 */
export function supportedCodecs(mode = playbackMode()) {
  const codecs = new Set(['h264']);
  const hevc =
    mode === 'mse'
      ? mediaSourceClass().isTypeSupported(HEVC_PROBE)
      : mode === 'hls' && document.createElement('video').canPlayType(HEVC_PROBE) !== '';
  if (hevc) codecs.add('hevc');
  return codecs;
}

/**
 * `ws:`/`wss:` for a URL that may be relative or http(s).
 * @param {string} url
 * @returns {string}
 */
function toSocketUrl(url) {
  const parsed = new URL(url, document.baseURI);
  if (parsed.protocol === 'http:') parsed.protocol = 'ws:';
  if (parsed.protocol === 'https:') parsed.protocol = 'wss:';
  return parsed.href;
}

/**
 * One MediaSource with one SourceBuffer for one init segment. A new init from the server gets
 * a new MseSink: its timestamps and maybe its codec start over.
 */
class MseSink {
  /**
   * @param {HTMLVideoElement} video
   * @param {string} mime e.g. 'video/mp4; codecs="avc1.64001f"'
   * @param {{onAppended: () => void, onError: (error: unknown) => void}} hooks
   */
  constructor(video, mime, hooks) {
    this.video = video;
    this.mime = mime;
    this.hooks = hooks;
    /** @type {{data: ArrayBuffer, at: number}[]} */
    this.queue = [];
    /** @type {SourceBuffer | null} */
    this.sourceBuffer = null;
    this.closed = false;
    const Source = mediaSourceClass();
    this.mediaSource = new Source();
    const url = URL.createObjectURL(this.mediaSource);
    this.mediaSource.addEventListener('sourceopen', () => this.#open(url), { once: true });
    video.src = url;
  }

  /** @param {string} url the object URL, no longer needed once the video has opened it */
  #open(url) {
    URL.revokeObjectURL(url);
    if (this.closed) return;
    try {
      this.sourceBuffer = this.mediaSource.addSourceBuffer(this.mime);
      // Fragments carry their own timestamps (tfdt); 'segments' keeps them.
      this.sourceBuffer.mode = 'segments';
    } catch (error) {
      this.hooks.onError(error);
      return;
    }
    this.sourceBuffer.addEventListener('updateend', () => {
      if (this.closed) return;
      this.hooks.onAppended();
      this.pump();
    });
    this.sourceBuffer.addEventListener('error', () => {
      if (!this.closed) this.hooks.onError(new Error('the browser could not decode the video'));
    });
    this.pump();
  }

  /**
   * Queues data for appending.
   * @param {ArrayBuffer} data an init segment or whole moof+mdat fragments
   */
  push(data) {
    this.queue.push({ data, at: performance.now() });
    this.pump();
  }

  /** How long the oldest queued data has waited, in ms (0 when nothing waits). */
  get queueAgeMs() {
    return this.queue.length ? performance.now() - this.queue[0].at : 0;
  }

  /** Appends what is queued, or trims old data, when the SourceBuffer is free. */
  pump() {
    const buffer = this.sourceBuffer;
    if (this.closed || !buffer || buffer.updating) return;
    if (this.queue.length) {
      // Everything queued goes in one append: one frame per append would fall behind on a
      // slow phone while the server's GOP cache (up to 4 s of frames) arrives at once.
      const data = concat(this.queue.map((item) => item.data));
      this.queue = [];
      try {
        buffer.appendBuffer(data);
      } catch (error) {
        this.hooks.onError(error); // QuotaExceededError, or the MediaSource has closed
      }
      return;
    }
    this.#trim(buffer);
  }

  /** @param {SourceBuffer} buffer */
  #trim(buffer) {
    const ranges = buffer.buffered;
    if (!ranges.length) return;
    const start = ranges.start(0);
    const keepFrom = this.video.currentTime - KEEP_BEHIND_S;
    // Remove in chunks of a second or more rather than a frame at a time.
    if (keepFrom - start < 1) return;
    try {
      buffer.remove(start, keepFrom);
    } catch (error) {
      this.hooks.onError(error);
    }
  }

  /** Stops using this sink; the video element is left to the caller. */
  close() {
    this.closed = true;
    this.queue = [];
    this.sourceBuffer = null;
  }
}

/**
 * @param {ArrayBuffer[]} parts
 * @returns {ArrayBuffer | Uint8Array}
 */
function concat(parts) {
  if (parts.length === 1) return parts[0];
  const total = parts.reduce((sum, part) => sum + part.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(new Uint8Array(part), offset);
    offset += part.byteLength;
  }
  return out;
}

/**
 * Where to continue when the play position stands in (or at the edge of) a gap between
 * buffered ranges, as after frames were skipped.
 * @param {TimeRanges} ranges
 * @param {number} now
 * @returns {number | null} the start of the next range, or null when not at a gap
 */
function rangeAfterGap(ranges, now) {
  if (now < ranges.start(0)) return ranges.start(0);
  for (let i = 0; i + 1 < ranges.length; i += 1) {
    if (now >= ranges.end(i) - GAP_TOLERANCE_S && now < ranges.start(i + 1)) {
      return ranges.start(i + 1);
    }
  }
  return null;
}

/**
 * Plays one camera's live stream in a <video>, reconnecting by itself.
 *
 * The video element's `data-state` ("connecting" | "playing" | "offline" | "error") and
 * `data-drops` (frames the server skipped because this viewer was too slow) mirror the player.
 * In JPEG mode the video is hidden and the image shows the frames; it carries the same
 * `data-state` ("playing" once a JPEG was shown) and `data-frames` (JPEGs shown).
 *
 * Fallback: direct video that has not played within 10 s of arriving, or a decoder that fails
 * twice in a row or cannot take the codec, makes the player ask again with `fallback=` (and it
 * keeps asking so until stop()). A browser that plays neither MSE nor HLS asks `transcode=1`.
 */
export class LivePlayer {
  /** @type {HTMLVideoElement} */ #video;
  /** @type {string} */ #url;
  /** @type {PlayerOptions} */ #options;
  /** @type {'mse' | 'hls' | null} */ #mode;
  #running = false;
  /** @type {PlayerState} */ #state = 'connecting';
  #detail = '';
  #drops = 0;
  /** Failed connections since video last played; drives the backoff. */
  #attempt = 0;
  /** @type {WebSocket | null} */ #socket = null;
  /** @type {MseSink | null} */ #sink = null;
  /** @type {string | null} the mime of an announced init: its segment is the next binary */
  #pendingMime = null;
  /** Whether the current sink has media and the play position was set. */
  #started = false;
  /** The play position at the last tick that saw it move, and when (performance.now()). */
  #progress = { position: -1, at: 0 };
  /** The detail of the last "error" message, shown when the close follows. */
  #lastError = '';
  /** @type {PlayerInfo} */ #info = { codec: '', width: 0, height: 0, drops: 0 };
  /** @type {ReturnType<typeof setTimeout> | undefined} */ #retryTimer;
  /** @type {ReturnType<typeof setInterval> | undefined} */ #tickTimer;
  /** @type {AbortController | null} */ #listeners = null;
  /** @type {AbortController | null} */ #gesture = null;
  /** @type {null | 'requested' | 'not_started' | 'connection_lost'} sticky until stop() */
  #fallback = null;
  /** Whether direct video has advanced since start(). */
  #hasPlayed = false;
  /** When direct video began to arrive without playing yet (performance.now()), or null. */
  #waitingSince = /** @type {number | null} */ (null);
  /** Decoder failures since the video last advanced. */
  #decodeErrors = 0;
  /** @type {PlayerDelivery | null} */ #delivery = null;
  /** Whether the current connection sends JPEGs. */
  #jpeg = false;
  #frames = 0;
  /** @type {JpegSink<null> | null} shows the JPEGs in the image (null: no image given) */
  #jpegSink = null;
  #lastFrameAt = 0;
  /** The play position at the end of the last tick (after its own seeks); -1: none yet. */
  #lastPosition = -1;

  /**
   * @param {HTMLVideoElement} video muted, playsinline, autoplay
   * @param {string} url the live WebSocket URL (ws:, wss:, http(s): or relative)
   * @param {PlayerOptions} [options]
   */
  constructor(video, url, options = {}) {
    this.#video = video;
    this.#url = toSocketUrl(url);
    this.#options = options;
    this.#mode = playbackMode();
    if (this.#mode === 'mse' && mediaSourceClass() === window.ManagedMediaSource) {
      // Safari only opens a ManagedMediaSource on a video that cannot be AirPlayed.
      video.disableRemotePlayback = true;
    }
    video.dataset.state = this.#state;
    video.dataset.drops = '0';
    const image = options.image;
    if (image) {
      image.dataset.state = this.#state;
      image.dataset.frames = '0';
      this.#jpegSink = new JpegSink(image, () => this.#onJpegShown(image));
    }
  }

  /** @returns {PlayerDelivery | null} how the video comes now (null: not known yet) */
  get delivery() {
    return this.#delivery ? { ...this.#delivery } : null;
  }

  /** @returns {PlayerState} */
  get state() {
    return this.#state;
  }

  /** @returns {PlayerInfo} codec and size of the current init, and the frames dropped */
  get info() {
    return { ...this.#info };
  }

  /** Starts playing (again, after stop()). */
  start() {
    if (this.#running) return;
    this.#running = true;
    this.#attempt = 0;
    this.#fallback = null;
    this.#hasPlayed = false;
    this.#waitingSince = null;
    this.#decodeErrors = 0;
    if (this.#mode === null || (this.#mode === 'hls' && !this.#options.hlsUrl)) {
      if (!this.#options.image) {
        this.#setState('error', 'This browser cannot play live video.');
        return;
      }
      this.#fallback = 'requested'; // no direct video here at all: JPEGs from the start
    }
    this.#listeners = new AbortController();
    const signal = this.#listeners.signal;
    this.#video.addEventListener('playing', () => this.#onPlaying(), { signal });
    this.#video.addEventListener('error', () => this.#onVideoError(), { signal });
    if (this.#mode === 'hls') {
      // Native HLS tells nothing about the camera; a stall is the only sign it went away.
      this.#video.addEventListener('waiting', () => this.#onWaiting(), { signal });
    }
    this.#tickTimer = setInterval(() => this.#tick(), TICK_MS);
    this.#setState('connecting', '');
    // On the next turn: a new tile is laid out by then, so the JPEG size can be measured.
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => this.#connect(), 0);
  }

  /** Stops playing: closes the WebSocket and releases the decoder. */
  stop() {
    this.#running = false;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#tickTimer);
    this.#listeners?.abort();
    this.#listeners = null;
    this.#gesture?.abort();
    this.#gesture = null;
    this.#closeSocket();
    this.#closeMedia();
    this.#jpegSink?.clear();
    this.#showJpeg(false);
    this.#fallback = null;
    this.#delivery = null;
  }

  #connect() {
    if (!this.#running) return;
    if (this.#mode === 'hls' && !this.#fallback) this.#startHls();
    else this.#openSocket();
  }

  /** The live URL with the JPEG size and rate, and `transcode`/`fallback` when direct failed. */
  #socketUrl() {
    const url = new URL(this.#url);
    if (!this.#options.image) return url.href;
    if (this.#fallback === 'requested') url.searchParams.set('transcode', '1');
    else if (this.#fallback) url.searchParams.set('fallback', this.#fallback);
    const size = this.#options.size?.();
    if (size && size.width > 0 && size.height > 0) {
      url.searchParams.set('width', String(size.width));
      url.searchParams.set('height', String(size.height));
    }
    if (this.#options.fps) url.searchParams.set('fps', String(this.#options.fps));
    return url.href;
  }

  #openSocket() {
    this.#pendingMime = null;
    this.#lastError = '';
    this.#jpeg = false;
    let socket;
    try {
      socket = new WebSocket(this.#socketUrl());
    } catch (error) {
      this.#setState('error', `Bad live video address: ${error.message}`);
      return;
    }
    socket.binaryType = 'arraybuffer';
    // Events of a socket that has been replaced or closed by us are ignored.
    socket.addEventListener('message', (event) => {
      if (socket !== this.#socket) return;
      if (typeof event.data === 'string') this.#onText(event.data);
      else this.#onBinary(event.data);
    });
    socket.addEventListener('close', (event) => {
      if (socket !== this.#socket) return;
      this.#socket = null;
      this.#onClose(event.code, event.reason);
    });
    this.#socket = socket;
  }

  #closeSocket() {
    const socket = this.#socket;
    this.#socket = null;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000);
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
      case 'init':
        this.#onInit(message);
        break;
      case 'transcoded':
        this.#onTranscoded(message);
        break;
      case 'drop':
        // Not an error: the server skipped frames so this viewer stays live. Only counted.
        this.#drops += Number(message.frames) || 0;
        this.#video.dataset.drops = String(this.#drops);
        this.#emitInfo();
        break;
      case 'status':
        if (message.status === 'offline') {
          this.#waitingSince = null; // no video to blame the browser for
          this.#setState('offline', message.detail || '');
        } else if (this.#state !== 'playing') {
          // "connecting" or "online": video follows with a new init.
          this.#setState('connecting', message.detail || '');
        }
        break;
      case 'error':
        this.#lastError = message.detail || message.reason || '';
        break;
      default:
        break; // newer servers may send more; ignoring them is the compatible choice
    }
  }

  /** @param {{mime: string, codec?: string, width?: number, height?: number}} message */
  #onInit(message) {
    const Source = mediaSourceClass();
    if (!Source || !Source.isTypeSupported(message.mime)) {
      if (this.#canFallBack()) {
        this.#fallBack();
        return;
      }
      const codec = message.codec ? codecName(message.codec) : message.mime;
      this.#fail(`This browser cannot decode this camera's video (${codec}).`);
      return;
    }
    this.#jpeg = false;
    this.#showJpeg(false);
    this.#setDelivery({ delivery: 'direct', reason: '' });
    if (this.#waitingSince === null) this.#waitingSince = performance.now();
    this.#pendingMime = message.mime;
    this.#info = {
      codec: message.codec || '',
      width: message.width || 0,
      height: message.height || 0,
      drops: this.#drops,
    };
    this.#emitInfo();
  }

  /**
   * The server sends JPEGs from now on (again, when its limits change the output).
   * @param {{reason?: string, width?: number, height?: number}} message
   */
  #onTranscoded(message) {
    if (!this.#options.image) return; // never asked for: cannot happen with a current server
    if (!this.#jpeg) {
      this.#jpeg = true;
      this.#detachSink();
      this.#video.removeAttribute('src');
      this.#video.load();
      this.#waitingSince = null;
      this.#lastFrameAt = performance.now();
    }
    this.#showJpeg(true);
    this.#setDelivery({ delivery: 'transcoded', reason: String(message.reason || '') });
    this.#info = {
      codec: 'jpeg',
      width: message.width || 0,
      height: message.height || 0,
      drops: this.#drops,
    };
    this.#emitInfo();
  }

  /** @param {ArrayBuffer} data */
  #onBinary(data) {
    if (this.#jpeg) {
      this.#jpegSink?.push(data, null);
      return;
    }
    if (this.#pendingMime !== null) {
      this.#openSink(this.#pendingMime); // this message is its init segment
      this.#pendingMime = null;
    }
    if (!this.#sink) return; // media before any init cannot be decoded
    this.#sink.push(data);
    if (this.#sink.queueAgeMs > MAX_QUEUE_AGE_MS) {
      // Reconnecting is the cheap way to skip: the server starts again at a keyframe.
      this.#restart('Catching up…');
    }
  }

  /** @param {string} mime */
  #openSink(mime) {
    this.#sink?.close();
    this.#started = false;
    this.#lastPosition = -1;
    this.#sink = new MseSink(this.#video, mime, {
      onAppended: () => this.#onAppended(),
      onError: (error) => this.#onMediaError(error),
    });
    this.#setState('connecting', '');
  }

  #onAppended() {
    if (this.#started) return;
    const ranges = this.#video.buffered;
    if (!ranges.length) return; // only the init segment so far
    this.#started = true;
    // Timestamps are the time since the stream started: begin where the data begins.
    this.#video.currentTime = ranges.start(0);
    this.#play();
  }

  #play() {
    const promise = this.#video.play();
    if (!promise) return;
    promise.then(
      () => this.#onPlaying(),
      (error) => {
        // Autoplay refused (iOS Low Power Mode, strict browser settings): retry on a gesture.
        if (error && error.name === 'NotAllowedError') this.#playOnGesture();
        // AbortError: a newer load replaced this one; nothing to do.
      },
    );
  }

  #playOnGesture() {
    if (this.#gesture || !this.#running) return;
    this.#gesture = new AbortController();
    this.#setState(this.#state, 'Tap to play');
    const retry = () => {
      this.#gesture?.abort();
      this.#gesture = null;
      if (this.#running) this.#play();
    };
    const signal = this.#gesture.signal;
    document.addEventListener('pointerdown', retry, { signal, capture: true });
    document.addEventListener('keydown', retry, { signal, capture: true });
  }

  #onPlaying() {
    if (!this.#running || this.#video.paused) return;
    if (this.#mode === 'mse' && !this.#sink) return; // leftovers of a closed connection
    this.#attempt = 0; // video flows again: the next failure starts the backoff over
    if (this.#state === 'connecting' || this.#state === 'error') this.#setState('playing', '');
  }

  #onWaiting() {
    if (this.#state === 'playing') this.#setState('connecting', '');
  }

  /** Keeps the play position near the live edge without visible jumps where possible. */
  #tick() {
    if (this.#jpeg) {
      this.#watchFrames();
      return;
    }
    if (this.#mode === 'hls' && !this.#fallback) this.#watchHls();
    const video = this.#video;
    if (this.#waitingSince !== null && (this.#gesture || this.#heldByBrowser())) {
      this.#waitingSince = performance.now(); // not the stream's fault: count from later
    }
    if (
      this.#waitingSince !== null &&
      performance.now() - this.#waitingSince > START_TIMEOUT_MS &&
      this.#canFallBack()
    ) {
      this.#fallBack(); // video arrives but does not play here
      return;
    }
    if (!this.#sink || !this.#started || video.seeking) return;
    if (!video.paused && this.#lastPosition >= 0 && video.currentTime > this.#lastPosition) {
      this.#advanced();
    }
    const ranges = video.buffered;
    if (ranges.length) {
      // After a drop or a reconnect the newest data is in the last range; that is where live is.
      const last = ranges.length - 1;
      const end = ranges.end(last);
      const now = video.currentTime;
      const lag = end - now;
      const stalled = video.readyState < HTMLMediaElement.HAVE_FUTURE_DATA;
      const next = stalled ? rangeAfterGap(ranges, now) : null;
      if (lag > JUMP_LAG_S) {
        video.currentTime = Math.max(ranges.start(last), end - JUMP_MARGIN_S);
        this.#setRate(1);
      } else if (next !== null) {
        video.currentTime = next; // browsers do not play across a gap in the timestamps
      } else {
        this.#setRate(lag > CATCH_UP_LAG_S ? CATCH_UP_RATE : 1);
      }
    }
    this.#lastPosition = video.currentTime;
    if (this.#sink.queueAgeMs > MAX_QUEUE_AGE_MS) {
      this.#restart('Catching up…');
      return;
    }
    this.#watchProgress();
    this.#sink.pump(); // trims old data while idle
  }

  /** A frozen picture must not say "Live": after a while without progress, say "Connecting…". */
  #watchProgress() {
    const video = this.#video;
    const now = performance.now();
    if (video.paused) {
      this.#progress = { position: video.currentTime, at: now }; // not stalled: waiting for a tap
    } else if (video.currentTime !== this.#progress.position) {
      this.#progress = { position: video.currentTime, at: now };
      if (this.#state === 'connecting' && this.#detail === STALLED) this.#setState('playing', '');
    } else if (this.#state === 'playing' && now - this.#progress.at > STALL_MS) {
      this.#setState('connecting', STALLED);
    }
  }

  /** Direct video moves: it started, and decoder trouble so far was passing. */
  #advanced() {
    this.#hasPlayed = true;
    this.#waitingSince = null;
    this.#decodeErrors = 0;
  }

  /** Native HLS: the 10 s start rule counts from the moment the playlist was given. */
  #watchHls() {
    const video = this.#video;
    const position = video.currentTime;
    if (!video.paused && this.#lastPosition >= 0 && position > this.#lastPosition) this.#advanced();
    this.#lastPosition = position;
  }

  /**
   * Whether the browser could play but holds the video paused (autoplay refused, or Chrome
   * pausing a muted video scrolled out of sight): no reason to give up on direct video.
   * @returns {boolean}
   */
  #heldByBrowser() {
    const video = this.#video;
    return video.paused && video.readyState >= HTMLMediaElement.HAVE_FUTURE_DATA;
  }

  /** JPEG mode: no frame for a while shows "waiting", like a frozen video. */
  #watchFrames() {
    const quiet = performance.now() - this.#lastFrameAt;
    if (this.#state === 'playing' && quiet > STALL_MS) this.#setState('connecting', STALLED);
  }

  /** Whether this player may switch to JPEG (once: the choice stays until stop()). */
  #canFallBack() {
    return Boolean(this.#options.image) && this.#running && !this.#fallback;
  }

  /** Gives up on direct video for this player: asks again for JPEGs, saying why. */
  #fallBack() {
    this.#fallback = this.#hasPlayed ? 'connection_lost' : 'not_started';
    this.#waitingSince = null;
    this.#closeSocket();
    this.#closeMedia();
    this.#attempt = 0;
    this.#setState('connecting', 'Switching to transcoded video…');
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => this.#connect(), 0);
  }

  /**
   * One decoder failure; the second in a row without progress falls back to JPEG.
   * @returns {boolean} whether it fell back
   */
  #decodeFailed() {
    this.#decodeErrors += 1;
    if (this.#decodeErrors < FALLBACK_AFTER_ERRORS || !this.#canFallBack()) return false;
    this.#fallBack();
    return true;
  }

  /** @param {number} rate */
  #setRate(rate) {
    if (this.#video.playbackRate !== rate) this.#video.playbackRate = rate;
  }

  /** @param {unknown} error */
  #onMediaError(error) {
    if (!this.#running) return;
    const name = error && typeof error === 'object' && 'name' in error ? error.name : '';
    if (name === 'NotSupportedError') {
      if (this.#canFallBack()) this.#fallBack();
      else this.#fail("This browser cannot decode this camera's video.");
      return;
    }
    if (name !== 'QuotaExceededError' && this.#decodeFailed()) return;
    // QuotaExceededError, a decode error, a closed MediaSource: a fresh start cures them.
    this.#restart(name === 'QuotaExceededError' ? 'Catching up…' : 'Restarting the video…');
  }

  #onVideoError() {
    if (!this.#running || !this.#video.error || this.#jpeg) return;
    if (this.#mode === 'hls' && !this.#fallback) {
      // Native HLS says only "error": after a few in a row, call it offline.
      this.#closeMedia();
      if (this.#attempt >= OFFLINE_AFTER_ATTEMPTS) this.#retry('offline', 'No video from the camera.');
      else this.#retry('connecting', 'Reconnecting…');
    } else if (this.#sink) {
      if (this.#decodeFailed()) return;
      this.#restart('Restarting the video…');
    }
  }

  /**
   * @param {number} code
   * @param {string} reason
   */
  #onClose(code, reason) {
    if (!this.#running) return;
    // The last frame stays on screen, but what the old connection buffered no longer counts
    // as playing; the next init brings a fresh decoder.
    this.#detachSink();
    const detail = this.#lastError || reason;
    if (code === CLOSE_UNAUTHORIZED) {
      this.#fail(detail || 'Not logged in.');
      this.#options.onUnauthorized?.();
    } else if (FATAL_CLOSE_CODES.has(code)) {
      this.#fail(detail || 'This camera cannot be shown.');
    } else if (code === CLOSE_SERVER_ERROR) {
      // Often passing (a camera that is just being started): say so, and keep trying.
      this.#retry('error', detail || 'Server error.');
    } else if (this.#state === 'offline' || this.#attempt >= OFFLINE_AFTER_ATTEMPTS) {
      this.#retry('offline', this.#state === 'offline' ? this.#detail : 'No connection to the server.');
    } else {
      this.#retry('connecting', 'Reconnecting…');
    }
  }

  /**
   * Shows a state and connects again after the backoff delay (0.5 s doubling to 10 s).
   * @param {PlayerState} state
   * @param {string} detail
   */
  #retry(state, detail) {
    this.#setState(state, detail);
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.#attempt);
    this.#attempt += 1;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => this.#connect(), delay);
  }

  /**
   * Drops the connection and the decoder, and connects again.
   * @param {string} detail
   */
  #restart(detail) {
    this.#closeSocket();
    this.#closeMedia();
    this.#retry('connecting', detail);
  }

  /**
   * Stops for good (until start() is called again) and shows why.
   * @param {string} detail
   */
  #fail(detail) {
    this.stop();
    this.#setState('error', detail);
  }

  #startHls() {
    this.#setDelivery({ delivery: 'direct', reason: '' });
    if (this.#waitingSince === null) this.#waitingSince = performance.now();
    this.#video.src = this.#options.hlsUrl || '';
    this.#play();
  }

  /**
   * A JPEG is on screen: count it, and a picture that moves means the video plays.
   * @param {HTMLImageElement} image
   */
  #onJpegShown(image) {
    this.#frames += 1;
    image.dataset.frames = String(this.#frames);
    this.#lastFrameAt = performance.now();
    this.#attempt = 0;
    if (this.#state !== 'playing' && this.#jpeg && this.#running) this.#setState('playing', '');
  }

  /** @param {boolean} on show the image (JPEG mode) instead of the video */
  #showJpeg(on) {
    const image = this.#options.image;
    if (!image) return;
    image.hidden = !on;
    this.#video.hidden = on;
  }

  /** @param {PlayerDelivery} delivery */
  #setDelivery(delivery) {
    const old = this.#delivery;
    if (old && old.delivery === delivery.delivery && old.reason === delivery.reason) return;
    this.#delivery = delivery;
    this.#options.onDelivery?.({ ...delivery });
  }

  /** Stops feeding the video but leaves its last frame on screen. */
  #detachSink() {
    this.#lastPosition = -1;
    this.#sink?.close();
    this.#sink = null;
    this.#pendingMime = null;
    this.#started = false;
  }

  /** Detaches the media; the poster (the camera's snapshot) shows meanwhile. */
  #closeMedia() {
    this.#detachSink();
    this.#video.removeAttribute('src');
    this.#video.load();
    this.#setRate(1);
  }

  /**
   * @param {PlayerState} state
   * @param {string} detail
   */
  #setState(state, detail) {
    if (state === this.#state && detail === this.#detail) return;
    this.#state = state;
    this.#detail = detail;
    this.#video.dataset.state = state;
    if (this.#options.image) this.#options.image.dataset.state = state;
    this.#options.onStatus?.({ state, detail });
  }

  #emitInfo() {
    this.#info = { ...this.#info, drops: this.#drops };
    this.#options.onInfo?.({ ...this.#info });
  }
}
