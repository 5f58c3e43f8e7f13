/**
 * Prometheus remote-write 1.0 payloads (https://prometheus.io/docs/specs/remote_write_spec/): a protobuf
 * `prometheus.WriteRequest`, compressed with Snappy's block format. Encoding is protobufjs, compression
 * snappyjs; both are plain JavaScript.
 */
import protobuf from 'protobufjs';
import snappy from 'snappyjs';
import type client from 'prom-client';

const PROTO = `
syntax = "proto3";
package prometheus;
message WriteRequest { repeated TimeSeries timeseries = 1; reserved 2; }
message TimeSeries { repeated Label labels = 1; repeated Sample samples = 2; }
message Label { string name = 1; string value = 2; }
message Sample { double value = 1; int64 timestamp = 2; }
`;
const WriteRequest = protobuf.parse(PROTO).root.lookupType('prometheus.WriteRequest');

/** One series with one sample, as pushed. */
export interface Series {
  labels: Record<string, string>;
  value: number;
  /** Milliseconds since the epoch. */
  timestampMs: number;
}

/** Headers every remote-write 1.0 request carries. */
export const REMOTE_WRITE_HEADERS = {
  'content-type': 'application/x-protobuf',
  'content-encoding': 'snappy',
  'x-prometheus-remote-write-version': '0.1.0',
} as const;

/**
 * Flattens a prom-client registry into series: `__name__` plus the family's labels, histograms as their
 * `_bucket{le}`, `_sum` and `_count` series, and the external labels (instance, salon, job) on each.
 */
export async function seriesOf(registry: client.Registry, external: Record<string, string>, timestampMs: number): Promise<Series[]> {
  const out: Series[] = [];
  for (const family of await registry.getMetricsAsJSON()) {
    for (const v of family.values) {
      const value = Number(v.value);
      if (!Number.isFinite(value) && !Number.isNaN(value)) continue;
      const labels: Record<string, string> = {};
      for (const [k, lv] of Object.entries(v.labels ?? {})) labels[k] = String(lv);
      Object.assign(labels, external);
      labels.__name__ = (v as { metricName?: string }).metricName ?? family.name;
      out.push({ labels, value, timestampMs });
    }
  }
  return out;
}

/**
 * The protobuf `WriteRequest` before compression. Labels are sorted by name, as the spec asks. (Two such
 * messages concatenated are one message with both sets of series: protobuf repeated fields append.)
 */
export function encodeWriteRequestProto(series: Series[]): Uint8Array {
  const message = ({
    timeseries: series.map((s) => ({
      labels: Object.keys(s.labels).sort().map((name) => ({ name, value: s.labels[name] })),
      samples: [{ value: s.value, timestamp: s.timestampMs }],
    })),
  });
  return WriteRequest.encode(message as unknown as protobuf.Message).finish();
}

/** Snappy block compression, as remote-write bodies need it. */
export function compressBody(proto: Uint8Array): Uint8Array {
  return snappy.compress(proto);
}

/** The snappy-compressed protobuf body of one remote-write request. */
export function encodeWriteRequest(series: Series[]): Uint8Array {
  return compressBody(encodeWriteRequestProto(series));
}

/** The reverse, for tests and the benchmark's checks. */
export function decodeWriteRequest(body: Uint8Array): Series[] {
  const msg = WriteRequest.toObject(WriteRequest.decode(snappy.uncompress(body)), { longs: Number }) as {
    timeseries?: { labels?: { name: string; value: string }[]; samples?: { value: number; timestamp: number }[] }[];
  };
  return (msg.timeseries ?? []).flatMap((t) => (t.samples ?? []).map((s) => ({
    labels: Object.fromEntries((t.labels ?? []).map((l) => [l.name, l.value])), value: s.value ?? 0, timestampMs: s.timestamp ?? 0,
  })));
}
