#!/bin/sh
# A tour of initsup's single-command mode.  Run it from the repository's root:
#
#     python3 -m initsup -w -- sh examples/demo.sh
#
# It orphans a few processes (initsup adopts and reaps them: -w logs each one), then asks
# initsup to send it signals, which initsup forwards back to it, and exits 0 on SIGTERM.

initsup=$PPID
echo "demo: I am pid $$; my parent, initsup, is pid $initsup"

zombies() {
    # Zombie children of initsup, counted straight from /proc (field 3: state, 4: ppid).
    cat /proc/[0-9]*/stat 2>/dev/null | awk -v p="$initsup" '$4 == p && $3 == "Z"' | wc -l
}

for i in 1 2 3; do
    (sleep "0.$i" &)        # the subshell exits at once: its sleep is orphaned
done
echo "demo: orphaned 3 processes; initsup adopts them and reaps each as it exits"
sleep 0.6
echo "demo: zombies left behind: $(zombies)"

got_usr1=0
trap 'got_usr1=1' USR1
echo "demo: sending SIGUSR1 to initsup..."
kill -USR1 "$initsup"
while [ "$got_usr1" = 0 ]; do sleep 0.01; done
echo "demo: ...and initsup forwarded it back to me"

trap 'echo "demo: got SIGTERM from initsup, exiting 0"; exit 0' TERM
echo "demo: sending SIGTERM to initsup (as docker stop would)..."
kill -TERM "$initsup"
while :; do sleep 0.01; done
