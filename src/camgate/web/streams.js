// Choosing and describing a camera's streams (pure functions, no DOM).

/** @typedef {import('./api.js').Stream} Stream */

const CODEC_NAMES = { h264: 'H.264', hevc: 'H.265' };
/** The names of the sound codecs cameras send (FFmpeg's names as the server gives them). */
const AUDIO_NAMES = {
  aac: 'AAC',
  pcm_mulaw: 'G.711',
  pcm_alaw: 'G.711',
  adpcm_g726: 'G.726',
  adpcm_g726le: 'G.726',
  opus: 'Opus',
  mp3: 'MP3',
  mp2: 'MP2',
};

/**
 * Streams the client can decode. A stream whose codec is still unknown ("" until it has
 * connected once) counts as decodable: the server refuses it later if it is not.
 * @param {Stream[]} streams
 * @param {Set<string>} codecs codecs this browser decodes, e.g. {"h264"}
 * @returns {Stream[]} in the server's order (main stream first)
 */
export function decodableStreams(streams, codecs) {
  return streams.filter((stream) => !stream.codec || codecs.has(stream.codec));
}

/**
 * The lowest- or highest-resolution decodable stream.
 * @param {Stream[]} streams
 * @param {Set<string>} codecs
 * @param {'lowest' | 'highest'} which
 * @returns {Stream | null} null when no stream is decodable
 */
export function pickStream(streams, codecs, which) {
  const usable = decodableStreams(streams, codecs);
  if (!usable.length) return null;
  const known = usable.filter((stream) => stream.width * stream.height > 0);
  if (known.length) {
    const area = (/** @type {Stream} */ stream) => stream.width * stream.height;
    const better = which === 'lowest' ? (a, b) => area(a) < area(b) : (a, b) => area(a) > area(b);
    return known.reduce((best, stream) => (better(stream, best) ? stream : best));
  }
  // No size known yet: by convention a camera's first stream is its main (largest) one.
  return which === 'lowest' ? usable[usable.length - 1] : usable[0];
}

/**
 * A short label such as "1920×1080 · H.264 · 30 fps · G.711 sound".
 * @param {Stream} stream
 * @param {number} index position among the camera's streams (for streams of unknown size)
 * @returns {string}
 */
export function describeStream(stream, index) {
  const parts = [];
  parts.push(stream.width && stream.height ? `${stream.width}×${stream.height}` : `Stream ${index + 1}`);
  if (stream.codec) parts.push(codecName(stream.codec));
  if (stream.fps) parts.push(`${Math.round(stream.fps)} fps`);
  if (stream.audio) parts.push(`${AUDIO_NAMES[stream.audio] || stream.audio} sound`);
  return parts.join(' · ');
}

/**
 * A codec's display name.
 * @param {string} codec "h264", "hevc", …
 * @returns {string}
 */
export function codecName(codec) {
  return CODEC_NAMES[codec] || codec.toUpperCase();
}
