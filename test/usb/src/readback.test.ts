/**
 * The writer's read-back check, against a stick that really returns other bytes than were written: a FUSE
 * file system (python3-fusepy over the kernel's FUSE) that stores writes faithfully in a backing folder but
 * returns byte 1000 of every file with its lowest bit flipped when it is read — like a worn flash cell. Without the
 * read-back the writer would rename the bad copy to the final name and write a checksum file for it.
 * The same stick also fails on purpose for file names containing "erofs", "eacces", "eperm" (refused at
 * create) or "eio", "enospc" (refused at write), so each errno the writer translates comes from the kernel.
 * Root only (mounting FUSE needs /dev/fuse).
 */
import { expect } from 'chai';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, removeDir } from '../../support/dist/tmp.js';
import { writeBackup } from '../../../plugins/usb/dist/src/writer.js';
import { makeBackupFile, sha256 } from './fixtures.js';

/** A passthrough FUSE file system whose reads return byte 1000 of each file with its lowest bit flipped. */
const BAD_STICK_PY = String.raw`
import errno, os, sys
from fusepy import FUSE, FuseOSError, Operations

BAD_OFFSET = 1000

class BadStick(Operations):
    def __init__(self, root):
        self.root = root
    def _p(self, path):
        return os.path.join(self.root, path.lstrip('/'))
    def getattr(self, path, fh=None):
        try:
            st = os.lstat(self._p(path))
        except OSError as e:
            raise FuseOSError(e.errno)
        return {k: getattr(st, k) for k in ('st_mode', 'st_nlink', 'st_uid', 'st_gid', 'st_size', 'st_atime', 'st_mtime', 'st_ctime')}
    def readdir(self, path, fh):
        return ['.', '..'] + os.listdir(self._p(path))
    def statfs(self, path):
        st = os.statvfs(self._p(path))
        return {k: getattr(st, k) for k in ('f_bavail', 'f_bfree', 'f_blocks', 'f_bsize', 'f_favail', 'f_ffree', 'f_files', 'f_flag', 'f_frsize', 'f_namemax')}
    def create(self, path, mode, fi=None):
        # a stick that refuses new files the way the kernel reports it, chosen by the file's name
        for word, code in (('erofs', errno.EROFS), ('eacces', errno.EACCES), ('eperm', errno.EPERM)):
            if word in path:
                raise FuseOSError(code)
        return os.open(self._p(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    def open(self, path, flags):
        return os.open(self._p(path), flags)
    def read(self, path, size, offset, fh):
        os.lseek(fh, offset, os.SEEK_SET)
        data = bytearray(os.read(fh, size))
        if offset <= BAD_OFFSET < offset + len(data):
            data[BAD_OFFSET - offset] ^= 1
        return bytes(data)
    def write(self, path, data, offset, fh):
        for word, code in (('eio', errno.EIO), ('enospc', errno.ENOSPC)):
            if word in path:
                raise FuseOSError(code)
        os.lseek(fh, offset, os.SEEK_SET)
        return os.write(fh, data)
    def truncate(self, path, length, fh=None):
        os.truncate(self._p(path), length)
    def flush(self, path, fh):
        return 0
    def fsync(self, path, datasync, fh):
        os.fsync(fh)
        return 0
    def fsyncdir(self, path, datasync, fh):
        return 0
    def release(self, path, fh):
        os.close(fh)
        return 0
    def unlink(self, path):
        os.unlink(self._p(path))
    def rename(self, old, new):
        os.rename(self._p(old), self._p(new))
    def utimens(self, path, times=None):
        os.utime(self._p(path), times)
    def chmod(self, path, mode):
        os.chmod(self._p(path), mode)
    def chown(self, path, uid, gid):
        os.chown(self._p(path), uid, gid)

FUSE(BadStick(sys.argv[1]), sys.argv[2], foreground=True, nothreads=True)
`;

async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

function isMounted(dir: string): boolean {
  return execFileSync('cat', ['/proc/self/mounts'], { encoding: 'utf8' }).split('\n').some((l) => l.split(' ')[1] === dir);
}

describe('usb: a stick that returns other bytes than were written (real FUSE file system, root only)', function () {
  this.timeout(60_000);
  let dir: string;
  let backing: string;
  let stick: string;
  let fuse: ChildProcess | undefined;
  let fuseErr = '';

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    dir = await tempDir('kw-usb-bad-');
    backing = join(dir, 'backing');
    stick = join(dir, 'stick');
    await mkdir(backing);
    await mkdir(stick);
    await writeFile(join(dir, 'badstick.py'), BAD_STICK_PY);
    fuse = spawn('/usr/bin/python3', [join(dir, 'badstick.py'), backing, stick], { stdio: ['ignore', 'ignore', 'pipe'] });
    fuse.stderr!.setEncoding('utf8').on('data', (d: string) => { fuseErr += d; });
    for (let i = 0; i < 100 && !isMounted(stick); i++) {
      if (fuse.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!isMounted(stick)) throw new Error(`the FUSE stick did not mount (python3-fusepy installed?): ${fuseErr}`);
  });
  after(async () => {
    if (stick && isMounted(stick)) execFileSync('fusermount', ['-u', stick]);
    if (fuse && fuse.exitCode === null) {
      fuse.kill('SIGTERM');
      await new Promise((r) => fuse!.once('exit', r));
    }
    if (dir) await removeDir(dir);
  });

  it('the stand-in defect is real: the bytes stored are the ones written, the bytes read back differ', async () => {
    const data = Buffer.alloc(4096, 7);
    await writeFile(join(stick, 'probe.bin'), data);
    expect(sha256(await readFile(join(backing, 'probe.bin')))).to.equal(sha256(data));
    const back = await readFile(join(stick, 'probe.bin'));
    expect(back.length).to.equal(data.length);
    expect(back[1000]).to.equal(6);
    await rm(join(stick, 'probe.bin'));
  });

  it('refuses the copy whose read-back differs: usb.verify, no backup under its final name, no checksum file', async () => {
    const local = join(dir, 'local');
    await mkdir(local, { recursive: true });
    const file = await makeBackupFile(local, 'kasse-2026-11-29_07-00-00.sqlite.gz', 256 * 1024);
    const e = await rejection(writeBackup({ dir: stick, file, keep: 5 }));
    expect(e.name).to.equal('UserError');
    expect(e.code).to.equal('usb.verify');
    expect(e.message).to.equal('Die Sicherung auf dem USB-Stick ist fehlerhaft: Größe oder Prüfsumme stimmen nach dem Schreiben nicht. Der USB-Stick ist vermutlich defekt.');
    expect(e.hint).to.contain('anderen USB-Stick');
    // nothing left: not the final name, not the checksum file, not the temporary copy
    expect(await readdir(stick)).to.deep.equal([]);
    expect(await readdir(backing)).to.deep.equal([]);
  });

  const FAILURES: [string, string, string, string][] = [
    ['erofs', 'usb.readonly', 'Der USB-Stick unter {dir} ist schreibgeschützt.', 'Prüfen Sie den Schreibschutz-Schalter am USB-Stick.'],
    ['eacces', 'usb.permission', 'Keine Schreibrechte auf dem USB-Stick unter {dir}.', 'Wenden Sie sich an den Support: der Stick muss für Kassenwart beschreibbar eingehängt sein.'],
    ['eperm', 'usb.permission', 'Keine Schreibrechte auf dem USB-Stick unter {dir}.', 'Wenden Sie sich an den Support: der Stick muss für Kassenwart beschreibbar eingehängt sein.'],
    ['eio', 'usb.io', 'Schreibfehler auf dem USB-Stick unter {dir}.', 'Ziehen Sie den USB-Stick ab, stecken Sie ihn wieder ein oder verwenden Sie einen anderen USB-Stick.'],
  ];
  for (const [word, code, message, hint] of FAILURES) {
    it(`translates the kernel's ${word.toUpperCase()} from the stick into a German message (${code}), leaving nothing behind`, async () => {
      const local = join(dir, 'local');
      await mkdir(local, { recursive: true });
      const file = await makeBackupFile(local, `kasse-${word}.sqlite.gz`, 64 * 1024);
      const e = await rejection(writeBackup({ dir: stick, file, keep: 5 }));
      expect([e.name, e.code, e.message, e.hint]).to.deep.equal(['UserError', code, message.replace('{dir}', stick), hint]);
      expect(await readdir(backing)).to.deep.equal([]);
    });
  }

  it('translates a full stick at write time (ENOSPC) into "zu wenig Platz", leaving nothing behind', async () => {
    const local = join(dir, 'local');
    await mkdir(local, { recursive: true });
    const file = await makeBackupFile(local, 'kasse-enospc.sqlite.gz', 64 * 1024);
    const e = await rejection(writeBackup({ dir: stick, file, keep: 5 }));
    expect(e.code).to.equal('usb.space');
    expect(e.message.startsWith(`Auf dem USB-Stick unter ${stick} ist zu wenig Platz: benötigt `), e.message).to.equal(true);
    expect(e.message).to.not.contain('auch nach dem Löschen');
    expect(e.message).to.match(/, frei [\d,]+ [kMG]?B\.$/);
    expect(await readdir(backing)).to.deep.equal([]);
  });
});
