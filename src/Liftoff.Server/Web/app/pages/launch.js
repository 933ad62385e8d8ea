import { api, q } from '../api.js';
import { clear, h, link, pre, route } from '../dom.js';
import { canWrite, entity } from '../entity.js';
import * as format from '../format.js';
import { notify } from '../main.js';
import { check, fieldType } from '../schema.js';
import { constraints } from './job.js';

const PRIORITIES = ['critical', 'high', 'medium', 'low'];

/**
 * Launch a job: a form generated from the job version's input schema, the queue, its resource config (pre-filled with the
 * queue's defaults) and template variables, and a priority. Preview is the server's dry-run; Launch enqueues. Every value
 * is checked here first, naming the field, and the server checks it all again.
 */
export async function launchPage(ctx) {
  const [project, name] = ctx.params;
  const ref = ctx.query.get('ref');
  if (!canWrite()) {
    ctx.title(`Launch ${name}`);
    clear(ctx.main,
      h('div', { class: 'crumbs' }, link([], 'Projects'), ' / ', link(['projects', project], project), ' / ', link(['projects', project, 'jobs', name], name)),
      h('h1', {}, `Launch ${name}`),
      h('p', { class: 'errors', id: 'launch-refused' }, `Launching in ${entity()} needs the member role; you can read its jobs, runs and queues.`));
    return;
  }
  const [job, { queues }] = await Promise.all([
    api(`/api/v1/jobs/${q(project)}/${q(name)}${ref ? `?ref=${q(ref)}` : ''}`, { signal: ctx.signal }),
    api('/api/v1/queues', { signal: ctx.signal }),
  ]);
  const version = job.selected.artifact.version;
  const schema = job.selected.definition.input_types ?? {};
  ctx.title(`Launch ${name}:${version}`);
  // One key per visit to this page: a retried or double-clicked submit enqueues once.
  const idempotencyKey = [...crypto.getRandomValues(new Uint8Array(16))].map(b => b.toString(16).padStart(2, '0')).join('');
  const fields = new Map();
  const summary = h('div', { class: 'errors', id: 'form-errors', hidden: true, tabindex: -1, role: 'alert' });
  const previewBox = h('div', { id: 'preview' }, h('p', { class: 'muted' }, 'Preview shows what the agent will receive.'));
  const queueDependent = h('div');

  const versionSelect = h('select', { id: 'version', onchange: () => { location.hash = route(['projects', project, 'jobs', name, 'launch'], { ref: versionSelect.value }); } },
    job.versions.map(v => h('option', { value: v.version, selected: v.version === version }, v.aliases.length ? `${v.version} (${v.aliases.join(', ')})` : v.version)));
  const preferred = ctx.query.get('queue');
  const queueSelect = h('select', { id: 'queue', onchange: drawQueue },
    queues.map(x => h('option', { value: x.name, selected: x.name === preferred }, `${x.name} (${x.resource})`)));
  register('queue', queueSelect, null, () => ({ value: queueSelect.value, errors: queueSelect.value ? [] : [['queue', 'choose a queue; create one with liftoff queue create']] }));
  const prioritySelect = h('select', { id: 'priority' }, PRIORITIES.map(p => h('option', { value: p, selected: p === 'medium' }, p)));
  register('priority', prioritySelect, null, () => ({ value: prioritySelect.value, errors: [] }));

  const form = h('form', { class: 'form', novalidate: true, onsubmit: submit, 'aria-labelledby': 'launch-h' },
    summary,
    h('fieldset', {}, h('legend', {}, 'Job'),
      field('version', 'Version', versionSelect, 'Aliases are shown beside each version; the launch pins the version chosen here.')),
    h('fieldset', { id: 'config-fields' }, h('legend', {}, 'Run config'),
      h('p', { class: 'hint muted' }, 'From the job\'s input schema; defaults are filled in, required keys are marked *.'),
      configFields()),
    h('fieldset', {}, h('legend', {}, 'Queue'),
      queues.length === 0 ? h('p', { class: 'errors' }, 'You have no queues: create one with liftoff queue create NAME --resource local-process.') : null,
      field('queue', 'Queue', queueSelect),
      field('priority', 'Priority', prioritySelect, 'Higher priorities are claimed first; first in, first out within one.'),
      queueDependent),
    h('div', { class: 'actions' },
      h('button', { type: 'button', id: 'preview-button', onclick: preview }, 'Preview'),
      h('button', { type: 'submit', class: 'primary', id: 'submit-launch' }, 'Launch')));

  clear(ctx.main,
    h('div', { class: 'crumbs' }, link([], 'Projects'), ' / ', link(['projects', project], project), ' / ',
      link(['projects', project, 'jobs'], 'Jobs'), ' / ', link(['projects', project, 'jobs', name], name)),
    h('h1', { id: 'launch-h' }, `Launch ${name}:${version}`),
    h('div', { class: 'grid2' }, form, h('section', { 'aria-labelledby': 'preview-h' }, h('h2', { id: 'preview-h' }, 'Preview'), previewBox)));
  drawQueue();

  function field(id, label, control, hint, isRequired = false) {
    const error = [...fields.values()].find(e => e.control === control)?.error ?? h('p', { class: 'error', id: `${id}-error`, hidden: true });
    const hintEl = hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
    control.setAttribute('aria-describedby', [hintEl ? `${id}-hint` : null, error.id].filter(Boolean).join(' '));
    if (isRequired) {
      control.setAttribute('aria-required', 'true');
    }
    return h('div', { class: 'field' }, h('label', { for: id, class: isRequired ? 'required' : null }, label), control, hintEl, error);
  }

  function register(path, control, id, read) {
    fields.set(path, { control, read, error: h('p', { class: 'error', id: `${id ?? path}-error`, hidden: true }) });
  }

  function configFields() {
    const properties = Object.entries(schema.properties ?? {});
    if (properties.length === 0) {
      const editor = h('textarea', { id: 'config-json', rows: 6, spellcheck: 'false' }, JSON.stringify(schema.default ?? {}, null, 2));
      register('config', editor, 'config-json', () => {
        const parsed = parseJson(editor.value, 'config');
        if (parsed.errors.length === 0 && (typeof parsed.value !== 'object' || Array.isArray(parsed.value) || parsed.value === null)) {
          return { errors: [['config', 'config must be a JSON object of run config keys to values']] };
        }
        return parsed.errors.length ? parsed : { value: parsed.value, errors: check(schema, parsed.value, 'config') };
      });
      return field('config-json', 'Config (JSON object)', editor, 'The job accepts any config object.');
    }
    const required = new Set(schema.required ?? []);
    return properties.map(([key, property], i) => {
      const id = `cfg-${i}`;
      const path = `config.${key}`;
      const hasDefault = 'default' in property;
      const isRequired = required.has(key);
      const type = fieldType(property);
      let control;
      let read;
      if (type === 'enum' || type === 'boolean') {
        const choices = type === 'enum' ? property.enum : [true, false];
        control = h('select', { id },
          !hasDefault ? h('option', { value: '' }, isRequired ? 'choose…' : '—') : null,
          choices.map(c => h('option', { value: JSON.stringify(c), selected: hasDefault && JSON.stringify(c) === JSON.stringify(property.default) }, format.value(c))));
        read = () => control.value === '' ? absent() : present(JSON.parse(control.value));
      } else if (type === 'integer' || type === 'number') {
        control = h('input', { id, type: 'number', step: type === 'integer' ? 1 : 'any', inputmode: type === 'integer' ? 'numeric' : 'decimal',
          min: property.minimum, max: property.maximum, value: hasDefault ? String(property.default) : '' });
        read = () => control.validity.badInput ? { errors: [[path, `expected ${type}, got text that is not a number`]] }
          : control.value === '' ? absent() : present(Number(control.value));
      } else if (type === 'string') {
        control = h('input', { id, type: 'text', value: hasDefault ? property.default : '', autocomplete: 'off', spellcheck: 'false' });
        read = () => control.value === '' ? absent() : present(control.value);
      } else {
        control = h('textarea', { id, rows: 3, spellcheck: 'false' }, hasDefault ? JSON.stringify(property.default, null, 2) : '');
        read = () => {
          if (control.value.trim() === '') {
            return absent();
          }
          const parsed = parseJson(control.value, path);
          return parsed.errors.length ? parsed : present(parsed.value);
        };
      }
      const hint = [[property.type ?? 'any JSON'].flat().join(' | '), constraints(property), property.description].filter(Boolean).join(' · ');
      register(path, control, id, read);
      return field(id, key, control, hint, isRequired);

      function absent() {
        return { errors: isRequired && !hasDefault ? [[path, 'is required']] : [] };
      }
      function present(value) {
        return { value, errors: check(property, value, path) };
      }
    });
  }

  function drawQueue() {
    for (const path of [...fields.keys()].filter(p => p === 'resource_args' || p.startsWith('template_values.'))) {
      fields.delete(path);
    }
    const queue = queues.find(x => x.name === queueSelect.value);
    if (!queue) {
      clear(queueDependent);
      return;
    }
    const editor = h('textarea', { id: 'resource-args', rows: 8, spellcheck: 'false' }, JSON.stringify(queue.config, null, 2));
    register('resource_args', editor, 'resource-args', () => {
      const parsed = parseJson(editor.value.trim() === '' ? '{}' : editor.value, 'resource_args');
      if (parsed.errors.length === 0 && (typeof parsed.value !== 'object' || Array.isArray(parsed.value) || parsed.value === null)) {
        return { errors: [['resource_args', `resource args must be a JSON object of ${queue.resource} settings`]] };
      }
      return parsed;
    });
    clear(queueDependent,
      queue.template_variables.length === 0 ? null : h('fieldset', {}, h('legend', {}, 'Template variables'),
        queue.template_variables.map((v, i) => templateField(v, `tv-${i}`))),
      field('resource-args', `Resource config (${queue.resource})`, editor,
        'Pre-filled with the queue\'s defaults; your object is deep-merged over them (objects key by key, other values replaced). Macros such as ${run_id} and {{variable}} are substituted after merging.'));
  }

  function templateField(variable, id) {
    const path = `template_values.${variable.name}`;
    const bounds = variable.type === 'string'
      ? (variable.choices ? `one of ${variable.choices.join(', ')}` : 'a string')
      : `${variable.type}${variable.min === null && variable.max === null ? '' : ` in ${variable.min ?? ''}..${variable.max ?? ''}`}`;
    let control;
    if (variable.type === 'string' && variable.choices) {
      control = h('select', { id }, h('option', { value: '' }, 'choose…'), variable.choices.map(c => h('option', { value: c }, c)));
    } else if (variable.type === 'string') {
      control = h('input', { id, type: 'text', autocomplete: 'off' });
    } else {
      control = h('input', { id, type: 'number', step: variable.type === 'integer' ? 1 : 'any', min: variable.min ?? null, max: variable.max ?? null });
    }
    register(path, control, id, () => {
      if (control.value === '' && !control.validity?.badInput) {
        return { errors: [[path, `the queue requires ${variable.name} (${bounds})`]] };
      }
      if (variable.type === 'string') {
        return variable.choices && !variable.choices.includes(control.value)
          ? { errors: [[path, `'${control.value}' is not one of ${variable.choices.join(', ')}`]] }
          : { value: control.value, errors: [] };
      }
      const n = Number(control.value);
      if (control.validity.badInput || !Number.isFinite(n) || (variable.type === 'integer' && !Number.isInteger(n))) {
        return { errors: [[path, `${variable.name} must be ${variable.type === 'integer' ? 'an integer' : 'a number'} (${bounds})`]] };
      }
      if ((variable.min !== null && n < variable.min) || (variable.max !== null && n > variable.max)) {
        return { errors: [[path, `${n} is out of bounds for ${variable.name} (${bounds})`]] };
      }
      return { value: n, errors: [] };
    });
    return field(id, variable.name, control, bounds, true);
  }

  function parseJson(text, path) {
    try {
      return { value: JSON.parse(text), errors: [] };
    } catch (error) {
      return { errors: [[path, `is not valid JSON: ${error.message}`]] };
    }
  }

  /** The enqueue request, or every field that is wrong. */
  function gather() {
    const errors = [];
    const request = { job: `${name}:${version}`, project, priority: 'medium', idempotency_key: idempotencyKey };
    const config = {};
    const templateValues = {};
    let queue = '';
    for (const [path, entry] of fields) {
      const { value, errors: problems } = entry.read();
      errors.push(...problems);
      if (problems.length > 0 || value === undefined) {
        continue;
      }
      if (path === 'queue') {
        queue = value;
      } else if (path === 'priority') {
        request.priority = value;
      } else if (path === 'resource_args') {
        request.resource_args = value;
      } else if (path === 'config') {
        Object.assign(config, value);
      } else if (path.startsWith('config.')) {
        config[path.slice('config.'.length)] = value;
      } else if (path.startsWith('template_values.')) {
        templateValues[path.slice('template_values.'.length)] = value;
      }
    }
    request.config = config;
    request.template_values = templateValues;
    return { queue, request, errors };
  }

  function showErrors(errors) {
    for (const entry of fields.values()) {
      entry.control.removeAttribute('aria-invalid');
      entry.error.hidden = true;
      entry.error.textContent = '';
    }
    const items = [];
    for (const [path, message] of errors) {
      const entry = fieldFor(path);
      if (entry) {
        entry.control.setAttribute('aria-invalid', 'true');
        entry.error.hidden = false;
        entry.error.textContent = [entry.error.textContent, `${path}: ${message}`].filter(Boolean).join(' ');
      }
      items.push(h('li', {}, `${path}: ${message} `, entry ? h('button', { type: 'button', class: 'link', onclick: () => entry.control.focus() }, 'Go to field') : null));
    }
    summary.hidden = errors.length === 0;
    clear(summary, errors.length ? [h('strong', {}, 'Fix these fields before launching:'), h('ul', {}, items)] : []);
    if (errors.length) {
      summary.focus();
    }
  }

  /** The field a path belongs to: itself or its nearest registered parent (resource_args.env.A belongs to resource_args). */
  function fieldFor(path) {
    for (let p = path; p; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '') {
      const entry = fields.get(p.replace(/\[\d+\]$/, ''));
      if (entry) {
        return entry;
      }
    }
    return null;
  }

  function serverErrors(error) {
    const entries = Object.entries(error.errors ?? {}).flatMap(([path, messages]) => messages.map(m => [path, m]));
    return entries.length ? entries : [['request', error.message]];
  }

  async function preview() {
    const { queue, request, errors } = gather();
    showErrors(errors);
    if (errors.length) {
      return;
    }
    try {
      const spec = await api(`/api/v1/queues/${q(queue)}/dry-run`, { method: 'POST', body: request, signal: ctx.signal });
      clear(previewBox,
        h('p', { class: 'muted' }, `${spec.job} on ${spec.queue} (${spec.resource}), project ${spec.project}`),
        h('h3', {}, 'Entrypoint'), pre(spec.entrypoint.join(' ')),
        h('h3', {}, 'Run config'), pre(spec.config),
        h('h3', {}, 'Resource config'), pre(spec.resource_config),
        h('h3', {}, 'Environment'), pre(spec.environment));
    } catch (error) {
      showErrors(serverErrors(error));
    }
  }

  async function submit(event) {
    event.preventDefault();
    const { queue, request, errors } = gather();
    showErrors(errors);
    if (errors.length) {
      return;
    }
    const button = document.getElementById('submit-launch');
    button.disabled = true;
    try {
      const item = await api(`/api/v1/queues/${q(queue)}/items`, { method: 'POST', body: request });
      notify(`Launched ${item.job} on ${item.queue}: item ${item.id}`);
      location.hash = route(['queues', queue], { item: item.id });
    } catch (error) {
      showErrors(serverErrors(error));
    } finally {
      button.disabled = false;
    }
  }
}
