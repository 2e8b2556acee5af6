#!/bin/sh
# Makes a secret file for the native stack (the admin token of .stack/), the
# way a secret file should be made: private from the first byte, and never
# passed through a command line, where `ps` would show it to every user.
set -eu

usage() {
  cat <<'TXT'
usage: scripts/secret-file.sh FILE

  Writes 32 random hexadecimal bytes into FILE, readable by its owner only
  (mode 600), unless FILE already holds a secret: then it is kept, and its
  mode is set to 600 (a copy made by an older, world-readable version is
  closed). Prints nothing; read the secret from the file.
TXT
}

case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  '') usage >&2; exit 2 ;;
esac
file=$1

# Files this script creates are the owner's only (600), whatever the caller's umask.
umask 077
if [ -s "$file" ]; then
  chmod 600 "$file"
  exit 0
fi
# Created empty first, already private, then filled: no moment at which the
# secret sits in a file others may read. Renamed into place, so a reader sees
# no file or a whole one.
partial="$file.partial.$$"
: >"$partial"
od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$partial"
mv -f "$partial" "$file"
