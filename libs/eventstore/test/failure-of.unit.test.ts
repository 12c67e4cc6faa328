import { describe, expect, it } from '@jest/globals';
import { AppendFailure, failureOf } from '../src/errors.js';

describe('failureOf: what a JetStream API error means for an append', () => {
  it.each([
    [10071, 'wrong last sequence: 4', AppendFailure.wrongLastSequence],
    [10002, 'resource limits exceeded for account', AppendFailure.full],
    [10023, 'insufficient resources', AppendFailure.full],
    [10028, 'insufficient memory resources available', AppendFailure.full],
    [10047, 'insufficient storage resources available', AppendFailure.full],
    [10077, 'maximum bytes exceeded', AppendFailure.full],
    [10077, 'maximum messages exceeded', AppendFailure.full],
    [10077, 'maximum messages per subject exceeded', AppendFailure.full],
    [10077, 'some other store failure', AppendFailure.rejected],
    [10054, 'message size exceeds maximum allowed', AppendFailure.tooLarge],
    [
      10097,
      'header size exceeds maximum allowed of 64k',
      AppendFailure.tooLarge,
    ],
    [10059, 'stream not found', AppendFailure.rejected],
    [0, 'append rejected', AppendFailure.rejected],
  ])('%i %s → %s', (code, description, failure) => {
    expect(failureOf(code, description)).toBe(failure);
  });
});
