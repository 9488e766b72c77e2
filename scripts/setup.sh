#!/usr/bin/env bash
# Installs what osmtrace needs on Debian 12 (bookworm), as root, and says
# what it installs. Safe to run again: it installs only what is missing.
#
#   - QEMU >= 9.2 system emulators from Debian's bookworm-backports
#     (bookworm's own QEMU 7.2 has no plugin register or memory reads);
#   - cross compilers for the end-to-end test programs;
#   - cpio for guest initramfs images, strace as a reference for tests.
# Guest kernels and busybox are Debian packages too; `cargo xtask` fetches
# them into target/ without touching the system's apt configuration.
set -euo pipefail

backports=/etc/apt/sources.list.d/osmtrace-bookworm-backports.sources
packages=(qemu-system-x86 qemu-system-arm gcc-arm-linux-gnueabihf libc6-dev-armhf-cross cpio strace)
backports_packages=(qemu-system-x86 qemu-system-arm)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
qemu_ok() {
    command -v qemu-system-x86_64 >/dev/null || return 1
    local v
    v=$(qemu-system-x86_64 --version | sed -n 's/.*version \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
    read -r major minor <<<"$v"
    [ "$major" -gt 9 ] || { [ "$major" -eq 9 ] && [ "$minor" -ge 2 ]; }
}
if [ ${#missing[@]} -eq 0 ] && qemu_ok; then
    echo "setup: everything needed is installed ($(qemu-system-x86_64 --version | head -1))"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages: ${missing[*]:-QEMU >= 9.2}; run as root to install them" >&2
    exit 1
fi
if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "setup: adding Debian's bookworm-backports suite in $backports"
    cat >"$backports" <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
fi
echo "setup: installing ${packages[*]} (QEMU from bookworm-backports)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends -t bookworm-backports "${backports_packages[@]}" >/dev/null
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
qemu_ok || { echo "setup: QEMU >= 9.2 is still missing" >&2; exit 1; }
echo "setup: done ($(qemu-system-x86_64 --version | head -1))"
