#!/usr/bin/env bash
# The whole test suite: installs the Debian packages the tests use when they are missing (as root, with
# apt-get), builds, and runs mocha. Usage: npm test  (or: bash scripts/test.sh [mocha args…])
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v vsftpd >/dev/null 2>&1 || [ -x /usr/sbin/vsftpd ] || need+=(vsftpd)
command -v mkfs.vfat >/dev/null 2>&1 || [ -x /usr/sbin/mkfs.vfat ] || [ -x /sbin/mkfs.vfat ] || need+=(dosfstools)
command -v mcopy >/dev/null 2>&1 || need+=(mtools)
command -v mkfs.exfat >/dev/null 2>&1 || [ -x /usr/sbin/mkfs.exfat ] || [ -x /sbin/mkfs.exfat ] || need+=(exfatprogs)
command -v mkfs.ntfs >/dev/null 2>&1 || [ -x /usr/sbin/mkfs.ntfs ] || [ -x /sbin/mkfs.ntfs ] || need+=(ntfs-3g)
command -v mkfs.ext4 >/dev/null 2>&1 || [ -x /usr/sbin/mkfs.ext4 ] || [ -x /sbin/mkfs.ext4 ] || need+=(e2fsprogs)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v pigz >/dev/null 2>&1 || need+=(pigz)
command -v sqlite3 >/dev/null 2>&1 || need+=(sqlite3)
command -v radosgw >/dev/null 2>&1 || [ -x /usr/bin/radosgw ] || need+=(radosgw)
command -v ceph-mon >/dev/null 2>&1 || [ -x /usr/bin/ceph-mon ] || need+=(ceph-mon)
command -v ceph-osd >/dev/null 2>&1 || [ -x /usr/bin/ceph-osd ] || need+=(ceph-osd)
command -v age >/dev/null 2>&1 || need+=(age)
# The Debian package's tests (test/packaging): lintian, systemd-analyze, strip, setfacl (a Depends of the package).
command -v lintian >/dev/null 2>&1 || need+=(lintian)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v strip >/dev/null 2>&1 || need+=(binutils)
command -v setfacl >/dev/null 2>&1 || need+=(acl)
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
/usr/bin/python3 -c 'import fusepy' >/dev/null 2>&1 || need+=(python3-fusepy)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian packages for the tests: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "Missing tools for the tests: ${need[*]} — install them (apt-get install ${need[*]}) or run as root." >&2
    exit 1
  fi
fi

[ -d node_modules ] || npm install --no-audit --no-fund
npx tsc -b
exec npx mocha "$@"
