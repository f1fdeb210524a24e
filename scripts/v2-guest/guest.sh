#!/bin/sh
# Stage 2 of the cgroup v2 guest (see init): mounts the usual filesystems, cgroup2 as
# the only cgroup hierarchy, runs every test executable under /berth/tests and prints
# one marker line per executable and a final one that scripts/v2-guest/run.sh reads:
#   BERTH-GUEST-RESULT <name> status=<exit status>
#   BERTH-GUEST-DONE status=<0 if all passed, else 1>
# then powers off. It never exits early: a missing DONE line means the guest crashed.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export HOME=/root

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts
mount -t tmpfs -o mode=1777 shm /dev/shm
mount -t mqueue mqueue /dev/mqueue
mount -t tmpfs -o mode=1777 tmp /tmp
mount -t tmpfs -o mode=0755 run /run
# The mount options systemd uses on pure cgroup v2 hosts.
mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup
hostname berth-v2-guest
ip link set lo up

# shellcheck source=/dev/null # written by run.sh
. /berth/env

overall=0
fail() {
    echo "berth-guest: $*"
    overall=1
}

echo "+cpuset +cpu +io +memory +pids" >/sys/fs/cgroup/cgroup.subtree_control ||
    fail "cannot enable controllers in /sys/fs/cgroup/cgroup.subtree_control"
echo "berth-guest: kernel $(uname -r) up after $(cut -d' ' -f1 /proc/uptime)s, cgroup controllers enabled: $(cat /sys/fs/cgroup/cgroup.subtree_control)"

if [ -s /berth/modules.load ]; then
    while read -r ko; do
        insmod "/lib/modules/$(uname -r)/$ko" || fail "insmod $ko failed"
    done </berth/modules.load
fi

export BERTH_BIN_DIR=/berth/bin
# The tests hard-link busybox into their root filesystems. /tmp is a filesystem of
# its own here, so give them a busybox on it: a copy would be made instead, and exec
# of a file just copied by a multi-threaded test races with other threads' forks that
# still hold it open for writing (ETXTBSY).
export BERTH_TEST_TMP=/tmp/berth-test
mkdir -p "$BERTH_TEST_TMP"
cp /bin/busybox /tmp/busybox
export BERTH_TEST_BUSYBOX=/tmp/busybox
export BERTH_EXPECT_CGROUP2=1
export RUST_BACKTRACE=1

# Named <n>-<test target>, so the glob runs them in run.sh's order.
for t in /berth/tests/*; do
    [ -x "$t" ] || continue
    name=${t##*/}
    name=${name#*-}
    echo "BERTH-GUEST-BEGIN $name"
    start=$(date +%s)
    # shellcheck disable=SC2086 # BERTH_GUEST_TEST_ARGS is a list of words
    timeout -s KILL "$BERTH_GUEST_TEST_TIMEOUT" "$t" --test-threads=2 $BERTH_GUEST_TEST_ARGS </dev/null 2>&1
    rc=$?
    echo "BERTH-GUEST-RESULT $name status=$rc seconds=$(($(date +%s) - start))"
    [ "$rc" -eq 0 ] || overall=1
done

# Nothing else runs in this guest: a process still in a child cgroup was leaked by a
# test. Empty cgroups left behind are reported (a runtime may keep a shared parent
# such as /sys/fs/cgroup/berth, as runc does).
find /sys/fs/cgroup -mindepth 1 -type d >/tmp/cgroups-left 2>/dev/null
while read -r cg; do
    procs=$(cat "$cg/cgroup.procs" 2>/dev/null)
    if [ -n "$procs" ]; then
        fail "processes left behind by the tests in $cg: $procs"
    else
        echo "berth-guest: empty cgroup left behind: $cg"
    fi
done </tmp/cgroups-left

echo "berth-guest: tests done after $(cut -d' ' -f1 /proc/uptime)s of guest uptime"
echo "BERTH-GUEST-DONE status=$overall"
sync
poweroff -f
