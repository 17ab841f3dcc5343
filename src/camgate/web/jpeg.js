// Shows JPEG pictures that arrive over a WebSocket (transcoded live video and transcoded
// playback) in an <img>, without a blank gap between two pictures and without falling behind.

const JPEG_TYPE = 'image/jpeg';

/**
 * One <img> fed with JPEGs. One picture is decoded at a time, off screen; while it decodes,
 * only the newest waits (older ones are skipped), so at most two object URLs exist: the one
 * shown and the one decoding. The image then swaps to the decoded picture at once.
 *
 * Each picture may carry a tag (the capture time of a playback frame, say), handed back when
 * that very picture is on screen.
 * @template T
 */
export class JpegSink {
  /** @type {HTMLImageElement} */ #image;
  /** @type {(tag: T) => void} */ #onShown;
  /** @type {string | null} */ #shownUrl = null;
  /** @type {string | null} */ #loadingUrl = null;
  /** @type {{data: ArrayBuffer, tag: T} | null} */ #next = null;

  /**
   * @param {HTMLImageElement} image
   * @param {(tag: T) => void} onShown called once a picture is on screen
   */
  constructor(image, onShown) {
    this.#image = image;
    this.#onShown = onShown;
  }

  /**
   * A picture arrived.
   * @param {ArrayBuffer} data a JPEG
   * @param {T} tag
   */
  push(data, tag) {
    if (this.#loadingUrl !== null) {
      this.#next = { data, tag };
      return;
    }
    const url = URL.createObjectURL(new Blob([data], { type: JPEG_TYPE }));
    this.#loadingUrl = url;
    const loader = new Image();
    loader.src = url;
    loader.decode().then(
      () => this.#loaded(url, tag, true),
      () => this.#loaded(url, tag, false),
    );
  }

  /**
   * @param {string} url the object URL that was decoding
   * @param {T} tag
   * @param {boolean} ok whether it decoded
   */
  #loaded(url, tag, ok) {
    if (url !== this.#loadingUrl) return; // cleared meanwhile: already revoked
    this.#loadingUrl = null;
    if (ok) {
      this.#image.src = url;
      if (this.#shownUrl) URL.revokeObjectURL(this.#shownUrl);
      this.#shownUrl = url;
      this.#onShown(tag);
    } else {
      URL.revokeObjectURL(url); // a broken picture: the previous one stays on screen
    }
    const next = this.#next;
    this.#next = null;
    if (next) this.push(next.data, next.tag);
  }

  /** Forgets the pictures: revokes their object URLs and empties the image. */
  clear() {
    this.#next = null;
    for (const url of [this.#shownUrl, this.#loadingUrl]) if (url) URL.revokeObjectURL(url);
    this.#shownUrl = null;
    this.#loadingUrl = null;
    this.#image.removeAttribute('src');
  }
}
