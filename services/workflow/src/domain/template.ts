import {
  create,
  type JsonObject,
  type JsonValue,
  type MessageInitShape,
} from '@bufbuild/protobuf';
import { invalid, limitText, requireId, requireText, show } from '@cim/kernel';
import {
  JoinMode,
  StepType,
  TemplateNodeKind,
  TimerKind,
  WorkflowEventSchema,
  type CreateWorkflowFromTemplate,
  type JoinPolicy,
  type TemplateNode,
  type TimerSpec,
  type WorkflowEvent,
  type WorkflowTemplate,
} from '@cim/proto/cim/workflow/v1/workflow_pb';
import {
  LIMITS,
  requireStepType,
  validateStruct,
  valueToJson,
} from './rules.js';
import { isHuman } from './state.js';

type StepAddedInit = Extract<
  NonNullable<MessageInitShape<typeof WorkflowEventSchema>['body']>,
  { case: 'stepAdded' }
>['value'];

/** The step type each node kind becomes; TASK nodes name their own. */
const STEP_TYPE_OF: Readonly<Record<TemplateNodeKind, StepType>> = {
  [TemplateNodeKind.UNSPECIFIED]: StepType.UNSPECIFIED,
  [TemplateNodeKind.START]: StepType.START,
  [TemplateNodeKind.TASK]: StepType.UNSPECIFIED,
  [TemplateNodeKind.DECISION]: StepType.DECISION,
  [TemplateNodeKind.PARALLEL]: StepType.PARALLEL,
  [TemplateNodeKind.JOIN]: StepType.JOIN,
  [TemplateNodeKind.TIMER]: StepType.TIMER,
  [TemplateNodeKind.END]: StepType.END,
};

const PARAMETER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
// A reference ends at the first `}` and holds no `$`: with `[^}]*`, text of
// many `${` and no `}` made every start scan to the end (minutes for 1 MiB).
const REFERENCE = /\$\{([^}$]*)\}/g;
const WHOLE_REFERENCE = /^\$\{([^}$]*)\}$/;

/**
 * Checks a CreateWorkflowFromTemplate and expands it into WorkflowCreated
 * plus one StepAdded per node, in a topological order (each step after the
 * steps it depends on, ties in node order), so folding the events builds
 * the template's DAG. Pure; throws VALIDATION_FAILED naming the first fault
 * of the definition or its parameters. The caller checks that the workflow
 * does not exist yet. O(nodes + edges + text).
 */
export function expandTemplate(
  command: CreateWorkflowFromTemplate,
  actor: string,
): WorkflowEvent[] {
  const { workflowId, template, metadata } = command;
  requireId(workflowId, 'workflow_id');
  if (template === undefined) invalid('template is required');
  requireText(template.name, 'template.name', LIMITS.name);
  if (template.version === 0) invalid('template.version must be at least 1');
  limitText(template.description, 'template.description', LIMITS.description);
  validateStruct(metadata, 'metadata', true);
  const values = resolveParameters(template, command.parameters);
  const nodes = checkNodes(template);
  const inputs = checkEdges(template, nodes);
  checkShape(template.nodes, inputs);
  const order = topologicalOrder(template, inputs);
  const name = command.name !== '' ? command.name : template.name;
  requireText(name, 'name', LIMITS.name);
  const description = substitute(
    template.description,
    values,
    'template.description',
  );
  limitText(description, 'template.description', LIMITS.description);
  const created = create(WorkflowEventSchema, {
    body: {
      case: 'created',
      value: {
        workflowId,
        name,
        description,
        createdBy: actor,
        templateName: template.name,
        templateVersion: template.version,
        templateParameters: Object.fromEntries(values),
        ...(metadata && { metadata }),
      },
    },
  });
  return [
    created,
    ...order.map((index) =>
      create(WorkflowEventSchema, {
        body: {
          case: 'stepAdded',
          value: stepOf(
            workflowId,
            template.nodes[index]!,
            index,
            inputs.get(template.nodes[index]!.nodeId) ?? [],
            values,
          ),
        },
      }),
    ),
  ];
}

/** Declared parameters with the values used: supplied, else the default, else null. */
function resolveParameters(
  template: WorkflowTemplate,
  supplied: JsonObject | undefined,
): Map<string, JsonValue> {
  const { parameters } = template;
  if (parameters.length > LIMITS.templateParameters) {
    invalid(
      `template.parameters must hold at most ${LIMITS.templateParameters} parameters, got ${parameters.length}`,
    );
  }
  const values = new Map<string, JsonValue>();
  parameters.forEach((parameter, i) => {
    const field = `template.parameters[${i}]`;
    if (!PARAMETER.test(parameter.name)) {
      invalid(
        `${field}.name must match [A-Za-z_][A-Za-z0-9_]{0,63}, got ${show(parameter.name)}`,
      );
    }
    if (values.has(parameter.name)) {
      invalid(`${field} repeats the parameter ${show(parameter.name)}`);
    }
    limitText(parameter.description, `${field}.description`, LIMITS.text);
    let fallback: JsonValue = null;
    if (parameter.defaultValue !== undefined) {
      if (parameter.required) {
        invalid(`${field} is required and cannot have a default`);
      }
      const json = valueToJson(parameter.defaultValue);
      if (json === undefined) {
        invalid(
          `${field}.default_value must be a JSON value with finite numbers`,
        );
      }
      fallback = json;
    }
    values.set(parameter.name, fallback);
  });
  validateStruct(supplied, 'parameters', false);
  for (const [key, value] of Object.entries(supplied ?? {})) {
    if (!values.has(key)) {
      invalid(
        `parameters names ${show(key)}, which the template does not declare`,
      );
    }
    values.set(key, value);
  }
  for (const parameter of parameters) {
    if (parameter.required && !Object.hasOwn(supplied ?? {}, parameter.name)) {
      invalid(`parameter ${show(parameter.name)} is required`);
    }
  }
  return values;
}

/** Checks every node's own fields; answers node id → index. */
function checkNodes(template: WorkflowTemplate): Map<string, number> {
  const { nodes } = template;
  if (nodes.length === 0) invalid('template.nodes must not be empty');
  if (nodes.length > LIMITS.steps) {
    invalid(
      `template.nodes must hold at most ${LIMITS.steps} nodes, got ${nodes.length}`,
    );
  }
  const index = new Map<string, number>();
  nodes.forEach((node, i) => {
    const field = `template.nodes[${i}]`;
    requireId(node.nodeId, `${field}.node_id`);
    if (index.has(node.nodeId)) {
      invalid(`${field} repeats the node id ${show(node.nodeId)}`);
    }
    index.set(node.nodeId, i);
    const { kind } = node;
    if (kind === TemplateNodeKind.UNSPECIFIED)
      invalid(`${field}.kind is required`);
    if (TemplateNodeKind[kind] === undefined) {
      invalid(`${field}.kind ${kind} is not a known node kind`);
    }
    if (kind === TemplateNodeKind.TASK) {
      requireStepType(node.stepType, node.customType, `${field}.`);
    } else if (
      node.stepType !== StepType.UNSPECIFIED ||
      node.customType !== ''
    ) {
      invalid(`${field}.step_type and custom_type are only for TASK nodes`);
    }
    if (node.maxRetries > LIMITS.maxRetries) {
      invalid(
        `${field}.max_retries must be at most ${LIMITS.maxRetries}, got ${node.maxRetries}`,
      );
    }
    if (
      node.assignedTo !== undefined &&
      !(kind === TemplateNodeKind.TASK && isHuman(node.stepType))
    ) {
      invalid(
        `${field}.assigned_to is only for manual and approval TASK nodes`,
      );
    }
    if (node.join !== undefined && kind !== TemplateNodeKind.JOIN) {
      invalid(`${field}.join is only for JOIN nodes`);
    }
    if (kind === TemplateNodeKind.TIMER) {
      checkTimer(node.timer, `${field}.timer`);
    } else if (node.timer !== undefined) {
      invalid(`${field}.timer is only for TIMER nodes`);
    }
    validateStruct(node.config, `${field}.config`, true);
  });
  return index;
}

function checkTimer(timer: TimerSpec | undefined, field: string): void {
  if (timer === undefined) invalid(`${field} is required for a TIMER node`);
  if (
    timer.kind === TimerKind.UNSPECIFIED ||
    TimerKind[timer.kind] === undefined
  ) {
    invalid(`${field}.kind must be a known timer kind`);
  }
  if (timer.minutes > LIMITS.timerMinutes) {
    invalid(
      `${field}.minutes must be at most ${LIMITS.timerMinutes}, got ${timer.minutes}`,
    );
  }
  if (timer.seconds > 59) {
    invalid(`${field}.seconds must be at most 59, got ${timer.seconds}`);
  }
  if (timer.minutes === 0 && timer.seconds === 0) {
    invalid(`${field} must run at least one second (minutes or seconds)`);
  }
}

/** Checks the edges; answers node id → its inputs (sources of edges into it), in edge order. */
function checkEdges(
  template: WorkflowTemplate,
  nodes: ReadonlyMap<string, number>,
): Map<string, string[]> {
  const { edges } = template;
  if (edges.length > LIMITS.templateEdges) {
    invalid(
      `template.edges must hold at most ${LIMITS.templateEdges} edges, got ${edges.length}`,
    );
  }
  const inputs = new Map<string, string[]>();
  edges.forEach(({ from, to }, i) => {
    const field = `template.edges[${i}]`;
    if (!nodes.has(from)) invalid(`${field}.from names no node: ${show(from)}`);
    if (!nodes.has(to)) invalid(`${field}.to names no node: ${show(to)}`);
    if (from === to) invalid(`${field} joins ${show(from)} to itself`);
    const into = inputs.get(to) ?? [];
    if (into.includes(from)) {
      invalid(`${field} repeats the edge ${show(from)} → ${show(to)}`);
    }
    into.push(from);
    inputs.set(to, into);
  });
  return inputs;
}

/**
 * Exactly one START (no inputs), at least one END (no outputs), every other
 * node with inputs and outputs, and join policies that fit their inputs.
 */
function checkShape(
  nodes: readonly TemplateNode[],
  inputs: ReadonlyMap<string, readonly string[]>,
): void {
  const outputs = new Set<string>();
  for (const into of inputs.values())
    for (const from of into) outputs.add(from);
  const starts = nodes.filter((n) => n.kind === TemplateNodeKind.START);
  if (starts.length !== 1) {
    invalid(
      `the template must have exactly one START node, it has ${starts.length}`,
    );
  }
  if (!nodes.some((n) => n.kind === TemplateNodeKind.END)) {
    invalid('the template must have at least one END node');
  }
  for (const node of nodes) {
    const id = show(node.nodeId);
    const into = inputs.get(node.nodeId) ?? [];
    if (node.kind === TemplateNodeKind.START) {
      if (into.length > 0) invalid(`START node ${id} must have no inputs`);
    } else if (into.length === 0) {
      invalid(`node ${id} has no inputs: only the START node starts a flow`);
    }
    if (node.kind === TemplateNodeKind.END) {
      if (outputs.has(node.nodeId))
        invalid(`END node ${id} must have no outputs`);
    } else if (!outputs.has(node.nodeId)) {
      invalid(`node ${id} has no outputs: only END nodes end a flow`);
    }
    if (node.join !== undefined) checkJoin(node.join, into, id);
  }
}

function checkJoin(
  join: JoinPolicy,
  inputs: readonly string[],
  id: string,
): void {
  const { mode, count } = join;
  if (mode === JoinMode.UNSPECIFIED || JoinMode[mode] === undefined) {
    invalid(`join of node ${id} needs a known mode`);
  }
  if (mode === JoinMode.WAIT_COUNT) {
    if (count < 1 || count > inputs.length) {
      invalid(
        `join of node ${id} waits for ${count} inputs; it must be within 1 and its ${inputs.length} inputs`,
      );
    }
  } else if (count !== 0) {
    invalid(`join of node ${id}: count is only for JOIN_MODE_WAIT_COUNT`);
  }
  if (mode === JoinMode.WAIT_SPECIFIC) {
    if (join.inputs.length === 0) {
      invalid(`join of node ${id} must name the inputs it waits for`);
    }
    const seen = new Set<string>();
    for (const input of join.inputs) {
      if (!inputs.includes(input)) {
        invalid(
          `join of node ${id} waits for ${show(input)}, which is not one of its inputs`,
        );
      }
      if (seen.has(input)) invalid(`join of node ${id} repeats ${show(input)}`);
      seen.add(input);
    }
  } else if (join.inputs.length > 0) {
    invalid(`join of node ${id}: inputs are only for JOIN_MODE_WAIT_SPECIFIC`);
  }
}

/** Node indices, each after its inputs, ties in node order (Kahn's algorithm); VALIDATION_FAILED on a cycle. */
function topologicalOrder(
  template: WorkflowTemplate,
  inputs: ReadonlyMap<string, readonly string[]>,
): number[] {
  const { nodes } = template;
  const index = new Map(nodes.map((n, i) => [n.nodeId, i]));
  const waiting = nodes.map((n) => inputs.get(n.nodeId)?.length ?? 0);
  const outputs = nodes.map((): number[] => []);
  for (const [to, into] of inputs) {
    for (const from of into) outputs[index.get(from)!]!.push(index.get(to)!);
  }
  const ready = waiting.flatMap((w, i) => (w === 0 ? [i] : []));
  const order: number[] = [];
  for (let next = ready.shift(); next !== undefined; next = ready.shift()) {
    order.push(next);
    for (const to of outputs[next]!) {
      if (--waiting[to]! === 0) insertSorted(ready, to);
    }
  }
  if (order.length < nodes.length) {
    invalid(
      `the template's edges form a cycle through ${onCycles(nodes, waiting, outputs)}`,
    );
  }
  return order;
}

/**
 * The nodes Kahn's algorithm left (those with inputs still waiting), less
 * those that only follow a cycle: peeled off from the end, as nodes with no
 * output left among them, until only nodes on cycles (or between them) remain.
 */
function onCycles(
  nodes: readonly TemplateNode[],
  waiting: readonly number[],
  outputs: readonly (readonly number[])[],
): string {
  const left = new Set(nodes.flatMap((_, i) => (waiting[i]! > 0 ? [i] : [])));
  for (let peeled = true; peeled;) {
    peeled = false;
    for (const i of left) {
      if (!outputs[i]!.some((to) => left.has(to))) {
        left.delete(i);
        peeled = true;
      }
    }
  }
  return [...left]
    .sort((a, b) => a - b)
    .map((i) => show(nodes[i]!.nodeId))
    .join(', ');
}

function insertSorted(list: number[], value: number): void {
  let i = list.length;
  while (i > 0 && list[i - 1]! > value) i--;
  list.splice(i, 0, value);
}

function stepOf(
  workflowId: string,
  node: TemplateNode,
  index: number,
  inputs: readonly string[],
  values: ReadonlyMap<string, JsonValue>,
): StepAddedInit {
  const field = `template.nodes[${index}]`;
  const name = substitute(node.name, values, `${field}.name`);
  requireText(name, `${field}.name`, LIMITS.name);
  const description = substitute(
    node.description,
    values,
    `${field}.description`,
  );
  limitText(description, `${field}.description`, LIMITS.description);
  let assignedTo: string | undefined;
  if (node.assignedTo !== undefined) {
    assignedTo = substitute(node.assignedTo, values, `${field}.assigned_to`);
    requireText(assignedTo, `${field}.assigned_to`, LIMITS.actor);
  }
  let config: JsonObject | undefined;
  if (node.config !== undefined) {
    config = substituteJson(
      node.config,
      values,
      `${field}.config`,
    ) as JsonObject;
  }
  const stepType =
    node.kind === TemplateNodeKind.TASK
      ? node.stepType
      : STEP_TYPE_OF[node.kind];
  return {
    workflowId,
    stepId: node.nodeId,
    name,
    description,
    stepType,
    customType: node.customType,
    dependencies: [...inputs].sort(),
    maxRetries: node.maxRetries,
    ...(config && { config }),
    ...(node.estimatedDurationMinutes !== undefined && {
      estimatedDurationMinutes: node.estimatedDurationMinutes,
    }),
    ...(assignedTo !== undefined && { assignedTo }),
    ...(node.kind === TemplateNodeKind.JOIN && {
      join: {
        mode: node.join?.mode ?? JoinMode.WAIT_ALL,
        count: node.join?.count ?? 0,
        inputs: [...(node.join?.inputs ?? [])].sort(),
      },
    }),
    ...(node.timer && { timer: node.timer }),
  };
}

/** `text` with every `${name}` replaced by the parameter's value (strings as they are, other JSON as JSON text). */
function substitute(
  text: string,
  values: ReadonlyMap<string, JsonValue>,
  field: string,
): string {
  return text.replace(REFERENCE, (_, name: string) => {
    const value = valueOf(values, name, field);
    return typeof value === 'string' ? value : JSON.stringify(value);
  });
}

function valueOf(
  values: ReadonlyMap<string, JsonValue>,
  name: string,
  field: string,
): JsonValue {
  if (!values.has(name)) {
    invalid(
      `${field} refers to ${show(name)}, which the template does not declare`,
    );
  }
  return values.get(name)!;
}

/** A configuration value with parameters substituted: a string that is exactly `${name}` becomes the value itself. */
function substituteJson(
  json: JsonValue,
  values: ReadonlyMap<string, JsonValue>,
  field: string,
): JsonValue {
  if (typeof json === 'string') {
    const whole = WHOLE_REFERENCE.exec(json);
    return whole === null
      ? substitute(json, values, field)
      : valueOf(values, whole[1]!, field);
  }
  if (Array.isArray(json)) {
    return json.map((item) => substituteJson(item, values, field));
  }
  if (json !== null && typeof json === 'object') {
    const object: JsonObject = {};
    for (const [key, value] of Object.entries(json)) {
      // defineProperty keeps a key named __proto__ an ordinary own key.
      Object.defineProperty(object, key, {
        value: substituteJson(value, values, field),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return object;
  }
  return json;
}
