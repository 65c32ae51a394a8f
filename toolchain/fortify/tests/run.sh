#!/bin/sh
# Kimigayo OS fortify header test.
#
#   run.sh SYSROOT
#
# Builds overflow.c twice against the musl in SYSROOT and the fortify headers:
#   full: -O2 -D_FORTIFY_SOURCE=2                      every case must trap
#   none: -O2 -U_FORTIFY_SOURCE -fno-stack-protector   every case must print NO-TRAP
# and, as an extra, level 3 (-D_FORTIFY_SOURCE=3), where every case must trap
# as well.  "Trap" means killed by SIGILL or SIGTRAP (__builtin_trap); any
# other death (SIGSEGV, SIGABRT, ...) counts as a failure.
# Exits 0 when all checks pass; the last line is "N passed, N failed".
#
# How the compiler is driven (first match wins):
#   SPECS=/path/file.specs     CC -specs=SPECS (the specs must put the fortify
#                              headers before musl's and link musl);
#   SYSROOT/bin/ARCH-linux-musl-gcc
#                              the sysroot's own compiler driver;
#   SYSROOT/usr/lib/kimigayo-gcc.specs
#                              CC -specs=that, with KIMIGAYO_SYSROOT=SYSROOT;
#   otherwise                  an explicit command line: -nostdinc with
#                              -isystem FORTIFY -isystem MUSL-INCLUDE
#                              -isystem GCC-INCLUDE, and a static link with the
#                              sysroot's crt1.o/crti.o/crtn.o and libc.a.
# For the explicit command line, musl is looked for in SYSROOT/usr/{include,lib}
# and SYSROOT/{include,lib}, and the fortify headers are <include>/fortify when
# installed there, else this source tree's ../include.
# Other variables: CC (default gcc), EXTRA_CFLAGS, LINK_FLAGS (default
# -static; used with a driver or specs), KEEP=1 (keep the build directory).
set -u

if [ $# -ne 1 ]; then
	echo "usage: $0 SYSROOT" >&2
	exit 2
fi
sysroot=$1
here=$(cd "$(dirname "$0")" && pwd)
CC=${CC:-gcc}
EXTRA_CFLAGS=${EXTRA_CFLAGS:-}

LINK_FLAGS=${LINK_FLAGS:--static}
driver=$sysroot/bin/$(uname -m)-linux-musl-gcc
mode=explicit
if [ -n "${SPECS:-}" ]; then
	mode=specs
elif [ -x "$driver" ]; then
	mode=driver
elif [ -f "$sysroot/usr/lib/kimigayo-gcc.specs" ]; then
	mode=specs
	SPECS=$sysroot/usr/lib/kimigayo-gcc.specs
	KIMIGAYO_SYSROOT=$sysroot
	export KIMIGAYO_SYSROOT
fi

if [ $mode = explicit ]; then
	if [ -f "$sysroot/usr/include/string.h" ]; then
		inc=$sysroot/usr/include
	elif [ -f "$sysroot/include/string.h" ]; then
		inc=$sysroot/include
	else
		echo "run.sh: no musl headers under $sysroot/usr/include or $sysroot/include" >&2
		exit 2
	fi
	if [ -f "$sysroot/usr/lib/crt1.o" ]; then
		lib=$sysroot/usr/lib
	elif [ -f "$sysroot/lib/crt1.o" ]; then
		lib=$sysroot/lib
	else
		echo "run.sh: no crt1.o under $sysroot/usr/lib or $sysroot/lib" >&2
		exit 2
	fi
	if [ -f "$inc/fortify/fortify-common.h" ]; then
		fortify=$inc/fortify
	else
		fortify=$here/../include
	fi
	echo "run.sh: explicit command line, musl $inc $lib, fortify headers $fortify"
else
	if [ $mode = specs ]; then
		echo "run.sh: compiler: $CC -specs=$SPECS"
	else
		echo "run.sh: compiler: $driver"
	fi
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/kimigayo-fortify.XXXXXX") || exit 2
if [ "${KEEP:-0}" = 1 ]; then
	echo "build directory: $work"
else
	trap 'rm -rf "$work"' EXIT
fi

# compile OUTPUT SOURCE FLAGS...
compile() {
	out=$1 src=$2
	shift 2
	case $mode in
	specs)
		# shellcheck disable=SC2086
		$CC -specs="$SPECS" "$@" $EXTRA_CFLAGS "$src" -o "$out" $LINK_FLAGS ;;
	driver)
		# shellcheck disable=SC2086
		"$driver" "$@" $EXTRA_CFLAGS "$src" -o "$out" $LINK_FLAGS ;;
	*)
		gccinc=$($CC -print-file-name=include)
		# shellcheck disable=SC2086
		$CC -nostdinc -isystem "$fortify" -isystem "$inc" -isystem "$gccinc" \
			"$@" $EXTRA_CFLAGS -c "$src" -o "$out.o" &&
		$CC -nostdlib -static -no-pie -o "$out" \
			"$lib/crt1.o" "$lib/crti.o" "$out.o" \
			"$lib/libc.a" "$($CC -print-libgcc-file-name)" "$lib/crtn.o" ;;
	esac
}

passed=0
failed=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

# 1. The fortify headers must be the ones found for <string.h>.
cat > "$work/probe.c" <<'EOF'
#include <string.h>
#include <stdio.h>
#ifndef __KIMIGAYO_FORTIFY_STRING_H
#error "<string.h> is not the Kimigayo fortify header"
#endif
#if __KIMIGAYO_FORTIFY_LEVEL != 2
#error "fortify level is not 2 at -O2 -D_FORTIFY_SOURCE=2"
#endif
int main(void) { return 0; }
EOF
if compile "$work/probe" "$work/probe.c" -O2 -D_FORTIFY_SOURCE=2; then
	pass
else
	fail "probe: the fortify headers are not in effect"
fi

# 2. Build the test program three ways.
ok=1
compile "$work/overflow-full" "$here/overflow.c" -O2 -D_FORTIFY_SOURCE=2 -Wall || ok=0
compile "$work/overflow-l3" "$here/overflow.c" -O2 -D_FORTIFY_SOURCE=3 -Wall || ok=0
compile "$work/overflow-none" "$here/overflow.c" -O2 -U_FORTIFY_SOURCE -fno-stack-protector -Wall || ok=0
if [ $ok = 0 ]; then
	fail "could not build overflow.c"
	echo "$passed passed, $failed failed"
	exit 1
fi

cases=$("$work/overflow-none" list) || { fail "overflow list"; exit 1; }
ulimit -c 0 2>/dev/null || :
if command -v timeout >/dev/null 2>&1; then to="timeout 20"; else to=; fi

# run BINARY CASE -> sets rc and out
# (the redirection around the assignment also silences the shell's own
# "Illegal instruction" report)
run() {
	{
		out=$(cd "$work" && exec $to "$1" "$2")
		rc=$?
	} 2>/dev/null
}

sigill=$(kill -l ILL 2>/dev/null || echo 4)
sigtrap=$(kill -l TRAP 2>/dev/null || echo 5)
case $sigill in *[!0-9]*) sigill=4 ;; esac
case $sigtrap in *[!0-9]*) sigtrap=5 ;; esac

for c in $cases; do
	for variant in full l3; do
		run "$work/overflow-$variant" "$c"
		if [ $rc -eq $((128 + sigill)) ] || [ $rc -eq $((128 + sigtrap)) ]; then
			pass
		else
			fail "$variant $c: expected a trap, got exit status $rc, output '$out'"
		fi
	done
	run "$work/overflow-none" "$c"
	if [ $rc -eq 0 ] && [ "$out" = "NO-TRAP $c" ]; then
		pass
	else
		fail "none $c: expected 'NO-TRAP $c' and status 0, got status $rc, output '$out'"
	fi
done

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
