#!/bin/sh
# Prepare a fresh Debian 12 machine for building and testing Kimigayo OS. Idempotent.
#   - apt packages the build and the tests use
#   - deb-src entries for the host's suites (apt-get source works for maintainers)
#   - rustup musl targets (RUSTUP_AUTO_INSTALL=0 machines need them added explicitly) and
#     rust-src (the shipped binaries are built with their own size-optimised std)
set -eu

need_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "setup.sh: run as root (it installs apt packages)" >&2
		exit 1
	fi
}
need_root

PACKAGES="bubblewrap build-essential gcc make patch tar bzip2 xz-utils gzip binutils file \
dpkg-dev apt ca-certificates curl git debian-archive-keyring gnupg linux-libc-dev \
podman skopeo umoci runc mmdebstrap docker-registry \
flex bison bc libelf-dev libssl-dev gcc-12-plugin-dev lz4 cpio qemu-system-x86 qemu-utils"

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "setup: installing:$missing"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
	echo "setup: apt packages present"
fi

# deb-src for the host's own suites (deb822 file of our own; the build itself uses a
# private apt configuration and never depends on this).
SRC=/etc/apt/sources.list.d/kimigayo-deb-src.sources
if [ ! -f "$SRC" ]; then
	cat > "$SRC" <<'EOS'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
	echo "setup: added deb-src entries ($SRC)"
fi

if command -v rustup >/dev/null 2>&1; then
	installed=$(rustup target list --installed)
	for t in x86_64-unknown-linux-musl; do
		echo "$installed" | grep -qx "$t" || rustup target add "$t"
	done
	# The shipped binaries rebuild the standard library for size (cargo -Z build-std).
	rustup component list --installed | grep -q '^rust-src' || rustup component add rust-src
	echo "setup: rust targets and rust-src ready"
else
	echo "setup: rustup not found: install Rust from https://rustup.rs, then re-run" >&2
	exit 1
fi
echo "setup: done"
