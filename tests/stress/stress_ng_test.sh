#!/bin/sh
# stress-ng's filesystem stressors, 1 instance each for a few seconds with
# --verify, on a tmpfs and on a real AlexFS mount: each stressor that passes on
# the tmpfs must pass on AlexFS. stress-ng exits 0 even when a stressor stops
# on an error, so a run passes only with exit 0 and no "error:"/"fail" line.
# Usage: stress_ng_test.sh ALEXFS_BINARY [SECONDS]
set -u
alexfs="$1"
seconds="${2:-3}"
STRESSORS="dir dentry rename link symlink fcntl sync-file filename lockf mmap"

work=$(mktemp -d /tmp/alexfs-stress-XXXXXX)
mkdir "$work/data" "$work/mnt" "$work/tmpfs"
cleanup() {
  "$alexfs" unmount "$work/mnt" >/dev/null 2>&1
  umount "$work/tmpfs" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
mount -t tmpfs -o size=256m tmpfs "$work/tmpfs" || exit 1
"$alexfs" mount "$work/data" "$work/mnt" || exit 1

# run STRESSOR DIR LOG: 0 if the stressor ran clean.
run() {
  (cd "$2" && timeout $((seconds + 60)) stress-ng --"$1" 1 --timeout "$seconds" --verify \
     --temp-path "$2" >"$3" 2>&1)
  rc=$?
  [ $rc -eq 0 ] && ! grep -Eqi "error:|fail" "$3"
}

status=0
for s in $STRESSORS; do
  if ! run "$s" "$work/tmpfs" "$work/$s.tmpfs.log"; then
    echo "SKIP $s: fails on tmpfs too"; cat "$work/$s.tmpfs.log"
    continue
  fi
  if run "$s" "$work/mnt" "$work/$s.alexfs.log"; then
    echo "PASS $s"
  else
    echo "FAIL $s (passes on tmpfs):"; cat "$work/$s.alexfs.log"
    status=1
  fi
done
exit $status
