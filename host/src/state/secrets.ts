import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFile, chmod } from 'node:fs/promises';
import { writeFileAtomic } from 'kassenwart/sdk';

/**
 * Encrypts secret settings (AES-256-GCM) with a key kept in a separate file (default <data>/secret.key,
 * mode 0600, or KASSENWART_SECRET_KEY_FILE), so a copy of the state database alone reveals no secret.
 */
export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  static async open(keyFile: string): Promise<SecretBox> {
    try {
      const key = Buffer.from((await readFile(keyFile, 'utf8')).trim(), 'base64');
      if (key.length !== 32) throw new Error(`secret key file ${keyFile} does not hold a 32-byte key`);
      return new SecretBox(key);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      const key = randomBytes(32);
      await writeFileAtomic(keyFile, key.toString('base64') + '\n', 0o600);
      await chmod(keyFile, 0o600);
      return new SecretBox(key);
    }
  }

  seal(plain: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return `v1:${iv.toString('base64')}:${c.getAuthTag().toString('base64')}:${body.toString('base64')}`;
  }

  open(sealed: string): string {
    const [v, iv, tag, body] = sealed.split(':');
    if (v !== 'v1') throw new Error('unknown secret format');
    const d = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64'));
    d.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([d.update(Buffer.from(body, 'base64')), d.final()]).toString('utf8');
  }
}
