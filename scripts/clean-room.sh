#!/bin/sh
# The clean-room check: run the README's two commands as a new machine would.
#
#   scripts/clean-room.sh [--phases setup,configure,make,test] [--worktree] [--keep]
#
# A minimal Debian 12 root filesystem (mmdebstrap, cached) holding only what a new machine
# of this kind has besides the Rust toolchain (gcc, git, qemu-utils, python3) is started as a
# privileged podman container from that folder (`podman run --rootfs`). The machine's Rust
# toolchain (its default toolchain and the rustup proxies) is copied in, the host's stays
# untouched; its musl targets are removed first, as on a new machine. The docker CLI, the
# Docker Engine's socket and the machine's local CA certificates are the machine's own.
# The checkout is cloned in (HEAD; with --worktree, plus uncommitted changes to tracked
# files), the build cache and cargo registry start empty, and the README's commands run:
#
#   setup      ./scripts/setup.sh
#   configure  ./configure --arch=x86_64 --security-hardening=full
#   make       make
#   test       make test
#   verify     (not by default) the Rust components built, then `kimigayo verify`: the
#              reproducibility check of `make test` without the kernel or the test suite
#
# Each phase's time is printed; a failing phase stops the run with its log's last lines.
# Logs stay in $KIMIGAYO_CLEAN_ROOM_DIR/logs (default ~/.cache/kimigayo-clean-room).
set -eu

phases="setup,configure,make,test"
worktree=0
keep=0
while [ $# -gt 0 ]; do
	case "$1" in
	--phases) phases="$2"; shift 2 ;;
	--phases=*) phases="${1#--phases=}"; shift ;;
	--worktree) worktree=1; shift ;;
	--keep) keep=1; shift ;;
	-h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "clean-room: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
done
for p in $(echo "$phases" | tr ',' ' '); do
	case "$p" in setup|configure|make|test|verify) ;; *) echo "clean-room: unknown phase \`$p' (setup, configure, make, test, verify)" >&2; exit 2 ;; esac
done

[ "$(id -u)" -eq 0 ] || { echo "clean-room: run as root (podman --privileged, mmdebstrap)" >&2; exit 1; }
for t in podman mmdebstrap git; do
	command -v "$t" >/dev/null || { echo "clean-room: $t is missing: run ./scripts/setup.sh first" >&2; exit 1; }
done
checkout=$(cd "$(dirname "$0")/.." && pwd -P)
state=${KIMIGAYO_CLEAN_ROOM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kimigayo-clean-room}
rustup_home=${RUSTUP_HOME:-$HOME/.rustup}
cargo_bin=${CARGO_HOME:-$HOME/.cargo}/bin
[ -d "$rustup_home/toolchains" ] && [ -x "$cargo_bin/cargo" ] || { echo "clean-room: no rustup toolchain at $rustup_home / $cargo_bin" >&2; exit 1; }
mkdir -p "$state"

now() { date +%s; }
t0=$(now)

# 1. The cached minimal Debian 12 root (what a new machine has, minus the Rust toolchain).
base="$state/rootfs-bookworm"
if [ ! -f "$base/.complete" ]; then
	echo "clean-room: creating the Debian 12 root filesystem (mmdebstrap, once) in $base"
	rm -rf "$base"
	mmdebstrap --quiet --variant=minbase \
		--include=ca-certificates,gcc,libc6-dev,git,qemu-utils,python3,procps,xz-utils \
		bookworm "$base" http://deb.debian.org/debian
	touch "$base/.complete"
fi

# 2. A fresh copy for this run, the checkout cloned into it.
run="$state/run"
rm -rf "$run"
mkdir -p "$state/logs"
rm -f "$state/logs"/*.log
cp -a "$base" "$run"
rm -f "$run/.complete"
git clone --quiet --no-hardlinks "$checkout" "$run/root/kimigayo"
if [ "$worktree" -eq 1 ]; then
	stash=$(cd "$checkout" && git stash create)
	if [ -n "$stash" ]; then
		(cd "$checkout" && git bundle create "$run/root/wt.bundle" "$stash" HEAD >/dev/null 2>&1) || true
		(cd "$run/root/kimigayo" && git fetch --quiet ../wt.bundle "$stash" && git -c advance.detachedHead=false checkout --quiet "$stash")
		rm -f "$run/root/wt.bundle"
	fi
fi
# The machine's own trust store additions (a new machine of this kind has them: egress proxy CAs).
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
	mkdir -p "$run/usr/local/share/ca-certificates"
	cp /usr/local/share/ca-certificates/*.crt "$run/usr/local/share/ca-certificates/"
fi
# The machine's Rust toolchain: its default toolchain and the rustup proxies, copied (the
# host's stays untouched; overlay mounts cannot take rustup's directory renames), so that
# setup.sh can add the musl target exactly as it must on a new machine.
tc=$(RUSTUP_HOME="$rustup_home" "$cargo_bin/rustup" show active-toolchain | cut -d' ' -f1)
mkdir -p "$run/root/.rustup/toolchains" "$run/root/.cargo/bin"
cp -a "$rustup_home/settings.toml" "$run/root/.rustup/"
cp -a "$(readlink -f "$rustup_home/toolchains/$tc")" "$run/root/.rustup/toolchains/$tc"
cp -a "$cargo_bin/." "$run/root/.cargo/bin/"
rev=$(cd "$run/root/kimigayo" && git rev-parse --short HEAD)
echo "clean-room: checkout $rev ($(cd "$checkout" && git rev-parse --abbrev-ref HEAD)$( [ "$worktree" -eq 1 ] && echo ', with uncommitted changes'))"

# 3. What runs inside: the phases, each timed, logs on the host.
cat > "$run/root/clean-room-phases.sh" <<'EOS'
#!/bin/sh
set -u
export PATH=/root/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root RUSTUP_HOME=/root/.rustup CARGO_HOME=/root/.cargo RUSTUP_AUTO_INSTALL=0
cd /root/kimigayo
git config --global --add safe.directory /root/kimigayo
update-ca-certificates >/dev/null 2>&1 || true
# The toolchain as a new machine has it: no musl targets, no rust-src.
for t in $(rustup target list --installed | grep -v "$(rustc -vV | sed -n 's/^host: //p')"); do
	rustup target remove "$t" >/dev/null 2>&1 && echo "clean-room: removed rust target $t (a new machine has only the host target)"
done
# Nor the standard library's sources (the Rust components build their own std from them).
rustup component list --installed | grep -q '^rust-src' && rustup component remove rust-src >/dev/null 2>&1 && echo "clean-room: removed rust-src (a new machine's toolchain has none)"
for p in $PHASES; do
	case "$p" in
	setup) cmd="./scripts/setup.sh" ;;
	configure) cmd="./configure --arch=x86_64 --security-hardening=full" ;;
	make) cmd="make" ;;
	test) cmd="make test" ;;
	verify) cmd="./target/release/kimigayo build kimigayo-init kimigayo-tools kpkg && ./target/release/kimigayo verify" ;;
	esac
	s=$(date +%s)
	echo "clean-room: phase $p: $cmd"
	sh -c "$cmd" > "/logs/$p.log" 2>&1
	rc=$?
	e=$(( $(date +%s) - s ))
	echo "$p $rc $e" >> /logs/phases
	if [ "$rc" -ne 0 ]; then
		echo "clean-room: phase $p FAILED (exit $rc) after ${e}s; last lines of its log:"
		tail -n 40 "/logs/$p.log" | sed 's/^/  | /'
		exit 1
	fi
	echo "clean-room: phase $p: ok in ${e}s"
done
EOS
chmod +x "$run/root/clean-room-phases.sh"
: > "$state/logs/phases"

conf="$state/containers.conf"
cat > "$conf" <<'EOC'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=20000:20000"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOC

docker_mount=""
if command -v docker >/dev/null; then
	docker_mount="-v $(command -v docker):/usr/local/bin/docker:ro"
fi
# The machine's Docker Engine (started before every session and CI run): its socket.
if [ -S /var/run/docker.sock ]; then
	docker_mount="$docker_mount -v /var/run/docker.sock:/var/run/docker.sock"
fi

echo "clean-room: phases: $phases"
set +e
# shellcheck disable=SC2086
CONTAINERS_CONF="$conf" podman run --rm --privileged --network host --hostname clean-room \
	--cgroupns host \
	-e PHASES="$(echo "$phases" | tr ',' ' ')" \
	-v "$state/logs:/logs" \
	$docker_mount \
	--rootfs "$run" /root/clean-room-phases.sh
rc=$?
set -e

echo
echo "clean-room: summary ($rev)"
printf '  %-10s %-8s %10s\n' PHASE RESULT "TIME (s)"
while read -r p c e; do
	printf '  %-10s %-8s %10s\n' "$p" "$( [ "$c" -eq 0 ] && echo ok || echo "FAIL $c")" "$e"
done < "$state/logs/phases"
printf '  %-10s %-8s %10s\n' total "" "$(( $(now) - t0 ))"
echo "  logs: $state/logs"
[ "$keep" -eq 1 ] || rm -rf "$run"
exit "$rc"
