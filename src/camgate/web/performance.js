// The performance settings page (`#/settings/performance`, administrators): the manual's
// Performance tab. Saving sends the whole section as a JSON merge patch; the server checks the
// rules (each enabled level strictly lower than the one before it) and says what is wrong.

import * as api from './api.js';
import { h } from './dom.js';
import { check, checkbox, detailOf, labelled, number, select, settingsTabs } from './forms.js';

/** @typedef {import('./views.js').View} View */
/** @typedef {import('./views.js').ViewContext} ViewContext */
/** @typedef {import('./api.js').Performance} Performance */
/** @typedef {import('./api.js').LimitationLevel} LimitationLevel */

const STREAMING_MODES = [
  ['optimize_video_quality', 'Optimize video quality'],
  ['optimize_server_performance', 'Optimize server performance'],
  ['optimize_low_bandwidth', 'Optimize for low bandwidth'],
];
const HARDWARE_DECODING = [
  ['auto', 'Auto'],
  ['off', 'Off'],
];

/**
 * @param {ViewContext} ctx
 * @returns {View}
 */
export function performanceView(ctx) {
  const heading = h('h1', { id: 'performance-title', tabindex: '-1' }, 'Performance settings');

  const direct = checkbox('perf-direct');
  const adaptive = checkbox('perf-adaptive');
  const mode = select('perf-mode', STREAMING_MODES);
  const hardware = select('perf-hardware', HARDWARE_DECODING);
  const level1 = levelInputs(1);
  const level2 = levelInputs(2);
  const level3 = levelInputs(3);

  const problem = h('p', { id: 'performance-error', class: 'form-error', role: 'alert' });
  const saved = h('span', { id: 'performance-saved', class: 'saved', role: 'status' });
  const submit = h('button', { type: 'submit', class: 'button primary' }, 'Save');
  // Disabled (with everything in it) until the settings have come.
  const body = /** @type {HTMLFieldSetElement} */ (
    h(
      'fieldset',
      { class: 'plain', disabled: true },
      h(
        'fieldset',
        {},
        h('legend', {}, 'Streaming'),
        check(direct, 'Direct streaming', "Send the camera's own video to clients that can play it."),
        check(adaptive, 'Adaptive streaming', 'Fit transcoded video to what each client shows.'),
        labelled(mode, 'Adaptive streaming mode'),
        labelled(hardware, 'Hardware decoding'),
      ),
      levelFieldset(1, level1, 'Always in force: the most that any client gets.'),
      levelFieldset(2, level2, 'Used while the CPU or the bandwidth is above its threshold.'),
      levelFieldset(3, level3, 'Used when the server is busier still: lower than the level before it.'),
      problem,
      h('div', { class: 'form-actions' }, submit, saved),
    )
  );
  const form = h(
    'form',
    { id: 'performance-form', class: 'card settings-form', 'aria-labelledby': 'performance-title' },
    body,
  );
  const element = h(
    'section',
    { id: 'performance-view', class: 'view view-admin', 'aria-labelledby': 'performance-title' },
    h('div', { class: 'admin-head' }, heading),
    settingsTabs('#/settings/performance'),
    form,
  );

  let disposed = false;

  /** @param {Performance} performance */
  function fill(performance) {
    direct.checked = performance.direct_streaming;
    adaptive.checked = performance.adaptive_streaming;
    mode.value = performance.streaming_mode;
    hardware.value = performance.hardware_decoding;
    level1.fill(performance.level1);
    level2.fill(performance.level2);
    level3.fill(performance.level3);
    followChoices();
  }

  /** Greys out what does not apply: the mode without adaptive streaming, a level not used. */
  function followChoices() {
    mode.disabled = !adaptive.checked;
    level2.follow();
    level3.follow();
  }

  /** @returns {Record<string, unknown>} the Performance section as the form says */
  function section() {
    return {
      direct_streaming: direct.checked,
      adaptive_streaming: adaptive.checked,
      streaming_mode: mode.value,
      hardware_decoding: hardware.value,
      level1: level1.value(),
      level2: level2.value(),
      level3: level3.value(),
    };
  }

  /** @param {string} text */
  function showProblem(text) {
    problem.textContent = text;
  }

  async function load() {
    showProblem('');
    let settings;
    try {
      settings = await api.getSettings();
    } catch (error) {
      if (disposed) return;
      if (error instanceof api.ApiError && error.status === 401) ctx.sessionEnded();
      else showProblem(`Could not get the settings: ${detailOf(error)}`);
      return;
    }
    if (disposed) return;
    fill(settings.performance);
    body.disabled = false;
  }

  form.addEventListener('input', () => {
    saved.textContent = '';
    followChoices();
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showProblem('');
    saved.textContent = '';
    submit.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      const settings = await api.patchSettings({ performance: section() });
      if (disposed) return;
      fill(settings.performance); // what the server keeps
      saved.textContent = 'Saved';
    } catch (error) {
      if (disposed) return;
      if (error instanceof api.ApiError && error.status === 401) {
        ctx.sessionEnded();
        return;
      }
      // The server's reason; the form keeps what was typed, to be corrected.
      showProblem(`Not saved: ${detailOf(error)}`);
    } finally {
      submit.disabled = false;
      form.removeAttribute('aria-busy');
    }
  });

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
 * The inputs of one level: `#perf-level<N>-fps`, `-width`, `-height`, and for levels 2 and 3
 * `-enabled`, `-cpu` (%) and `-bandwidth` (Mbit/s).
 * @param {number} index 1, 2 or 3
 */
function levelInputs(index) {
  const id = (/** @type {string} */ name) => `perf-level${index}-${name}`;
  const optional = index > 1;
  const enabled = optional ? checkbox(id('enabled')) : null;
  const cpu = optional ? number(id('cpu'), { min: 1, max: 100, step: 1 }) : null;
  const bandwidth = optional ? number(id('bandwidth'), { min: 0.1, max: 100000, step: 'any' }) : null;
  const fps = number(id('fps'), { min: 1, max: 60, step: 1 });
  const width = number(id('width'), { min: 16, max: 8192, step: 1 });
  const height = number(id('height'), { min: 16, max: 8192, step: 1 });
  const limits = [cpu, bandwidth, fps, width, height].filter((input) => input !== null);
  return {
    enabled,
    cpu,
    bandwidth,
    fps,
    width,
    height,
    /** @param {Partial<LimitationLevel>} level */
    fill(level) {
      if (enabled) enabled.checked = Boolean(level.enabled);
      if (cpu) cpu.value = String(level.cpu_threshold_pct);
      if (bandwidth) bandwidth.value = String(level.bandwidth_threshold_mbps);
      fps.value = String(level.max_fps);
      width.value = String(level.max_resolution?.width);
      height.value = String(level.max_resolution?.height);
    },
    /** A level that is not used keeps its values, greyed out. */
    follow() {
      if (enabled) limits.forEach((input) => (input.disabled = !enabled.checked));
    },
    /**
     * @returns {Record<string, unknown>} an unused level says only so: its greyed-out values
     *   stay as stored (a half-typed one would otherwise block saving for nothing)
     */
    value() {
      if (enabled && !enabled.checked) return { enabled: false };
      /** @type {Record<string, unknown>} */
      const level = {
        max_fps: Number(fps.value),
        max_resolution: { width: Number(width.value), height: Number(height.value) },
      };
      if (enabled) level.enabled = true;
      if (cpu) level.cpu_threshold_pct = Number(cpu.value);
      if (bandwidth) level.bandwidth_threshold_mbps = Number(bandwidth.value);
      return level;
    },
  };
}

/**
 * @param {number} index
 * @param {ReturnType<typeof levelInputs>} inputs
 * @param {string} hint
 * @returns {HTMLElement}
 */
function levelFieldset(index, inputs, hint) {
  const name = `Level ${index}`;
  return h(
    'fieldset',
    { id: `perf-level${index}`, class: 'level' },
    h('legend', {}, name),
    h('p', { class: 'hint' }, hint),
    inputs.enabled && check(inputs.enabled, `Use level ${index}`),
    h(
      'div',
      { class: 'level-grid' },
      inputs.cpu && labelled(inputs.cpu, 'CPU threshold (%)'),
      inputs.bandwidth && labelled(inputs.bandwidth, 'Bandwidth threshold (Mbit/s)'),
      labelled(inputs.fps, 'Max frames per second'),
      h(
        'fieldset',
        { class: 'resolution' },
        h('legend', {}, 'Max resolution (pixels)'),
        h(
          'div',
          { class: 'resolution-inputs' },
          labelled(inputs.width, 'Width'),
          h('span', { 'aria-hidden': 'true' }, '×'),
          labelled(inputs.height, 'Height'),
        ),
      ),
    ),
  );
}
