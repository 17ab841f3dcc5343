// Small builders shared by the administrators' settings pages: labelled inputs, and the tabs
// that lead from one settings page to the other.

import * as api from './api.js';
import { h } from './dom.js';

/** The settings pages, in the order of their tabs: route hash and name. */
const SETTINGS_PAGES = [
  ['#/settings/performance', 'Performance'],
  ['#/settings/two-step', 'Two-step verification'],
];

/**
 * The tabs between the settings pages.
 * @param {string} current the hash of the page shown
 * @returns {HTMLElement}
 */
export function settingsTabs(current) {
  return h(
    'nav',
    { class: 'settings-tabs', 'aria-label': 'Settings' },
    ...SETTINGS_PAGES.map(([hash, name]) =>
      h('a', { href: hash, 'aria-current': hash === current ? 'page' : null }, name),
    ),
  );
}

/**
 * @param {unknown} error
 * @returns {string}
 */
export function detailOf(error) {
  return error instanceof api.ApiError ? error.detail : String(error);
}

/**
 * @param {string} id
 * @returns {HTMLInputElement}
 */
export function checkbox(id) {
  return /** @type {HTMLInputElement} */ (h('input', { id, type: 'checkbox' }));
}

/**
 * @param {string} id
 * @param {{min: number, max: number, step: number | string}} range the server's range
 * @returns {HTMLInputElement}
 */
export function number(id, { min, max, step }) {
  const inputmode = step === 'any' ? 'decimal' : 'numeric'; // the phone's keyboard
  return /** @type {HTMLInputElement} */ (
    h('input', { id, type: 'number', inputmode, required: true, min, max, step })
  );
}

/**
 * @param {string} id
 * @param {string[][]} options value and label
 * @returns {HTMLSelectElement}
 */
export function select(id, options) {
  return /** @type {HTMLSelectElement} */ (
    h('select', { id }, ...options.map(([value, label]) => h('option', { value }, label)))
  );
}

/**
 * @param {HTMLInputElement} input
 * @param {string} label
 * @param {string} [hint]
 * @returns {HTMLElement}
 */
export function check(input, label, hint) {
  return h(
    'div',
    { class: 'field' },
    h('label', { class: 'check', for: input.id }, input, label),
    hint && h('p', { class: 'hint' }, hint),
  );
}

/**
 * @param {HTMLElement} input
 * @param {string} label
 * @param {string} [hint]
 * @returns {HTMLElement}
 */
export function labelled(input, label, hint) {
  return h(
    'div',
    { class: 'field' },
    h('label', { for: input.id }, label),
    input,
    hint && h('p', { class: 'hint' }, hint),
  );
}
