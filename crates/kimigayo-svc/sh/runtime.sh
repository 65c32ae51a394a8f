# Kimigayo openrc-run runtime: the helper functions OpenRC init scripts use, the default
# start/stop/status, and the action dispatcher. Run as
#     sh runtime.sh /etc/init.d/SVC ACTION [ARGS...]
# with RC_SVCNAME, KIMIGAYO_ROOT ("/" in production), KIMIGAYO_SELF (the multi-call binary),
# KIMIGAYO_APPLETS (folder of start-stop-daemon/supervise-daemon/checkpath links),
# KIMIGAYO_SVC_STATE (this service's state folder) and KIMIGAYO_STATE_DIR (all services').

RC_SERVICE=$1
RC_CMD=${2:-}
shift 2 2>/dev/null || shift $#
: "${RC_SVCNAME:=${RC_SERVICE##*/}}"
SVCNAME=$RC_SVCNAME
_kg_root=${KIMIGAYO_ROOT:-/}
_kg_root=${_kg_root%/}
PATH="${KIMIGAYO_APPLETS:+$KIMIGAYO_APPLETS:}${PATH:-/sbin:/bin:/usr/sbin:/usr/bin}"
export RC_SERVICE RC_SVCNAME SVCNAME PATH

# ---- output (OpenRC's einfo family, uncoloured) -------------------------------------------
EINFO_INDENT=${EINFO_INDENT:-0}
# No command substitution here (a fork per message): the indent is a printf width.
_kg_p() {
	if [ "${EINFO_INDENT:-0}" -gt 0 ] 2>/dev/null; then
		printf " * %${EINFO_INDENT}s%s$1" '' "$2"
	else
		printf " * %s$1" "$2"
	fi
}
_kg_quiet() { yesno "${EINFO_QUIET:-no}"; }
einfon() { _kg_quiet && return 0; _kg_p '' "$*"; }
einfo() { _kg_quiet && return 0; _kg_p '\n' "$*"; }
ewarnn() { _kg_quiet && return 0; _kg_p '' "$*" >&2; }
ewarn() { _kg_quiet && return 0; _kg_p '\n' "$*" >&2; }
eerrorn() { _kg_p '' "$*" >&2; }
eerror() { _kg_p '\n' "$*" >&2; }
ebegin() { _kg_quiet && return 0; _kg_p ' ...\n' "$*"; }
_kg_end() {
	_kg_rv=${2:-0}
	_kg_fn=$1
	shift 2 2>/dev/null || shift $#
	if [ "$_kg_rv" -ne 0 ] 2>/dev/null; then
		[ $# -gt 0 ] && $_kg_fn "$*"
		_kg_quiet || printf ' [ !! ]\n'
	else
		_kg_quiet || printf ' [ ok ]\n'
	fi
	return "$_kg_rv"
}
eend() { _kg_end eerror "$@"; }
ewend() { _kg_end ewarn "$@"; }
_kg_verbose() { yesno "${EINFO_VERBOSE:-no}"; }
veinfo() { _kg_verbose && einfo "$@"; return 0; }
vewarn() { _kg_verbose && ewarn "$@"; return 0; }
verror() { _kg_verbose && eerror "$@"; return 0; }
vebegin() { _kg_verbose && ebegin "$@"; return 0; }
veend() { if _kg_verbose; then eend "$@"; else return "${1:-0}"; fi; }
vewend() { if _kg_verbose; then ewend "$@"; else return "${1:-0}"; fi; }
eindent() { EINFO_INDENT=$((EINFO_INDENT + ${1:-2})); [ "$EINFO_INDENT" -gt 40 ] && EINFO_INDENT=40; export EINFO_INDENT; return 0; }
eoutdent() { EINFO_INDENT=$((EINFO_INDENT - ${1:-2})); [ "$EINFO_INDENT" -lt 0 ] && EINFO_INDENT=0; export EINFO_INDENT; return 0; }
esyslog() { return 0; }

# yesno VALUE: true for yes/true/on/1; a variable name is followed once, like OpenRC's.
yesno() {
	case "$1" in
		[Yy][Ee][Ss]|[Tt][Rr][Uu][Ee]|[Oo][Nn]|1) return 0 ;;
		[Nn][Oo]|[Ff][Aa][Ll][Ss][Ee]|[Oo][Ff][Ff]|0|'') return 1 ;;
	esac
	case "$1" in
		*[!A-Za-z0-9_]*|[0-9]*) return 1 ;;
	esac
	eval "_kg_v=\${$1:-}"
	case "$_kg_v" in
		[Yy][Ee][Ss]|[Tt][Rr][Uu][Ee]|[Oo][Nn]|1) return 0 ;;
	esac
	return 1
}

# ---- service state helpers ------------------------------------------------------------------
_kg_opts="${KIMIGAYO_SVC_STATE:-/run/kimigayo/svc/$RC_SVCNAME}/options"
service_set_value() { mkdir -p "$_kg_opts" && printf '%s' "$2" >"$_kg_opts/$1"; }
service_get_value() { [ -r "$_kg_opts/$1" ] && cat "$_kg_opts/$1"; }
save_options() { service_set_value "$@"; }
get_options() { service_get_value "$@"; }
_kg_state_of() { cat "${KIMIGAYO_STATE_DIR:-/run/kimigayo/svc}/${1:-$RC_SVCNAME}/state" 2>/dev/null; }
service_started() { [ "$(_kg_state_of "$1")" = started ]; }
service_stopped() { case "$(_kg_state_of "$1")" in started|starting|stopping) return 1 ;; esac; return 0; }
service_crashed() { [ "$(_kg_state_of "$1")" = crashed ]; }
service_starting() { [ "$(_kg_state_of "$1")" = starting ]; }
service_stopping() { [ "$(_kg_state_of "$1")" = stopping ]; }
service_inactive() { return 1; }
service_wasinactive() { return 1; }
service_started_daemon() { return 1; }
# State is owned by the holder; scripts marking it explicitly are accepted and ignored.
mark_service_started() { return 0; }
mark_service_stopped() { return 0; }
mark_service_inactive() { return 0; }
mark_service_starting() { return 0; }
mark_service_stopping() { return 0; }
mark_service_crashed() { return 0; }
mark_service_failed() { return 0; }
is_older_than() { return 0; }
get_bootparam() { return 1; }
# Dependency keywords only matter to the dependency scanner (kimigayo-rc).
need() { :; }; use() { :; }; want() { :; }; after() { :; }; before() { :; }
provide() { :; }; keyword() { :; }; config() { :; }
checkpath() { "${KIMIGAYO_SELF:?}" checkpath "$@"; }

# PATH points nowhere for the question: a function or builtin is found without it, and a name
# that is neither costs no search through every PATH folder.
_kg_isfunc_now() { case "$(PATH=/nonexistent command -V "$1" 2>/dev/null)" in *function*) return 0 ;; esac; return 1; }
_kg_isfunc() { _kg_isfunc_now "$1"; }

# ---- defaults a script replaces by defining its own (as openrc-run.sh defines them before it
# reads the script): no shell has to ask which names are functions, which took a subshell ----
start() { _kg_default_start; }
stop() { _kg_default_stop; }
# The configuration read tells whether status is the script's own (below).
[ "$RC_CMD" = --kimigayo-dump ] || status() { _kg_default_status; }
start_pre() { :; }; start_post() { :; }; stop_pre() { :; }; stop_post() { :; }

# ---- configuration: rc.conf, conf.d (net.eth0 also reads conf.d/net), the script ----------
[ -r "$_kg_root/etc/rc.conf" ] && . "$_kg_root/etc/rc.conf"
case "$RC_SVCNAME" in
	*.*) [ -r "$_kg_root/etc/conf.d/${RC_SVCNAME%%.*}" ] && . "$_kg_root/etc/conf.d/${RC_SVCNAME%%.*}" ;;
esac
[ -r "$_kg_root/etc/conf.d/$RC_SVCNAME" ] && . "$_kg_root/etc/conf.d/$RC_SVCNAME"
if [ -n "$RC_SERVICE" ] && [ -r "$RC_SERVICE" ]; then
	. "$RC_SERVICE"
else
	eerror "$RC_SVCNAME: cannot read $RC_SERVICE"
	exit 1
fi

# ---- defaults ------------------------------------------------------------------------------
_kg_name() { printf '%s' "${name:-$RC_SVCNAME}"; }
_kg_supervise_pidfile() { printf '%s' "${pidfile:-${KIMIGAYO_SVC_STATE:-/run}/supervise-$RC_SVCNAME.pid}"; }

_kg_default_start() {
	if [ "${supervisor:-}" = supervise-daemon ]; then
		_kg_supervise_start
		return
	fi
	[ -n "${command:-}" ] || return 0
	_kg_bg=
	if yesno "${command_background:-no}"; then
		if [ -z "${pidfile:-}" ]; then
			eerror "$RC_SVCNAME: command_background=yes needs a pidfile"
			return 1
		fi
		_kg_bg="--background --make-pidfile"
	fi
	ebegin "Starting ${name:-$RC_SVCNAME}"
	# eval like OpenRC's, so command_args="-c 'a b'" keeps its quoting; the single values are
	# expanded inside the eval, quoted.
	eval start-stop-daemon --start --exec \"\$command\" \
		${procname:+--name \"\$procname\"} \
		${pidfile:+--pidfile \"\$pidfile\"} \
		${command_user:+--user \"\$command_user\"} \
		${directory:+--chdir \"\$directory\"} \
		${umask:+--umask \"\$umask\"} \
		${output_log:+--stdout \"\$output_log\"} \
		${error_log:+--stderr \"\$error_log\"} \
		${nicelevel:+--nicelevel \"\$nicelevel\"} \
		$_kg_bg $start_stop_daemon_args -- $command_args ${command_args_background:-}
	eend $? "Failed to start ${name:-$RC_SVCNAME}"
}

_kg_default_stop() {
	if [ "${supervisor:-}" = supervise-daemon ]; then
		ebegin "Stopping ${name:-$RC_SVCNAME}"
		supervise-daemon "$RC_SVCNAME" --stop --pidfile "$(_kg_supervise_pidfile)" ${stopsig:+--signal "$stopsig"}
		eend $? "Failed to stop ${name:-$RC_SVCNAME}"
		return
	fi
	[ -n "${command:-}${pidfile:-}${procname:-}" ] || return 0
	ebegin "Stopping ${name:-$RC_SVCNAME}"
	start-stop-daemon --stop \
		${command:+--exec "$command"} \
		${procname:+--name "$procname"} \
		${pidfile:+--pidfile "$pidfile"} \
		${stopsig:+--signal "$stopsig"} \
		--retry "${retry:-${stopsig:-TERM}/${timeout:-5}/KILL/5}"
	eend $? "Failed to stop ${name:-$RC_SVCNAME}"
}

_kg_default_status() {
	if [ "${supervisor:-}" = supervise-daemon ]; then
		supervise-daemon "$RC_SVCNAME" --status --pidfile "$(_kg_supervise_pidfile)"
	else
		start-stop-daemon --status ${command:+--exec "$command"} ${pidfile:+--pidfile "$pidfile"} ${procname:+--name "$procname"}
	fi
	case $? in
		0) einfo "status: started"; return 0 ;;
		*) einfo "status: stopped"; return 3 ;;
	esac
}

_kg_supervise_start() {
	[ -n "${command:-}" ] || { eerror "$RC_SVCNAME: supervisor=supervise-daemon needs command"; return 1; }
	ebegin "Starting ${name:-$RC_SVCNAME}"
	_kg_sp=$(_kg_supervise_pidfile)
	eval supervise-daemon \"\$RC_SVCNAME\" --start \
		--pidfile \"\$_kg_sp\" \
		${respawn_delay:+--respawn-delay \"\$respawn_delay\"} \
		${respawn_max:+--respawn-max \"\$respawn_max\"} \
		${respawn_period:+--respawn-period \"\$respawn_period\"} \
		${command_user:+--user \"\$command_user\"} \
		${directory:+--chdir \"\$directory\"} \
		${umask:+--umask \"\$umask\"} \
		${output_log:+--stdout \"\$output_log\"} \
		${error_log:+--stderr \"\$error_log\"} \
		$supervise_daemon_args \"\$command\" -- $command_args
	eend $? "Failed to start ${name:-$RC_SVCNAME}"
}

# Whether status is the script's own: the configuration read reports it (the service manager
# runs a shell for `status` only then). Every other action got the default before the script
# was read (see above) and asks nothing.
_kg_custom_status=no
if [ "$RC_CMD" = --kimigayo-dump ]; then
	if _kg_isfunc_now status; then _kg_custom_status=yes; else status() { _kg_default_status; }; fi
fi

_kg_commands() {
	printf '%s' "start stop restart status zap describe"
	for _kg_c in $extra_commands $extra_started_commands $extra_stopped_commands; do printf ' %s' "$_kg_c"; done
}

# A hook the script does not define is the no-op defined before it was read.
_kg_hook() { "$1"; }

_kg_run_start() {
	_kg_hook start_pre || { _kg_rc=$?; eerror "ERROR: $RC_SVCNAME failed to start"; return $_kg_rc; }
	start || { _kg_rc=$?; eerror "ERROR: $RC_SVCNAME failed to start"; return $_kg_rc; }
	_kg_hook start_post || { _kg_rc=$?; eerror "ERROR: $RC_SVCNAME failed to start"; return $_kg_rc; }
	return 0
}

_kg_run_stop() {
	_kg_hook stop_pre || { _kg_rc=$?; eerror "ERROR: $RC_SVCNAME failed to stop"; return $_kg_rc; }
	stop || { _kg_rc=$?; eerror "ERROR: $RC_SVCNAME failed to stop"; return $_kg_rc; }
	_kg_hook stop_post || { _kg_rc=$?; eerror "ERROR: $RC_SVCNAME failed to stop"; return $_kg_rc; }
	return 0
}

# Variables the service manager reads, as NUL-terminated KEY=value records.
_kg_dump() {
	for _kg_k in description name command command_args command_user command_background pidfile \
		procname directory umask output_log error_log supervisor respawn respawn_delay respawn_max \
		respawn_period retry_attempts retry_backoff retry extra_commands extra_started_commands \
		extra_stopped_commands sandbox_namespaces sandbox_seccomp sandbox_cap_drop sandbox_caps \
		sandbox_allow sandbox_no_new_privs sandbox_hostname sandbox_unavailable sandbox_userns \
		rc_timeout_stopsec; do
		eval "_kg_v=\${$_kg_k-}"
		eval "_kg_set=\${$_kg_k+set}"
		[ "$_kg_set" = set ] && printf '%s=%s\000' "$_kg_k" "$_kg_v"
	done
	printf '%s=%s\000' _custom_status "$_kg_custom_status"
	return 0
}

_kg_has_command() {
	for _kg_c in $extra_commands $extra_started_commands $extra_stopped_commands; do
		[ "$_kg_c" = "$1" ] && return 0
	done
	return 1
}

case "$RC_CMD" in
	--kimigayo-dump) _kg_dump >"$1"; exit $? ;;
	start) _kg_run_start; exit $? ;;
	stop) _kg_run_stop; exit $? ;;
	restart) _kg_run_stop && _kg_run_start; exit $? ;;
	status) status; exit $? ;;
	zap) exit 0 ;;
	describe)
		einfo "${description:-$RC_SVCNAME}"
		for _kg_c in $extra_commands $extra_started_commands $extra_stopped_commands; do
			eval "_kg_d=\${description_$_kg_c:-}"
			einfo "$_kg_c: ${_kg_d:-no description}"
		done
		exit 0 ;;
	'') eerror "$RC_SVCNAME: no command given; valid commands: $(_kg_commands)"; exit 1 ;;
esac
if _kg_has_command "$RC_CMD" && _kg_isfunc "$RC_CMD"; then
	"$RC_CMD" "$@"
	exit $?
fi
eerror "ERROR: $RC_SVCNAME: unknown command \`$RC_CMD'; valid commands: $(_kg_commands)"
exit 1
