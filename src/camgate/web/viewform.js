// The form that creates or edits a view (`form#view-form`): a name, the cameras, the columns
// and, for administrators creating a view, whether it is shared.

import { h } from './dom.js';

/** @typedef {import('./api.js').Camera} Camera */
/** @typedef {import('./api.js').CameraView} CameraView */
/** @typedef {import('./api.js').NewView} NewView */
/** @typedef {import('./api.js').ViewPatch} ViewPatch */

/** The most columns a view may have (the server's limit). */
export const MAX_COLUMNS = 6;
/** Columns of a new view, the server's default. */
const DEFAULT_COLUMNS = 2;

/**
 * @typedef {object} ViewFormOptions
 * @property {Camera[]} cameras every camera the user may view, in the server's order
 * @property {CameraView | null} view the view to edit, or null to create one
 * @property {boolean} canShare offer the "shared" checkbox (administrators creating a view)
 * @property {(body: NewView | ViewPatch) => Promise<void>} save resolves when saved; a
 *   rejection keeps the form open (the caller has shown the error)
 * @property {() => void} cancel
 */

/**
 * @param {ViewFormOptions} options
 * @returns {{element: HTMLElement, focus: () => void}}
 */
export function viewForm({ cameras, view, canShare, save, cancel }) {
  const editing = view !== null;
  const name = /** @type {HTMLInputElement} */ (
    h('input', {
      id: 'view-name',
      name: 'name',
      type: 'text',
      required: true,
      maxlength: 100,
      autocomplete: 'off',
    })
  );
  name.value = view ? view.name : '';

  const chosen = new Set(view ? view.camera_ids : []);
  const boxes = cameras.map((camera) => {
    const box = /** @type {HTMLInputElement} */ (
      h('input', { type: 'checkbox', name: 'camera', value: camera.id })
    );
    box.checked = chosen.has(camera.id);
    return { camera, box };
  });
  const cameraList = boxes.length
    ? h(
        'ul',
        { class: 'checks', role: 'list' },
        ...boxes.map(({ camera, box }) => h('li', {}, h('label', { class: 'check' }, box, camera.name))),
      )
    : h('p', { class: 'empty' }, 'There are no cameras you may view.');

  const columns = /** @type {HTMLSelectElement} */ (h('select', { id: 'view-columns', name: 'columns' }));
  for (let count = 1; count <= MAX_COLUMNS; count += 1) {
    columns.append(h('option', { value: count }, String(count)));
  }
  columns.value = String((view && view.columns) || DEFAULT_COLUMNS);

  const shared = /** @type {HTMLInputElement} */ (
    h('input', { id: 'view-shared', type: 'checkbox', name: 'shared' })
  );
  const sharedField =
    !editing &&
    canShare &&
    h(
      'div',
      { class: 'field' },
      h('label', { class: 'check', for: 'view-shared' }, shared, 'Shared with every user'),
      h('p', { class: 'hint' }, 'Each user sees only the cameras their role may view.'),
    );

  const submit = h('button', { type: 'submit', class: 'button primary' }, editing ? 'Save' : 'Create view');
  const cancelButton = h('button', { type: 'button', class: 'button' }, 'Cancel');
  const title = editing ? 'Edit view' : 'New view';
  const form = h(
    'form',
    { id: 'view-form', class: 'card view-form', 'aria-labelledby': 'view-form-title' },
    h('h2', { id: 'view-form-title' }, title),
    h('div', { class: 'field' }, h('label', { for: 'view-name' }, 'Name'), name),
    h('fieldset', {}, h('legend', {}, 'Cameras'), cameraList),
    h('div', { class: 'field' }, h('label', { for: 'view-columns' }, 'Columns'), columns),
    sharedField,
    h('div', { class: 'form-actions' }, submit, cancelButton),
  );

  const checkedIds = () => boxes.filter(({ box }) => box.checked).map(({ camera }) => camera.id);

  /** @returns {NewView | ViewPatch} */
  function body() {
    // Sent as typed: the server trims it, and says so when nothing is left.
    const values = { name: name.value, columns: Number(columns.value) };
    if (!view) return { ...values, camera_ids: checkedIds(), shared: canShare && shared.checked };
    // Only send the cameras when they changed: the view may hold cameras this user cannot see,
    // which a full list would drop. Kept cameras keep the view's order; new ones go last.
    const picked = new Set(checkedIds());
    const kept = view.camera_ids.filter((id) => picked.has(id));
    if (kept.length === view.camera_ids.length && kept.length === picked.size) return values;
    const added = checkedIds().filter((id) => !chosen.has(id));
    return { ...values, camera_ids: [...kept, ...added] };
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      await save(body());
    } catch {
      // The caller said why in the error region; the form stays as typed.
    } finally {
      submit.disabled = false;
      form.removeAttribute('aria-busy');
    }
  });
  cancelButton.addEventListener('click', () => cancel());
  form.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') cancel();
  });
  return { element: form, focus: () => name.focus() };
}
