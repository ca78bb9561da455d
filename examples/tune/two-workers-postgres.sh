#!/usr/bin/env bash
# A study shared by two workers through PostgreSQL, on one machine: a throwaway server (Debian's postgresql
# package) in a temporary directory on 127.0.0.1, two `handgrad tune` workers with one thread each, the report,
# then the server is stopped and removed. Run from the repository root, after `make install` (or `make test`).
#
#   examples/tune/two-workers-postgres.sh                                  # 16 trials of 3 epochs (~30 min on 2 cores)
#   TRAIN_LIMIT=20000 examples/tune/two-workers-postgres.sh                # on 20,000 training images (~15 min)
#   TRIALS=2 EPOCHS=1 TRAIN_LIMIT=500 STUDY=smoke examples/tune/two-workers-postgres.sh   # a one-minute check
#
# Results: runs/$STUDY/trial-NNNN/ and runs/$STUDY/report/ (best-command.txt: the best trial as a train command).
set -euo pipefail

STUDY=${STUDY:-fmnist-pg}
TRIALS=${TRIALS:-16}
EPOCHS=${EPOCHS:-3}
PORT=${PORT:-5433}
HANDGRAD=${HANDGRAD:-.venv/bin/handgrad}
EXTRA=()
if [ -n "${TRAIN_LIMIT:-}" ]; then EXTRA+=(--train-limit "$TRAIN_LIMIT"); fi

BIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")
DIR=$(mktemp -d /tmp/handgrad-pg.XXXXXX)
AS=()
if [ "$(id -u)" = 0 ]; then chown postgres "$DIR"; AS=(runuser -u postgres --); fi  # PostgreSQL refuses root
stop() { "${AS[@]}" "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true; rm -rf "$DIR"; }
trap stop EXIT

"${AS[@]}" "$BIN/initdb" -D "$DIR/data" -U handgrad --auth=trust -E UTF8 >/dev/null
"${AS[@]}" "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR" start >/dev/null
"$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U handgrad handgrad
URL="postgresql://handgrad@127.0.0.1:$PORT/handgrad"

echo "study $STUDY: $TRIALS trials of $EPOCHS epochs, two workers, storage $URL; logs in runs/$STUDY-worker{1,2}.log"
mkdir -p runs
for w in 1 2; do
    HANDGRAD_NUM_THREADS=1 "$HANDGRAD" tune --study "$STUDY" --storage "$URL" --trials "$TRIALS" \
        --epochs "$EPOCHS" "${EXTRA[@]}" --no-progress >"runs/$STUDY-worker$w.log" 2>&1 &
done
status=0
for job in $(jobs -p); do wait "$job" || status=$?; done
tail -n 1 "runs/$STUDY-worker1.log" "runs/$STUDY-worker2.log"
"$HANDGRAD" tune report "$STUDY" --storage "$URL"
exit "$status"
