# What the conformance test compares, one `key=value` per line (same under both inits).
mkdir -p /run/conf
st() { rc-service "$1" status >/dev/null 2>&1; echo $?; }
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null && echo yes || echo no; }
for s in c-base c-dep c-wanted c-before c-daemon c-confd c-required c-user c-fail; do echo "boot_status_$s=$(st $s)"; done
echo "order=$(tr '\n' ',' < /run/conf/order)"
echo "modes=$(stat -c '%a %F' /run/conf/dir /run/conf/file | tr '\n' ',')"
echo "user=$(awk '/^Uid/ {print $2}' /proc/$(cat /run/c-user.pid)/status)"
echo "daemon_alive=$(alive /run/c-daemon.pid)"
rc-service c-daemon poke > /dev/null 2>/run/conf/poke.err; echo "poke_exit=$?"
echo "poke=$(cat /run/conf/poke)"
echo "poke_warned=$(grep -c poked /run/conf/poke.err)"
echo "info=$(rc-service c-daemon info 2>/dev/null | grep '^info')"
rc-service c-wanted poke >/dev/null 2>&1; echo "unknown_cmd_exit=$?"
rc-service c-daemon info nosuch >/dev/null 2>&1; echo "two_words_exit=$?"
rc-service c-required start >/dev/null 2>&1; echo "required_exit=$?"
echo "required_status=$(st c-required)"
touch /etc/c-required.conf
rc-service c-required start >/dev/null 2>&1; echo "required_again_exit=$?"
echo "required_again_status=$(st c-required)"
rc-service c-fail start >/dev/null 2>&1; echo "fail_exit=$?"
rc-service c-daemon stop >/dev/null 2>&1; echo "daemon_stop_exit=$?"
echo "daemon_after_stop=$(alive /run/c-daemon.pid) $(st c-daemon)"
rc-service c-daemon stop >/dev/null 2>&1; echo "daemon_stop_again_exit=$?"
rc-service c-daemon start >/dev/null 2>&1; echo "daemon_start_exit=$?"
rc-service c-daemon restart >/dev/null 2>&1; echo "daemon_restart_exit=$? $(alive /run/c-daemon.pid)"
rc-service c-daemon start >/dev/null 2>&1; echo "daemon_start_started_exit=$?"
rc-service c-user stop >/dev/null 2>&1; echo "user_stop_exit=$? $(alive /run/c-user.pid)"
rc-service nosuch start >/dev/null 2>&1; echo "nosuch_exit=$?"
rc-service -e c-base; echo "exists=$?"
rc-service -e nosuch; echo "exists_not=$?"
echo "resolve=$(rc-service -r c-base)"
rc-service -D c-wanted restart >/dev/null 2>&1; echo "nodeps_restart_exit=$?"
echo "order_after=$(tr '\n' ',' < /run/conf/order)"
