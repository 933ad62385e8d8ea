// The job input schema dialect (Liftoff.Core.Jobs.JsonSchemas), checked in the page so a bad value is named before it
// is sent; the server checks the same rules again on enqueue.

const typeName = v => v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'object' ? 'object' : typeof v;

function isType(type, v) {
  switch (type) {
    case 'integer': return typeof v === 'number' && Number.isInteger(v);
    case 'number': return typeof v === 'number' && Number.isFinite(v);
    case 'string': return typeof v === 'string';
    case 'boolean': return typeof v === 'boolean';
    case 'null': return v === null;
    case 'array': return Array.isArray(v);
    case 'object': return typeName(v) === 'object';
    default: return false;
  }
}

function describe(v) {
  return typeof v === 'number' ? `the number ${v}` : typeName(v) === 'string' ? 'a string' : typeName(v) === 'boolean' ? 'a boolean'
    : v === null ? 'null' : Array.isArray(v) ? 'an array' : 'an object';
}

function deepEqual(a, b) {
  return JSON.stringify(a) === JSON.stringify(b) || (typeof a === 'object' && typeof b === 'object' && a && b
    && Object.keys(a).length === Object.keys(b).length && Object.keys(a).every(k => deepEqual(a[k], b[k])));
}

/** Where value breaks schema: [[path, message], ...]; the messages match the server's. */
export function check(schema, value, path, errors = []) {
  if (schema === false) {
    errors.push([path, 'no value is allowed here']);
    return errors;
  }
  if (!schema || typeof schema !== 'object') {
    return errors;
  }
  if ('type' in schema) {
    const types = [schema.type].flat();
    if (!types.some(t => isType(t, value))) {
      errors.push([path, `expected ${types.join(' or ')}, got ${describe(value)}`]);
      return errors;
    }
  }
  if ('const' in schema && !deepEqual(schema.const, value)) {
    errors.push([path, `must be ${JSON.stringify(schema.const)}`]);
  }
  if (Array.isArray(schema.enum) && !schema.enum.some(c => deepEqual(c, value))) {
    errors.push([path, `must be one of ${schema.enum.map(c => JSON.stringify(c)).join(', ')}`]);
  }
  if (typeof value === 'number') {
    if ('minimum' in schema && value < schema.minimum) errors.push([path, `must be at least ${schema.minimum}`]);
    if ('maximum' in schema && value > schema.maximum) errors.push([path, `must be at most ${schema.maximum}`]);
    if ('exclusiveMinimum' in schema && value <= schema.exclusiveMinimum) errors.push([path, `must be above ${schema.exclusiveMinimum}`]);
    if ('exclusiveMaximum' in schema && value >= schema.exclusiveMaximum) errors.push([path, `must be below ${schema.exclusiveMaximum}`]);
    if ('multipleOf' in schema) {
      const quotient = value / schema.multipleOf;
      if (Math.abs(quotient - Math.round(quotient)) > 1e-9) errors.push([path, `must be a multiple of ${schema.multipleOf}`]);
    }
  } else if (typeof value === 'string') {
    const length = [...value].length;
    if ('minLength' in schema && length < schema.minLength) errors.push([path, `must be at least ${schema.minLength} characters`]);
    if ('maxLength' in schema && length > schema.maxLength) errors.push([path, `must be at most ${schema.maxLength} characters`]);
    if ('pattern' in schema) {
      let matched = false;
      try {
        matched = new RegExp(schema.pattern, 'u').test(value);
      } catch {
        matched = true; // A .NET-only pattern: leave it to the server.
      }
      if (!matched) errors.push([path, `must match the pattern ${schema.pattern}`]);
    }
  } else if (Array.isArray(value)) {
    if ('minItems' in schema && value.length < schema.minItems) errors.push([path, `must hold at least ${schema.minItems} items`]);
    if ('maxItems' in schema && value.length > schema.maxItems) errors.push([path, `must hold at most ${schema.maxItems} items`]);
    if (schema.uniqueItems === true) {
      const i = value.findIndex((item, i) => value.slice(0, i).some(earlier => deepEqual(earlier, item)));
      if (i > 0) errors.push([`${path}[${i}]`, 'repeats an earlier item; items must be unique']);
    }
    if ('items' in schema) value.forEach((item, i) => check(schema.items, item, `${path}[${i}]`, errors));
  } else if (typeName(value) === 'object') {
    const keys = Object.keys(value);
    if ('minProperties' in schema && keys.length < schema.minProperties) errors.push([path, `must have at least ${schema.minProperties} keys`]);
    if ('maxProperties' in schema && keys.length > schema.maxProperties) errors.push([path, `must have at most ${schema.maxProperties} keys`]);
    for (const name of schema.required ?? []) {
      if (!(name in value)) errors.push([child(path, name), 'is required']);
    }
    for (const key of keys) {
      if (schema.properties && key in schema.properties) {
        check(schema.properties[key], value[key], child(path, key), errors);
      } else if ('additionalProperties' in schema) {
        if (schema.additionalProperties === false) errors.push([child(path, key), 'is not a known key of this config']);
        else check(schema.additionalProperties, value[key], child(path, key), errors);
      }
    }
  }
  return errors;
}

const child = (path, name) => path ? `${path}.${name}` : name;

/** The one type a form field edits: the first non-null type, or none (a JSON editor). */
export function fieldType(schema) {
  if (Array.isArray(schema?.enum)) {
    return 'enum';
  }
  const types = [schema?.type ?? []].flat().filter(t => t !== 'null');
  return types.length === 1 ? types[0] : 'json';
}
