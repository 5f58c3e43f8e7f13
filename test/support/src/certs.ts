/**
 * Test certificates made with openssl: a private CA and server certificates it signs, e.g. for an FTP
 * server whose certificate is from a CA the client does not know, or issued for another name.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A certificate and its private key, PEM. */
export interface CertPair {
  certPem: string;
  keyPem: string;
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.error) throw new Error(`openssl could not run: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
}

function inTemp<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'kw-certs-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A new private CA (self-signed, CA:TRUE), valid for two days. */
export function makeCa(commonName = 'Kassenwart Test CA'): CertPair {
  return inTemp((dir) => {
    openssl([
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${commonName}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      '-keyout', 'ca.key', '-out', 'ca.pem',
    ], dir);
    return { certPem: readFileSync(join(dir, 'ca.pem'), 'utf8'), keyPem: readFileSync(join(dir, 'ca.key'), 'utf8') };
  });
}

/**
 * A server certificate signed by `ca` for the given names (subjectAltName), valid for two days.
 * Default names: IP 127.0.0.1 and DNS localhost.
 */
export function makeServerCert(ca: CertPair, names: { ip?: string[]; dns?: string[] } = { ip: ['127.0.0.1'], dns: ['localhost'] }): CertPair {
  return inTemp((dir) => {
    writeFileSync(join(dir, 'ca.pem'), ca.certPem);
    writeFileSync(join(dir, 'ca.key'), ca.keyPem, { mode: 0o600 });
    const san = [...(names.ip ?? []).map((n) => `IP:${n}`), ...(names.dns ?? []).map((n) => `DNS:${n}`)].join(',');
    writeFileSync(join(dir, 'ext.cnf'), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n`);
    const cn = names.dns?.[0] ?? names.ip?.[0] ?? 'server';
    openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', 'server.key', '-out', 'server.csr'], dir);
    openssl([
      'x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2',
      '-extfile', 'ext.cnf', '-out', 'server.pem',
    ], dir);
    return { certPem: readFileSync(join(dir, 'server.pem'), 'utf8'), keyPem: readFileSync(join(dir, 'server.key'), 'utf8') };
  });
}
