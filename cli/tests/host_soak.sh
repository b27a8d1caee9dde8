# The soak of cli/tests/host.rs, run by `on_a_host` (its prelude defines pp, as, as_member,
# as_q, as_outsider and fail). Root and three members (Q, ppn, ppk) allocate and release in a
# loop for $PORTPOOL_SOAK_SECONDS (default 60) while a fourth member, M, loops through every
# attack of issue 26's host table a member can still try, and the outsider O through its own
# (the files, the lock, the commands, and the portserver: greedy asks and a connect storm).
# The portserver serves the same pool throughout, and root repairs what M damages, as an
# operator would. Every acknowledged result (port, acknowledged, released, holder) goes to a
# log; afterwards no port may have been held by two live leases, and, with M's last damage
# left in place, one `portpool repair` as root must bring every command back for every user.
seconds=${PORTPOOL_SOAK_SECONDS:-60}
for user in ppn ppk; do useradd -m -G "$GROUP" "$user"; done
pp init --group "$GROUP" >/dev/null
pp pool set soak "$FREE" $((FREE + 15)) --no-probe >/dev/null
# M's own leases, which it damages by hand, come from a pool of their own: when a repair
# cannot keep one, its port is free again, and nobody else's lease is in that pool.
pp pool set bait $((FREE + 16)) $((FREE + 31)) --no-probe >/dev/null
root_port=$(pp allocate installer-svc)
# A lease Q holds throughout, for M to try its hands on.
q_port=$(as_q allocate --pool soak q-held)
end=$((EPOCHSECONDS + seconds))
touch problems attacks repairs
as_n() { as ppn "$BIN" "$@"; }
as_k() { as ppk "$BIN" "$@"; }
summary() { cut -d' ' -f1-3 attacks | sort | uniq -c; }
now() { echo "${EPOCHREALTIME//[!0-9]/}"; }

# Root as the operator: a registry that every command refuses is repaired, and a repair may
# lose only what M wrote or damaged by hand (its bait leases, its garbage).
heal() {
  local out held got code
  pp list >/dev/null 2>&1 && return 0
  out=$(pp repair 2>&1) || { echo "REPAIR FAILED: $out" >> problems; return 0; }
  echo "$out" >> repairs
  if echo "$out" | grep '^lost: ' | grep -Eq '(pp|as_q|as_n|as_k|as_member)-[0-9]|installer-svc|q-held'; then
    echo "REPAIR LOST AN HONEST LEASE: $out" >> problems
  fi
  # (M may have damaged the file again already: only "not found" or another port counts.)
  for held in "installer-svc $root_port" "q-held $q_port"; do
    if got=$(pp get ${held% *} 2>/dev/null); then code=0; else code=$?; fi
    [ "$code" != 1 ] && { [ "$code" != 0 ] || [ "$got" = "${held#* }" ]; } ||
      echo "AFTER A REPAIR, ${held% *} IS GONE ($code, $got): $out" >> problems
  done
}

# Runs `$who ARGS...`, retrying while the registry is busy (M holds the lock: exit 6) or
# damaged (M's hand-written damage, until root repairs it: exit 5), until $end + 15 s. Root
# repairs. Prints the output of the call that answered; returns its exit code.
persist() {
  local who=$1 out code
  shift
  while :; do
    if out=$($who "$@" 2>/dev/null); then echo "$out"; return 0; else code=$?; fi
    case $code in 5 | 6) ;; *) return "$code" ;; esac
    [ "$EPOCHSECONDS" -lt $((end + 15)) ] || return "$code"
    [ "$who" != pp ] || heal
    sleep 0.05
  done
}

# One worker: allocate (its acknowledgement starts the lease), check that the lease still
# holds the port, note when the release that answered began (the lease ends no earlier),
# release. A refused allocate acknowledged nothing.
worker() {
  local who=$1 log=$2 i=0 port t0 t1 out
  while [ "$EPOCHSECONDS" -lt "$end" ]; do
    i=$((i + 1))
    if ! port=$($who allocate --pool soak "$who-$i" 2>/dev/null); then
      [ "$who" != pp ] || heal
      continue
    fi
    t0=$(now)
    [ "$(persist "$who" get "$who-$i")" = "$port" ] || echo "LOST: $who-$i $port" >> problems
    while :; do
      t1=$(now)
      out=$($who release "$who-$i" 2>/dev/null) && break
      [ "$EPOCHSECONDS" -lt $((end + 15)) ] || { echo "NOT RELEASED: $who-$i" >> problems; break; }
      [ "$who" != pp ] || heal
      sleep 0.05
    done
    case $out in
      released*) ;;
      *) echo "LOST: $who-$i $port was gone by its release: $out" >> problems ;;
    esac
    echo "$port $t0 $t1 $who-$i" >> "$log"
  done
}

# `attempt NAME CMD...`: one attack, recorded as "NAME landed" or "NAME refused: ERROR". A
# release that finds no lease (its holder released it first) changed nothing: "NAME missed".
attempt() {
  local name=$1 out
  shift
  if out=$("$@" 2>err.attack); then
    case $out in
      *"held no lease") echo "$name missed" >> attacks ;;
      *) echo "$name landed: $out; $(as_member list 2>&1 | grep -E '^(installer-svc|q-held) ' | tr -s ' \n' ' ')" >> attacks ;;
    esac
  else
    echo "$name refused: $(head -c 200 err.attack | tr '\n' ' ')" >> attacks
  fi
}

# The names of the sticky directory, as M would take them over: each must be refused by the
# kernel (EPERM), whatever M puts there.
attack_names() {
  local target
  as "$MEMBER" sh -c "echo garbage > $DIR/m-file; printf '{\"version\":4}\n' > $DIR/m-v4" || true
  as "$MEMBER" sh -c "cp $REG $DIR/m-copy && chmod 600 $DIR/m-copy" || true
  as "$MEMBER" mkfifo "$DIR/m-fifo" 2>/dev/null || true
  as "$MEMBER" mkdir -p "$DIR/m-dir" || true
  for target in "$REG" "$REG.lock" "$DIR/.registry.json.spare"; do
    attempt "swap-in-file" as "$MEMBER" mv -f "$DIR/m-file" "$target"
    attempt "swap-in-newer-version" as "$MEMBER" mv -f "$DIR/m-v4" "$target"
    attempt "swap-in-private-copy" as "$MEMBER" mv -f "$DIR/m-copy" "$target"
    attempt "swap-in-fifo" as "$MEMBER" mv -f "$DIR/m-fifo" "$target"
    attempt "swap-in-directory" as "$MEMBER" mv -fT "$DIR/m-dir" "$target"
    attempt "swap-in-symlink" as "$MEMBER" ln -sfn /etc/passwd "$target"
    attempt "rename-away" as "$MEMBER" mv "$target" "$DIR/m-moved"
    attempt "delete" as "$MEMBER" rm -f "$target"
  done
}

# M's hand-written damage inside the registry it may write, done under the lock (so it lands
# on the file every writer uses, and no repair comes between it and M's look at the result):
# each damages a line of M's own that a valid line of M's follows.
damage() {
  local kind=$1 bait=m-bait-$2 seen old
  # M's earlier baits go first, so that its pool never runs dry.
  for old in $(as_member list 2>/dev/null | awk '$1 ~ /^m-bait-/ { print $1 }'); do
    as_member release "$old" >/dev/null 2>&1 || true
  done
  as_member allocate --pool bait "$bait" >/dev/null 2>&1 || return 0
  as_member allocate --pool bait "$bait-after" >/dev/null 2>&1 || return 0
  seen=$(as "$MEMBER" env REG="$REG" BAIT="$bait" KIND="$kind" BIN="$BIN" \
    flock -w 5 "$REG.lock" bash -c '
    found=$(grep -a -b -m1 "\"name\":\"$BAIT\"" "$REG") || exit 0
    offset=${found%%:*} line=${found#*:}
    case $KIND in
      nul-block) head -c "${#line}" /dev/zero | dd of="$REG" bs=1 seek="$offset" conv=notrunc status=none ;;
      flipped-byte) printf "\002" | dd of="$REG" bs=1 seek=$((offset + ${#line} / 2)) conv=notrunc status=none ;;
      duplicated-line) printf "%s\n" "$line" >> "$REG" ;;
      garbage-mid-file) printf "garbage\n%s\n" "$(grep -a -m1 "\"name\":\"$BAIT-after\"" "$REG")" >> "$REG" ;;
      garbage-tail) printf "garbage" >> "$REG" ;;
      newer-version-header) printf 4 | dd of="$REG" bs=1 seek=11 conv=notrunc status=none ;;
    esac
    if "$BIN" list >/dev/null 2>&1; then echo "read back"; else "$BIN" list 2>&1 >/dev/null; fi; true') || return 0
  case $seen in
    "") ;;
    "read back") echo "$kind read back" >> attacks ;;
    *"portpool repair"*) echo "$kind refused by readers" >> attacks ;;
    *) echo "DAMAGE ($kind) NOT NAMING REPAIR: $seen" >> problems ;;
  esac
}

# The rails against a member's accidents (refused, exit 3), other users' leases (a name
# already released is M's to take: M gives it back at once, logged as any holder's), and the
# lock held for a while.
attack_rails() {
  local round=$1 theirs port t0
  attempt "release-roots-lease" as_member release installer-svc
  attempt "re-register-roots-lease" as_member register installer-svc "$root_port" fixed
  attempt "re-allocate-roots-name" as_member allocate installer-svc
  attempt "set-owner-of-roots-lease" as_member set-owner installer-svc
  attempt "pool-set-roots-pool" as_member pool set soak "$FREE" "$FREE"
  attempt "reset" as_member reset --yes
  attempt "release-others-lease" as_member release q-held
  attempt "re-register-others-lease" as_member register q-held "$q_port" fixed
  attempt "hand-over-others-lease" as_member handover q-held
  for theirs in $(as_member list 2>/dev/null | awk '$1 ~ /^(pp|as_q|as_n|as_k)-/ { print $1 }'); do
    attempt "release-others-lease" as_member release "$theirs"
    if port=$(as_member allocate --pool soak "$theirs" 2>/dev/null); then
      t0=$(now)
      as_member release "$theirs" >/dev/null 2>&1 || echo "M could not give $theirs back" >> problems
      echo "$port $t0 $(now) m-$theirs-$round" >> m.log
    fi
  done
  attempt "hold-the-lock" as "$MEMBER" flock -w 5 "$REG.lock" sleep 0.3
}

# The outsider: no name in the directory, no write to the registry, no lock, no change.
attack_outsider() {
  attempt "outsider-plants-file" as "$OUTSIDER" sh -c "echo x > $DIR/o-file"
  attempt "outsider-writes-registry" as "$OUTSIDER" sh -c "echo garbage >> $REG"
  attempt "outsider-holds-lock" as "$OUTSIDER" flock -n "$REG.lock" true
  attempt "outsider-allocates" as_outsider allocate --pool soak o-svc
  attempt "outsider-releases-roots-lease" as_outsider release installer-svc
  attempt "outsider-pool-set" as_outsider pool set soak "$FREE" "$FREE"
}

attacker() {
  local round=0 kind
  while [ "$EPOCHSECONDS" -lt "$end" ]; do
    round=$((round + 1))
    for kind in garbage-tail duplicated-line nul-block flipped-byte garbage-mid-file newer-version-header; do
      [ "$EPOCHSECONDS" -lt "$end" ] || break
      damage "$kind" "$round-$kind"
      sleep 0.5
    done
    attack_names
    attack_rails "$round"
    attack_outsider
  done
}

# The portserver (a long-lived handle across every repair) hands out ports of the same pool.
# Its clients, in Python as portpicker's are: `ask ADDRESS COUNT UNTIL` asks COUNT times for
# a port for its own process and prints "PORT ACKNOWLEDGED" per port, then "end NOW" just
# before it exits at UNTIL (its leases end no earlier); `storm ADDRESS UNTIL` keeps opening
# connections that never send a request (a few hundred a second), up to 300 at once, until
# UNTIL.
ask='
import os, socket, sys, time
now = lambda: time.time_ns() // 1000
for _ in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    try:
        s.connect("\0" + sys.argv[1][1:])
        s.sendall(b"%d\n" % os.getpid())
        reply = s.makefile().read().strip()
    except OSError:
        reply = ""
    s.close()
    print("%s %d" % (reply, now()) if reply.isdigit() else "refused 0", flush=True)
time.sleep(max(0.0, float(sys.argv[3]) - time.time()))
print("end %d" % now(), flush=True)
'
storm='
import collections, socket, sys, time
held = collections.deque()
while time.time() < float(sys.argv[2]):
    s = socket.socket(socket.AF_UNIX)
    s.setblocking(False)
    try:
        s.connect("\0" + sys.argv[1][1:])
        held.append(s)
    except OSError:
        s.close()
    while len(held) > 300:
        held.popleft().close()
    time.sleep(0.002)
'
address=@portpool-soak-$$
timeout $((seconds + 40)) "$BIN" portserver --address "$address" --pool soak 2>server.err &
server=$!
# Granted ports go to all.log as any holder's: PORT ACKNOWLEDGED END HOLDER.
as_log() {
  awk -v who="$1" '$1 == "end" { until = $2 } $1 ~ /^[0-9]+$/ { port[++n] = $1; t[n] = $2 }
    END { for (i = 1; i <= n; i++) print port[i], t[i], until, who "-" i }'
}
# O, greedy: twelve ports for one long-lived process (the server grants a quarter of the pool
# to one user), and a connect storm from three processes. Q asks for one port at a time.
as "$OUTSIDER" /usr/bin/python3 -c "$ask" "$address" 12 "$end" > greedy.out &
for _ in 1 2 3; do as "$OUTSIDER" /usr/bin/python3 -c "$storm" "$address" "$end" & done
portserver_client() {
  local i=0
  while [ "$EPOCHSECONDS" -lt "$end" ]; do
    i=$((i + 1))
    as "$Q" /usr/bin/python3 -c "$ask" "$address" 1 0 | as_log "q-portserver-$i" >> portserver.log
  done
}
sleep 0.5
worker pp root.log & worker as_q q.log & worker as_n n.log & worker as_k k.log &
attacker & portserver_client &
wait $(jobs -p | grep -vx "$server")
kill "$server"
wait "$server" || true
[ ! -s problems ] || fail "$(cat problems)"

# Every attack was tried; what the sticky directory, the rails and the outsider's rights
# refuse was refused every time; M's damage was seen by readers and repaired.
for name in swap-in-file swap-in-newer-version swap-in-private-copy swap-in-fifo \
  swap-in-directory swap-in-symlink rename-away delete release-roots-lease \
  re-register-roots-lease re-allocate-roots-name re-register-others-lease hand-over-others-lease set-owner-of-roots-lease pool-set-roots-pool \
  reset release-others-lease outsider-plants-file outsider-writes-registry outsider-holds-lock \
  outsider-allocates outsider-releases-roots-lease outsider-pool-set; do
  grep -q "^$name refused" attacks || fail "$name was never tried: $(summary)"
  ! grep "^$name landed" attacks || fail "$name landed: $(cat repairs)"
done
# Those the kernel refuses, because the directory is sticky:
for name in swap-in-file swap-in-newer-version swap-in-private-copy swap-in-fifo swap-in-symlink rename-away delete; do
  ! grep "^$name refused" attacks | grep -v "Operation not permitted" || fail "$name was not refused by the kernel"
done
grep -q "^hold-the-lock landed" attacks || fail "M never held the lock"
for kind in nul-block flipped-byte garbage-mid-file newer-version-header; do
  grep -q "^$kind refused by readers" attacks || fail "$kind never damaged the file: $(summary)"
done
grep -q "^repaired: kept" repairs || fail "root never repaired M's damage"

cat root.log q.log n.log k.log > all.log
[ "$(wc -l < all.log)" -gt $((seconds * 2)) ] || fail "too few acknowledged leases to tell: $(wc -l < all.log)"
cat m.log >> all.log 2>/dev/null || true
granted=$(grep -c '^[0-9]' greedy.out || true)
[ "$granted" -ge 1 ] && [ "$granted" -le 4 ] || fail "the portserver granted the greedy outsider $granted ports: $(cat greedy.out)"
as_log o-portserver < greedy.out >> all.log
served=$(grep -c . portserver.log || true)
[ "$served" -ge 1 ] || fail "the portserver served Q nothing during the storm: $(cat server.err)"
cat portserver.log >> all.log
# Per port, in order of acknowledgement: each lease must begin after the previous one ended
# (lines: PORT ACKNOWLEDGED RELEASE-BEGAN HOLDER, times in microseconds).
overlaps() {
  sort -k1,1n -k2,2n | awk '$1 == port && $2 < until { print prev " / " $0 }
    { if ($1 != port) until = 0; port = $1; if ($3 > until) until = $3; prev = $0 }'
}
[ -n "$(printf '7 10 30 a\n8 12 40 b\n7 20 50 c\n' | overlaps)" ] || fail "the overlap check cannot fail"
overlap=$(overlaps < all.log)
[ -z "$overlap" ] || fail "one port, two live leases: $overlap"

# The last word is M's: a NUL block it leaves in the registry (when the file is not already
# refused), for the one repair below.
damage nul-block last
damage garbage-mid-file last-again
for who in pp as_q as_member as_outsider; do
  if $who list >/dev/null 2>err; then fail "$who reads the registry M damaged last: $(summary)"; else code=$?; fi
  [ "$code" = 5 ] || fail "$who list: exit $code: $(cat err)"
  grep -q "portpool repair" err || fail "$who is not told the way back: $(cat err)"
done
out=$(pp repair) || fail "the last repair: $out"
echo "$out" | grep -q "^repaired: kept" || fail "the last repair: $out"
! echo "$out" | grep '^lost: ' | grep -Eq '(pp|as_q|as_n|as_k|as_member)-[0-9]|installer-svc|q-held' || fail "the last repair lost an honest lease: $out"
aside=$(echo "$out" "$(cat repairs)" | grep -c '^moved aside: ')
[ "$(ls "$DIR" | grep -c '\.damaged-')" = "$aside" ] || fail "damaged files: $(ls -a "$DIR") for $aside moved aside"

# Root's and Q's leases are still theirs: made by them, never re-made by M.
uids=$(pp list --json | tr -d ' \n' | grep -Eo '"name":"(installer-svc|q-held)"[^}]*"uid":[0-9]+' | sed 's/"name":"\([^"]*\)".*"uid":/\1 /')
[ "$uids" = "installer-svc 0
q-held $(id -u "$Q")" ] || fail "leases changed hands: $uids"
# After that one repair, every command reads the registry, for every user, as it should
# (once root's gc has taken back the leases of the portserver's clients, which have exited).
pp gc >/dev/null
[ "$(stat -c '%U:%G %a' "$REG")" = "root:$GROUP 664" ] || fail "registry is $(stat -c '%U:%G %a' "$REG")"
[ "$(stat -c '%U:%G %a' "$REG.lock")" = "root:$GROUP 660" ] || fail "lock is $(stat -c '%U:%G %a' "$REG.lock")"
for who in pp as_q as_n as_k as_member as_outsider; do
  $who list | grep -q "^installer-svc " || fail "$who: list: $($who list 2>&1)"
  [ "$($who get installer-svc)" = "$root_port" ] || fail "$who: get: $($who get installer-svc 2>&1)"
  [ "$($who get q-held)" = "$q_port" ] || fail "$who: get: $($who get q-held 2>&1)"
  $who doctor >/dev/null 2>err || fail "$who: doctor: exit $?: $($who doctor 2>&1)"
  if [ "$who" = as_outsider ]; then
    if $who allocate --pool soak after-repair 2>err; then fail "the outsider allocated"; else code=$?; fi
    [ "$code" = 5 ] && grep -q "members of group $GROUP" err || fail "outsider: exit $code: $(cat err)"
    continue
  fi
  port=$($who allocate --pool soak "$who-after-repair") || fail "$who cannot allocate"
  [ "$($who get "$who-after-repair")" = "$port" ] || fail "$who: get after allocate"
  $who release "$who-after-repair" | grep -q "^released" || fail "$who cannot release"
done
