#!/usr/bin/env bash
# Installs what osmtrace needs on Debian 12 (bookworm), as root, and says
# what it installs. Safe to run again: it installs only what is missing.
#
#   - QEMU >= 9.2 system emulators for the nine guest architectures, and
#     QEMU's user-mode emulators (`qemu-<arch> -strace` is a reference for
#     tests), from Debian's bookworm-backports (bookworm's own QEMU 7.2 has
#     no plugin register or memory reads); backports splits s390x and riscv
#     out of qemu-system-misc into qemu-system-s390x and qemu-system-riscv;
#   - cross compilers and C libraries for the static end-to-end test
#     programs (i386, armhf, arm64, mipsel, mips64el, ppc64el, s390x,
#     riscv64);
#   - cpio for guest initramfs images, strace as a reference for tests;
#   - mmdebstrap, which builds the Debian system with systemd that
#     `cargo xtask trace --guest debian` boots (from Debian's archive);
#   - Python's jsonschema and pip (Debian's, for /usr/bin/python3): a test
#     checks the ISF profiles `cargo xtask isf` writes against Volatility
#     3's own schema, fetched from PyPI.
# Guest kernels and busybox are Debian packages too; `cargo xtask` fetches
# them into target/ without touching the system's apt configuration.
set -euo pipefail

backports=/etc/apt/sources.list.d/osmtrace-bookworm-backports.sources
backports_packages=(qemu-system-x86 qemu-system-arm qemu-system-mips qemu-system-ppc
    qemu-system-s390x qemu-system-riscv qemu-user)
cross_packages=(gcc-i686-linux-gnu libc6-dev-i386-cross
    gcc-arm-linux-gnueabihf libc6-dev-armhf-cross
    gcc-aarch64-linux-gnu libc6-dev-arm64-cross
    gcc-mipsel-linux-gnu libc6-dev-mipsel-cross
    gcc-mips64el-linux-gnuabi64 libc6-dev-mips64el-cross
    gcc-powerpc64le-linux-gnu libc6-dev-ppc64el-cross
    gcc-s390x-linux-gnu libc6-dev-s390x-cross
    gcc-riscv64-linux-gnu libc6-dev-riscv64-cross)
packages=("${backports_packages[@]}" "${cross_packages[@]}" cpio mmdebstrap strace python3-jsonschema python3-pip)
# One binary per QEMU package, whose version says whether it is new enough.
qemu_binaries=(qemu-system-x86_64 qemu-system-arm qemu-system-mipsel qemu-system-ppc64
    qemu-system-s390x qemu-system-riscv64 qemu-aarch64)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
qemu_ok() {
    local b v major minor
    for b in "${qemu_binaries[@]}"; do
        command -v "$b" >/dev/null || return 1
        v=$("$b" --version | sed -n 's/.*version \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
        read -r major minor <<<"$v"
        [ "${major:-0}" -gt 9 ] || { [ "${major:-0}" -eq 9 ] && [ "${minor:-0}" -ge 2 ]; } || return 1
    done
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
