import { describe, expect, it } from '@jest/globals';
import { ConfigError } from '@cim/service';
import { maxContentBytesFrom } from '../src/config.js';
import { DEFAULT_MAX_CONTENT_BYTES } from '../src/prepare.js';

describe('CIM_DOCUMENT_MAX_BYTES', () => {
  it('defaults to 16 MiB', () => {
    expect(maxContentBytesFrom({})).toBe(16 * 1024 * 1024);
    expect(maxContentBytesFrom({ CIM_DOCUMENT_MAX_BYTES: '' })).toBe(
      DEFAULT_MAX_CONTENT_BYTES,
    );
  });
  it('takes a byte count', () => {
    expect(maxContentBytesFrom({ CIM_DOCUMENT_MAX_BYTES: '7340032' })).toBe(
      7_340_032,
    );
  });
  it.each(['0', '-1', '1.5', '16MiB', String(2 ** 30 + 1)])(
    'refuses %j with a ConfigError naming the variable',
    (value) => {
      expect(() =>
        maxContentBytesFrom({ CIM_DOCUMENT_MAX_BYTES: value }),
      ).toThrow(ConfigError);
      expect(() =>
        maxContentBytesFrom({ CIM_DOCUMENT_MAX_BYTES: value }),
      ).toThrow(/CIM_DOCUMENT_MAX_BYTES/);
    },
  );
});
