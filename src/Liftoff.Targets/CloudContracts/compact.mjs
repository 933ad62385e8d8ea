// Build step (run by CloudContracts.targets): compacts the published contracts of the sagemaker and vertex targets into
// the JSON that Liftoff.Core embeds. Nothing here is hand-written contract data; every shape, member, requirement and
// enum comes from the packages pinned by package-lock.json.
//
//   node compact.mjs <node_modules> <output directory>
//
// aws.json: for the SageMaker and CloudWatch Logs operations the runner calls, the shapes reachable from their input
// and output. Structure, required members and types come from the service model (aws-sdk/apis/*.min.json); the
// minified model drops enums, so each string's enum comes from the same package's TypeScript declarations
// (aws-sdk/clients/*.d.ts), walked in step with the model from the input and output types of the operation's method.
//
// vertex.json: every message and enum reachable from google.cloud.aiplatform.v1.CustomJob (custom_job.proto and the
// protos it imports), loaded with protobufjs. A field is required when its google.api.field_behavior says REQUIRED,
// or, as the protos say of MachineSpec.machine_type, when its comment says it is required "as part of [Message]".
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const [modules, out] = process.argv.slice(2);
const require = createRequire(path.join(path.resolve(modules), 'noop.js'));
const protobuf = require('protobufjs');

function awsService(modelFile, dtsFile, operations) {
  const model = JSON.parse(fs.readFileSync(path.join(modules, 'aws-sdk/apis', modelFile), 'utf8'));
  const dts = fs.readFileSync(path.join(modules, 'aws-sdk/clients', dtsFile), 'utf8');
  const interfaces = new Map();
  for (const match of dts.matchAll(/^ {2}export interface (\w+) \{\n([\s\S]*?)^ {2}\}/gm)) {
    const members = new Map();
    for (const member of match[2].matchAll(/^ {4}(\w+)\??: ([^;]+);/gm)) {
      members.set(member[1], member[2].trim());
    }
    interfaces.set(match[1], members);
  }
  const aliases = new Map();
  for (const match of dts.matchAll(/^ {2}export type (\w+) = (.+);$/gm)) {
    aliases.set(match[1], match[2]);
  }

  const shapes = {};
  const resolve = (shape) => (shape.shape ? { ...model.shapes[shape.shape], ...shape, shape: undefined } : shape);
  function walk(raw, typeName) {
    const shape = resolve(raw);
    const type = shape.type ?? 'string';
    const alias = aliases.get(typeName);
    if (type === 'structure') {
      if (shapes[typeName]) {
        return typeName;
      }
      const entry = { type, required: shape.required ?? [], members: {} };
      shapes[typeName] = entry;
      const dtsMembers = interfaces.get(typeName);
      if (!dtsMembers) {
        throw new Error(`${dtsFile} has no interface ${typeName}`);
      }
      for (const [name, member] of Object.entries(shape.members ?? {})) {
        const memberType = dtsMembers.get(name);
        if (!memberType) {
          throw new Error(`${dtsFile} interface ${typeName} has no member ${name}`);
        }
        entry.members[name] = walk(member, memberType);
      }
      return typeName;
    }
    if (type === 'list') {
      const element = /^(\w+)\[\]$/.exec(alias ?? '');
      if (!element) {
        throw new Error(`${dtsFile} type ${typeName} is not a list`);
      }
      shapes[typeName] ??= { type, member: walk(shape.member, element[1]) };
      return typeName;
    }
    if (type === 'map') {
      const value = /^\{\[key: string\]: (\w+)\}$/.exec(alias ?? '');
      if (!value) {
        throw new Error(`${dtsFile} type ${typeName} is not a map`);
      }
      shapes[typeName] ??= { type, value: walk(shape.value, value[1]) };
      return typeName;
    }
    if (type === 'string') {
      const literals = (alias ?? '').split('|').filter((part) => part.startsWith('"')).map((part) => JSON.parse(part));
      const name = literals.length > 0 ? typeName : 'string';
      shapes[name] ??= literals.length > 0 ? { type, enum: literals } : { type };
      return name;
    }
    shapes[type] ??= { type };
    return type;
  }

  const result = { metadata: model.metadata, operations: {}, shapes };
  for (const operation of operations) {
    const op = model.operations[operation];
    const method = operation[0].toLowerCase() + operation.slice(1);
    const signature = new RegExp(`^ {2}${method}\\(params: \\w+\\.Types\\.(\\w+), callback\\?: \\(err: AWSError, data: (?:\\w+\\.Types\\.(\\w+)|\\{\\})\\)`, 'm').exec(dts);
    if (!signature) {
      throw new Error(`${dtsFile} declares no method ${method}`);
    }
    result.operations[operation] = {
      input: walk(op.input ?? { type: 'structure', members: {} }, signature[1]),
      output: op.output ? walk(op.output, signature[2]) : null,
    };
  }
  return result;
}

function vertexMessages() {
  const protos = path.join(modules, '@google-cloud/aiplatform/build/protos');
  const gaxProtos = path.join(modules, 'google-gax/build/protos');
  const root = new protobuf.Root();
  root.resolvePath = (_, target) => [protos, gaxProtos].map((dir) => path.join(dir, target)).find((file) => fs.existsSync(file)) ?? target;
  root.loadSync('google/cloud/aiplatform/v1/custom_job.proto', { keepCase: false, alternateCommentMode: true });
  root.resolveAll();

  const messages = {};
  const enums = {};
  const wellKnown = new Set(['google.protobuf.Duration', 'google.protobuf.Timestamp', 'google.protobuf.Struct', 'google.protobuf.Value',
    'google.protobuf.ListValue', 'google.protobuf.BoolValue', 'google.protobuf.Int32Value', 'google.protobuf.Int64Value',
    'google.protobuf.StringValue', 'google.protobuf.DoubleValue', 'google.protobuf.FloatValue', 'google.protobuf.FieldMask']);
  const behaviours = (field) => (field.parsedOptions ?? []).flatMap((option) => Object.entries(option))
    .filter(([key]) => key === '(google.api.field_behavior)').map(([, value]) => value);

  function typeOf(field) {
    if (field.resolvedType instanceof protobuf.Enum) {
      const name = field.resolvedType.fullName.slice(1);
      enums[name] ??= Object.keys(field.resolvedType.values);
      return { kind: 'enum', name };
    }
    if (field.resolvedType instanceof protobuf.Type) {
      const name = field.resolvedType.fullName.slice(1);
      if (wellKnown.has(name)) {
        return { kind: 'wellKnown', name };
      }
      visit(field.resolvedType);
      return { kind: 'message', name };
    }
    return { kind: 'scalar', name: field.type };
  }

  function visit(type) {
    const name = type.fullName.slice(1);
    if (messages[name]) {
      return;
    }
    const entry = { fields: {} };
    messages[name] = entry;
    for (const field of type.fieldsArray) {
      const behaviour = behaviours(field);
      const requiredWithin = [...(field.comment ?? '').replace(/\s+/g, ' ')
        .matchAll(/part of \[(\w+)\]\[[\w.]+\] this field is required/g)].map((m) => m[1]);
      entry.fields[field.name] = {
        protoName: field.options?.json_name ?? field.name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
        ...typeOf(field),
        repeated: field.repeated,
        map: field.map ? { key: field.keyType } : undefined,
        required: behaviour.includes('REQUIRED'),
        requiredWithin: requiredWithin.length > 0 ? requiredWithin : undefined,
        outputOnly: behaviour.includes('OUTPUT_ONLY'),
        oneof: field.partOf && !field.partOf.name.startsWith('_') ? field.partOf.name : undefined,
      };
    }
  }

  visit(root.lookupType('google.cloud.aiplatform.v1.CustomJob'));
  return { messages, enums };
}

fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, 'sagemaker.json'), JSON.stringify(awsService('sagemaker-2017-07-24.min.json', 'sagemaker.d.ts',
  ['CreateTrainingJob', 'DescribeTrainingJob', 'StopTrainingJob', 'ListTrainingJobs', 'ListTags'])));
fs.writeFileSync(path.join(out, 'logs.json'), JSON.stringify(awsService('logs-2014-03-28.min.json', 'cloudwatchlogs.d.ts', ['DescribeLogStreams', 'GetLogEvents'])));
fs.writeFileSync(path.join(out, 'vertex.json'), JSON.stringify(vertexMessages()));
