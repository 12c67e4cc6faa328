import type { JsonObject, JsonValue } from '@bufbuild/protobuf';
import type { Value } from '@bufbuild/protobuf/wkt';
import { invalid, requireText, show } from '@cim/kernel';
import { StepType } from '@cim/proto/cim/workflow/v1/workflow_pb';
import { isTemplateOnly } from './state.js';

/** Size limits on what a command may carry; the message size limit bounds the rest. */
export const LIMITS = {
  name: 200,
  description: 4000,
  text: 4000,
  key: 256,
  actor: 256,
  customType: 128,
  operation: 200,
  correlationId: 512,
  steps: 1000,
  maxRetries: 100,
  participants: 16,
  templateParameters: 64,
  templateEdges: 10_000,
  timerMinutes: 1_000_000,
} as const;

/** Keys of context variables, metadata and configuration: not blank, at most LIMITS.key characters. */
export function requireKey(key: string, field = 'key'): void {
  requireText(key, field, LIMITS.key);
}

const DOMAIN = /^[a-z][a-z0-9]{0,63}$/;

/** A domain name as the runtime accepts it: lower-case letters and digits, starting with a letter. */
export function requireDomainName(value: string, field: string): void {
  if (!DOMAIN.test(value)) {
    invalid(
      `${field} must be a domain name ([a-z][a-z0-9]{0,63}), got ${show(value)}`,
    );
  }
}

/**
 * A step type AddStep (and a template's TASK node) may name, with its custom
 * name: known, not unspecified, not one only templates create; custom_type
 * set exactly for STEP_TYPE_CUSTOM. `prefix` names the enclosing field.
 */
export function requireStepType(
  stepType: StepType,
  customType: string,
  prefix = '',
): void {
  if (stepType === StepType.UNSPECIFIED)
    invalid(`${prefix}step_type is required`);
  if (StepType[stepType] === undefined) {
    invalid(`${prefix}step_type ${stepType} is not a known step type`);
  }
  if (isTemplateOnly(stepType)) {
    invalid(
      `${prefix}step_type STEP_TYPE_${StepType[stepType]} comes only from a template node of that kind`,
    );
  }
  if (stepType === StepType.CUSTOM) {
    requireText(customType, `${prefix}custom_type`, LIMITS.customType);
  } else if (customType !== '') {
    invalid(`${prefix}custom_type is only for STEP_TYPE_CUSTOM`);
  }
}

/** True when a JSON value holds only finite numbers (protobuf's Value cannot carry NaN or ±Infinity as JSON). */
export function isFiniteJson(value: JsonValue): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(isFiniteJson);
  if (value !== null && typeof value === 'object') {
    return Object.values(value).every(isFiniteJson);
  }
  return true;
}

/**
 * A Struct field of a command: finite numbers throughout and, when its keys
 * become map keys (`keyed`), keys that are not blank and fit LIMITS.key.
 */
export function validateStruct(
  struct: JsonObject | undefined,
  field: string,
  keyed: boolean,
): void {
  if (struct === undefined) return;
  for (const [key, value] of Object.entries(struct)) {
    if (keyed) requireKey(key, `${field} key ${show(key)}`);
    if (!isFiniteJson(value)) {
      invalid(`${field}.${key} must hold finite numbers only`);
    }
  }
}

/**
 * The JSON a google.protobuf.Value stands for, or undefined when it has no
 * kind or holds a non-finite number anywhere. Total: never throws.
 */
export function valueToJson(value: Value | undefined): JsonValue | undefined {
  if (value === undefined) return undefined;
  const { kind } = value;
  switch (kind.case) {
    case 'nullValue':
      return null;
    case 'numberValue':
      return Number.isFinite(kind.value) ? kind.value : undefined;
    case 'stringValue':
    case 'boolValue':
      return kind.value;
    case 'structValue': {
      const object: JsonObject = {};
      for (const [key, field] of Object.entries(kind.value.fields)) {
        const json = valueToJson(field);
        if (json === undefined) return undefined;
        // defineProperty keeps a key named __proto__ an ordinary own key.
        Object.defineProperty(object, key, {
          value: json,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return object;
    }
    case 'listValue': {
      const list: JsonValue[] = [];
      for (const item of kind.value.values) {
        const json = valueToJson(item);
        if (json === undefined) return undefined;
        list.push(json);
      }
      return list;
    }
    case undefined:
      return undefined;
  }
}

/** A required Value field of a command, as JSON; VALIDATION_FAILED when absent or not representable. */
export function requireValue(
  value: Value | undefined,
  field: string,
): JsonValue {
  if (value === undefined) invalid(`${field} is required`);
  const json = valueToJson(value);
  if (json === undefined) {
    invalid(`${field} must be set to a JSON value with finite numbers`);
  }
  return json;
}
