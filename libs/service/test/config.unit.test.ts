import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  ConfigError,
  defaultDataDir,
  jetStreamDomainOf,
  loadConfig,
  natsUrlFile,
  topologyFile,
} from '@cim/service';

const URL = 'nats://127.0.0.1:4999';

/** The ConfigError `loadConfig(env)` throws; fails the test when it returns. */
function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  let dir: string;
  let emptyDataDir: string;
  let recordedDataDir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cim-config-'));
    emptyDataDir = join(dir, 'empty');
    recordedDataDir = join(dir, 'recorded');
    mkdirSync(emptyDataDir);
    mkdirSync(recordedDataDir);
    writeFileSync(natsUrlFile(recordedDataDir), 'nats://127.0.0.1:4777\n');
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('when only the NATS URL is set', () => {
    it('fills in every default', () => {
      expect(
        loadConfig({ CIM_NATS_URL: URL, CIM_DATA_DIR: emptyDataDir }),
      ).toEqual({
        natsUrl: URL,
        httpPort: 0,
        grpcPort: 50051,
        dataDir: emptyDataDir,
        logLevel: 'info',
        durability: 'strict',
        replicas: 1,
        traceExporter: 'none',
        integrity: true,
        topology: 'single',
        admission: { maxRequests: 4096, maxBytes: 256 * 1024 * 1024 },
      });
    });

    it('treats empty variables as unset', () => {
      const config = loadConfig({
        CIM_NATS_URL: URL,
        CIM_DATA_DIR: emptyDataDir,
        CIM_HTTP_PORT: '',
        CIM_GRPC_PORT: '',
        LOG_LEVEL: '',
        CIM_DURABILITY: '',
        CIM_REPLICAS: '',
        CIM_OTEL_EXPORTER: '',
      });
      expect(config).toMatchObject({
        httpPort: 0,
        grpcPort: 50051,
        logLevel: 'info',
        durability: 'strict',
        replicas: 1,
        traceExporter: 'none',
        integrity: true,
      });
    });

    it('reads the topology npm start recorded in the data directory', () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'cim-config-topology-'));
      try {
        writeFileSync(topologyFile(dataDir), 'cluster\n');
        expect(
          loadConfig({ CIM_NATS_URL: URL, CIM_DATA_DIR: dataDir }).topology,
        ).toBe('cluster');
        expect(
          loadConfig({
            CIM_NATS_URL: URL,
            CIM_DATA_DIR: dataDir,
            CIM_TOPOLOGY: 'single',
          }).topology,
        ).toBe('single');
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    });

    it('puts the data directory in .data beside the workspace', () => {
      expect(loadConfig({ CIM_NATS_URL: URL }).dataDir).toBe(defaultDataDir());
    });
  });

  describe('when every variable is set to a good value', () => {
    it('reads each one', () => {
      expect(
        loadConfig({
          CIM_NATS_URL: 'nats://a:4222, tls://b.example:4443',
          CIM_DATA_DIR: emptyDataDir,
          CIM_HTTP_PORT: '9464',
          CIM_GRPC_PORT: '65535',
          LOG_LEVEL: 'debug',
          CIM_DURABILITY: 'fast',
          CIM_REPLICAS: '3',
          CIM_OTEL_EXPORTER: 'otlp',
          CIM_INTEGRITY: 'off',
          CIM_TOPOLOGY: 'sharded',
          CIM_MAX_IN_FLIGHT: '100',
          CIM_MAX_IN_FLIGHT_BYTES: '1048576',
        }),
      ).toEqual({
        natsUrl: 'nats://a:4222, tls://b.example:4443',
        httpPort: 9464,
        grpcPort: 65535,
        dataDir: emptyDataDir,
        logLevel: 'debug',
        durability: 'fast',
        replicas: 3,
        traceExporter: 'otlp',
        integrity: false,
        topology: 'sharded',
        admission: { maxRequests: 100, maxBytes: 1048576 },
      });
    });

    it('refuses a port that is not a number', () => {
      expect(() =>
        loadConfig({
          CIM_NATS_URL: 'nats://host:abc',
          CIM_DATA_DIR: emptyDataDir,
        }),
      ).toThrow(/CIM_NATS_URL/);
    });

    it.each(['nats://localhost', 'ws://h:80/', 'wss://h.example:443'])(
      'accepts the URL %s',
      (url) => {
        expect(
          loadConfig({ CIM_NATS_URL: url, CIM_DATA_DIR: emptyDataDir }).natsUrl,
        ).toBe(url);
      },
    );
  });

  describe('when a variable has a bad value', () => {
    it.each([
      ['CIM_NATS_URL', 'localhost:4222'],
      ['CIM_NATS_URL', 'http://127.0.0.1:4222'],
      ['CIM_NATS_URL', 'nats://host name:4222'],
      ['CIM_NATS_URL', 'nats://a:4222,bogus'],
      ['CIM_NATS_URL', 'nats://h:4222/path'],
      ['CIM_HTTP_PORT', 'http'],
      ['CIM_HTTP_PORT', '-1'],
      ['CIM_HTTP_PORT', '65536'],
      ['CIM_HTTP_PORT', '80.5'],
      ['CIM_GRPC_PORT', 'grpc'],
      ['CIM_GRPC_PORT', '70000'],
      ['LOG_LEVEL', 'verbose'],
      ['LOG_LEVEL', 'INFO'],
      ['CIM_DURABILITY', 'sometimes'],
      ['CIM_REPLICAS', '0'],
      ['CIM_REPLICAS', '6'],
      ['CIM_REPLICAS', 'three'],
      ['CIM_OTEL_EXPORTER', 'jaeger'],
      ['CIM_MAX_IN_FLIGHT', '0'],
      ['CIM_MAX_IN_FLIGHT', 'many'],
      ['CIM_MAX_IN_FLIGHT_BYTES', '512'],
      ['CIM_MAX_IN_FLIGHT_BYTES', '1e400'],
    ])('throws a ConfigError naming %s for %j', (name, value) => {
      const error = configError({
        CIM_NATS_URL: URL,
        CIM_DATA_DIR: emptyDataDir,
        [name]: value,
      });
      expect(error.name).toBe('ConfigError');
      expect(error.message.startsWith(`${name} must be `)).toBe(true);
      expect(error.message).toContain(JSON.stringify(value));
    });

    it('lists the accepted values of a choice', () => {
      expect(
        configError({
          CIM_NATS_URL: URL,
          CIM_DATA_DIR: emptyDataDir,
          CIM_DURABILITY: 'sometimes',
        }).message,
      ).toBe('CIM_DURABILITY must be one of strict, fast, got "sometimes"');
    });

    it('states the range of a number', () => {
      expect(
        configError({
          CIM_NATS_URL: URL,
          CIM_DATA_DIR: emptyDataDir,
          CIM_REPLICAS: '6',
        }).message,
      ).toBe('CIM_REPLICAS must be an integer from 1 to 5, got "6"');
    });

    it('names the topologies', () => {
      expect(
        configError({
          CIM_NATS_URL: URL,
          CIM_DATA_DIR: emptyDataDir,
          CIM_TOPOLOGY: 'mesh',
        }).message,
      ).toBe(
        'CIM_TOPOLOGY must be one of single, sharded, cluster, got "mesh"',
      );
    });
  });

  describe('when CIM_NATS_URL is unset and npm start recorded a URL', () => {
    it('reads the URL from <dataDir>/nats.url', () => {
      expect(loadConfig({ CIM_DATA_DIR: recordedDataDir }).natsUrl).toBe(
        'nats://127.0.0.1:4777',
      );
    });

    it('prefers CIM_NATS_URL when both are there', () => {
      expect(
        loadConfig({ CIM_NATS_URL: URL, CIM_DATA_DIR: recordedDataDir })
          .natsUrl,
      ).toBe(URL);
    });
  });

  describe('when CIM_NATS_URL is unset and nothing was recorded', () => {
    it('throws a ConfigError telling to run npm start', () => {
      const error = configError({ CIM_DATA_DIR: emptyDataDir });
      expect(error.message).toContain('CIM_NATS_URL is not set');
      expect(error.message).toContain(natsUrlFile(emptyDataDir));
      expect(error.message).toContain('run `npm start`');
    });
  });
});

describe('natsUrlFile', () => {
  describe('when given a data directory', () => {
    it('names nats.url inside it', () => {
      expect(natsUrlFile('/var/lib/cim')).toBe('/var/lib/cim/nats.url');
    });
  });
});

describe('defaultDataDir', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cim-datadir-'));
    mkdirSync(join(dir, 'workspace', 'services', 'graph'), { recursive: true });
    writeFileSync(join(dir, 'workspace', 'pnpm-workspace.yaml'), '');
    mkdirSync(join(dir, 'elsewhere', 'deep'), { recursive: true });
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('when started inside a workspace', () => {
    it('answers .data beside pnpm-workspace.yaml', () => {
      expect(defaultDataDir(join(dir, 'workspace', 'services', 'graph'))).toBe(
        join(dir, 'workspace', '.data'),
      );
    });
  });

  describe('when no workspace is above the directory', () => {
    it('answers .data in the directory itself', () => {
      expect(defaultDataDir(join(dir, 'elsewhere', 'deep'))).toBe(
        join(dir, 'elsewhere', 'deep', '.data'),
      );
    });
  });
});

describe('jetStreamDomainOf', () => {
  it("names a domain's own JetStream domain in the sharded topology only", () => {
    expect(jetStreamDomainOf('sharded', 'graph')).toBe('graph');
    expect(jetStreamDomainOf('single', 'graph')).toBeUndefined();
    expect(jetStreamDomainOf('cluster', 'graph')).toBeUndefined();
  });
});
