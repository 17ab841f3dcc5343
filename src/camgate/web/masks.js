// The privacy masks editor (`#/camera/<id>/masks`, administrators): a current picture of the
// camera with its masks over it. Drag on it (mouse, finger or pen) to add a rectangle; tap one to
// select it. Masks are in fractions of the picture (0 to 1), the server's unit, so the overlay is
// an SVG whose viewBox is the unit square, stretched over the picture.

import * as api from './api.js';
import { h } from './dom.js';
import { cameraHref } from './views.js';

/** @typedef {import('./views.js').View} View */
/** @typedef {import('./views.js').ViewContext} ViewContext */
/** @typedef {import('./api.js').Camera} Camera */
/** @typedef {import('./api.js').Mask} Mask */

const SVG_NS = 'http://www.w3.org/2000/svg';
/** The server's limit per camera. */
const MAX_MASKS = 32;
/** A drag smaller than this (of the picture's width or height) is a tap, not a rectangle. */
const MIN_SIZE = 0.01;
/** Masks are sent with this many decimals: far finer than a pixel of an 8K picture. */
const DECIMALS = 4;

/**
 * @param {string} cameraId
 * @param {ViewContext} ctx
 * @returns {View}
 */
export function masksView(cameraId, ctx) {
  const heading = h('h1', { id: 'masks-title', tabindex: '-1' }, 'Privacy masks');
  const back = h(
    'a',
    { id: 'masks-back', class: 'button', href: cameraHref(cameraId) },
    h('span', { 'aria-hidden': 'true' }, '←'),
    'Camera',
  );
  const hint = h(
    'p',
    { class: 'hint' },
    'Drag on the picture to cover an area; tap or click a mask to select it. Masked areas are ' +
      'filled black in every picture that leaves the server, so this camera is always ' +
      'transcoded. Areas saved before are black in the picture too.',
  );
  const picture = /** @type {HTMLImageElement} */ (
    h('img', { id: 'mask-snapshot', alt: '', draggable: 'false' })
  );
  const overlay = /** @type {SVGSVGElement} */ (document.createElementNS(SVG_NS, 'svg'));
  overlay.id = 'mask-overlay';
  overlay.setAttribute('viewBox', '0 0 1 1');
  overlay.setAttribute('preserveAspectRatio', 'none');
  overlay.setAttribute('aria-hidden', 'true'); // the list below says the same in words
  const stage = h('div', { id: 'mask-stage', class: 'mask-stage' }, picture, overlay);
  const pictureNote = h('p', { id: 'mask-picture-note', class: 'hint' });
  const list = h('ul', { id: 'mask-list', class: 'mask-list', role: 'list', 'aria-label': 'Masks' });
  const problem = h('p', { id: 'mask-error', class: 'form-error', role: 'alert' });
  const saved = h('span', { id: 'mask-saved', class: 'saved', role: 'status' });
  const removeButton = h('button', { type: 'button', id: 'mask-remove', class: 'button' }, 'Remove selected');
  const clearButton = h('button', { type: 'button', id: 'mask-clear', class: 'button danger' }, 'Clear all');
  const reloadButton = h('button', { type: 'button', id: 'mask-reload', class: 'button' }, 'New picture');
  const saveButton = h('button', { type: 'button', id: 'mask-save', class: 'button primary' }, 'Save');
  const editor = h(
    'div',
    { class: 'mask-editor', hidden: true },
    hint,
    stage,
    pictureNote,
    list,
    problem,
    h('div', { class: 'form-actions' }, saveButton, removeButton, clearButton, reloadButton, saved),
  );
  const element = h(
    'section',
    { id: 'masks-view', class: 'view view-admin', 'aria-labelledby': 'masks-title' },
    h('div', { class: 'camera-head' }, back, heading),
    editor,
  );

  /** @type {Mask[]} */
  let masks = [];
  let selected = -1;
  let disposed = false;
  /**
   * The drag under way: where it began, its rectangle, and the mask it began on (-1: none),
   * which a tap selects.
   * @type {{pointerId: number, x: number, y: number, shape: SVGRectElement, on: number} | null}
   */
  let drawing = null;

  function render() {
    overlay.replaceChildren(
      ...masks.map((mask, index) => {
        const shape = rect(mask);
        shape.classList.add('mask');
        if (index === selected) shape.classList.add('selected');
        shape.dataset.index = String(index);
        return shape;
      }),
    );
    if (drawing) overlay.append(drawing.shape);
    list.replaceChildren(
      ...masks.map((mask, index) => {
        const item = h(
          'button',
          { type: 'button', class: 'mask-item', 'aria-pressed': String(index === selected) },
          `Mask ${index + 1}: ${describe(mask)}`,
        );
        item.addEventListener('click', () => select(index === selected ? -1 : index));
        return h('li', {}, item);
      }),
    );
    if (!masks.length) list.append(h('li', { class: 'empty' }, 'No masks: the whole picture is shown.'));
    removeButton.disabled = selected < 0;
    clearButton.disabled = !masks.length;
  }

  /** @param {number} index -1: none */
  function select(index) {
    selected = index;
    render();
  }

  /** Something changed that is not saved yet. */
  function changed() {
    saved.textContent = '';
    problem.textContent = '';
    render();
  }

  /**
   * The pointer's place in the picture, in fractions (clamped to it).
   * @param {PointerEvent} event
   * @returns {{x: number, y: number}}
   */
  function at(event) {
    const box = overlay.getBoundingClientRect();
    return {
      x: clamp((event.clientX - box.left) / (box.width || 1)),
      y: clamp((event.clientY - box.top) / (box.height || 1)),
    };
  }

  overlay.addEventListener('pointerdown', (event) => {
    if (drawing || (event.pointerType === 'mouse' && event.button !== 0)) return;
    event.preventDefault(); // no text selection, no dragging of the picture
    const target = /** @type {Element} */ (event.target);
    const index = target instanceof SVGRectElement ? target.dataset.index : undefined;
    const on = index === undefined ? -1 : Number(index);
    const start = at(event);
    overlay.setPointerCapture(event.pointerId); // keep drawing when the pointer leaves the picture
    const shape = rect({ ...start, width: 0, height: 0 });
    shape.classList.add('drawing');
    drawing = { pointerId: event.pointerId, ...start, shape, on };
    overlay.append(shape);
  });
  overlay.addEventListener('pointermove', (event) => {
    if (!drawing || event.pointerId !== drawing.pointerId) return;
    place(drawing.shape, box(drawing, at(event)));
  });
  overlay.addEventListener('pointerup', (event) => {
    if (!drawing || event.pointerId !== drawing.pointerId) return;
    const mask = box(drawing, at(event));
    const { on } = drawing;
    drawing.shape.remove();
    drawing = null;
    if (mask.width < MIN_SIZE || mask.height < MIN_SIZE) {
      select(on); // a tap: on a mask selects it, beside them selects none
      return;
    }
    if (masks.length >= MAX_MASKS) {
      problem.textContent = `A camera has at most ${MAX_MASKS} masks.`;
      render();
      return;
    }
    masks.push(rounded(mask));
    selected = masks.length - 1;
    changed();
  });
  overlay.addEventListener('pointercancel', () => {
    drawing?.shape.remove();
    drawing = null;
  });
  element.addEventListener('keydown', (event) => {
    const inField = event.target instanceof HTMLInputElement;
    if ((event.key === 'Delete' || event.key === 'Backspace') && selected >= 0 && !inField) {
      event.preventDefault();
      removeSelected();
    } else if (event.key === 'Escape' && selected >= 0) {
      select(-1);
    }
  });

  function removeSelected() {
    if (selected < 0) return;
    masks.splice(selected, 1);
    selected = -1;
    changed();
  }

  removeButton.addEventListener('click', removeSelected);
  clearButton.addEventListener('click', () => {
    masks = [];
    selected = -1;
    changed();
  });
  reloadButton.addEventListener('click', () => loadPicture());
  saveButton.addEventListener('click', save);

  async function save() {
    problem.textContent = '';
    saved.textContent = '';
    saveButton.disabled = true;
    try {
      const camera = await api.setPrivacyMasks(cameraId, masks);
      if (disposed) return;
      masks = (camera.privacy_masks || []).map(rounded);
      selected = Math.min(selected, masks.length - 1);
      render();
      saved.textContent = 'Saved';
      loadPicture(); // now masked by the server
    } catch (error) {
      if (disposed) return;
      if (error instanceof api.ApiError && error.status === 401) {
        ctx.sessionEnded();
        return;
      }
      // The masks stay as drawn, to be saved again.
      problem.textContent = `Not saved: ${error instanceof api.ApiError ? error.detail : error}`;
    } finally {
      saveButton.disabled = false;
    }
  }

  /**
   * Fetches a fresh picture. The stage takes the picture's shape, so that the overlay covers
   * exactly the picture and fractions of the overlay are fractions of the picture.
   */
  function loadPicture() {
    const url = new URL(api.snapshotUrl(cameraId));
    url.searchParams.set('at', String(Date.now())); // a new picture, not the one the browser has
    pictureNote.textContent = '';
    picture.src = url.href;
  }
  picture.addEventListener('load', () => {
    if (picture.naturalWidth && picture.naturalHeight) shape(picture.naturalWidth, picture.naturalHeight);
  });
  picture.addEventListener('error', () => {
    // 503 while the camera has sent no picture yet: masks can still be drawn on the frame.
    pictureNote.textContent = 'No picture from the camera right now. Try "New picture" in a moment.';
  });

  /**
   * @param {number} width
   * @param {number} height
   */
  function shape(width, height) {
    stage.style.aspectRatio = `${width} / ${height}`;
    // As wide as the page, but short enough to leave the buttons on the screen.
    stage.style.width = `min(100%, max(16rem, calc((100dvh - 18rem) * ${width / height})))`;
  }

  async function load() {
    /** @type {Camera} */
    let camera;
    try {
      camera = await api.getCamera(cameraId);
    } catch (error) {
      if (disposed) return;
      if (error instanceof api.ApiError && error.status === 401) {
        ctx.sessionEnded();
        return;
      }
      const notFound = error instanceof api.ApiError && error.status === 404;
      heading.textContent = notFound ? 'Camera not found' : 'Privacy masks';
      ctx.showError(error instanceof api.ApiError ? error.detail : String(error));
      return;
    }
    if (disposed) return;
    heading.textContent = `Privacy masks: ${camera.name}`;
    picture.alt = `Current picture of ${camera.name}`;
    const sized = [...camera.streams].sort((a, b) => b.width * b.height - a.width * a.height)[0];
    shape(sized?.width || 16, sized?.height || 9);
    masks = (camera.privacy_masks || []).map(rounded);
    editor.hidden = false;
    render();
    loadPicture();
  }

  load();
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
 * @param {number} value
 * @returns {number} within 0..1
 */
function clamp(value) {
  return Math.min(1, Math.max(0, value));
}

/**
 * The rectangle between where a drag began and where the pointer is.
 * @param {{x: number, y: number}} from
 * @param {{x: number, y: number}} to
 * @returns {Mask}
 */
function box(from, to) {
  return {
    x: Math.min(from.x, to.x),
    y: Math.min(from.y, to.y),
    width: Math.abs(to.x - from.x),
    height: Math.abs(to.y - from.y),
  };
}

/**
 * @param {Mask} mask
 * @returns {Mask} with DECIMALS decimals, never past the picture's edge
 */
function rounded(mask) {
  const round = (/** @type {number} */ value) => Number(value.toFixed(DECIMALS));
  const x = round(mask.x);
  const y = round(mask.y);
  return {
    x,
    y,
    width: Math.min(round(mask.width), round(1 - x)),
    height: Math.min(round(mask.height), round(1 - y)),
  };
}

/**
 * @param {Mask} mask
 * @returns {SVGRectElement}
 */
function rect(mask) {
  const shape = /** @type {SVGRectElement} */ (document.createElementNS(SVG_NS, 'rect'));
  place(shape, mask);
  return shape;
}

/**
 * @param {SVGRectElement} shape
 * @param {Mask} mask
 */
function place(shape, mask) {
  shape.setAttribute('x', String(mask.x));
  shape.setAttribute('y', String(mask.y));
  shape.setAttribute('width', String(mask.width));
  shape.setAttribute('height', String(mask.height));
}

/**
 * @param {Mask} mask
 * @returns {string} e.g. "from 10 % across, 20 % down; 30 % × 40 %"
 */
function describe(mask) {
  const pct = (/** @type {number} */ value) => `${Math.round(value * 100)} %`;
  return `from ${pct(mask.x)} across, ${pct(mask.y)} down; ${pct(mask.width)} × ${pct(mask.height)}`;
}
