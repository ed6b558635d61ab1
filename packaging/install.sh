#!/usr/bin/env bash
# Installs swiftproxy-remote as a systemd service: the binary, the unit, a config file, and an
# initialised data directory (users.db + a self-signed certificate), then prints what to do next.
#
#   sudo packaging/install.sh ./swiftproxy-remote-x86_64-unknown-linux-gnu [--san vpn.example.org] [--listen 0.0.0.0:443]
#
# DESTDIR=/some/dir stages everything under that directory instead of / (and skips systemctl);
# PREFIX (default /usr/local) is where the binary goes.
set -euo pipefail

usage() {
  echo "usage: $0 BINARY [--san NAME[,NAME...]] [--listen HOST:PORT]" >&2
  echo "  BINARY: a swiftproxy-remote executable (from the release page or deno task compile)" >&2
  exit 2
}

[ $# -ge 1 ] || usage
binary=$1
shift
san=""
listen="0.0.0.0:443"
while [ $# -gt 0 ]; do
  case $1 in
  --san) [ $# -ge 2 ] || usage; san=$2; shift 2 ;;
  --listen) [ $# -ge 2 ] || usage; listen=$2; shift 2 ;;
  *) echo "error: unknown option $1" >&2; usage ;;
  esac
done
[ -f "$binary" ] || { echo "error: no such file: $binary" >&2; exit 2; }

here=$(cd "$(dirname "$0")" && pwd)
destdir=${DESTDIR:-}
prefix=${PREFIX:-/usr/local}
bin_path=$prefix/bin/swiftproxy-remote
unit_path=/etc/systemd/system/swiftproxy-remote.service
config_path=/etc/swiftproxy/remote.toml
data_dir=/var/lib/swiftproxy

if [ -z "$destdir" ] && [ "$(id -u)" -ne 0 ]; then
  echo "error: run as root (sudo), or set DESTDIR to stage the files elsewhere" >&2
  exit 1
fi

install -d -m 0755 "$destdir$prefix/bin" "$destdir/etc/systemd/system" "$destdir/etc/swiftproxy" \
  "$destdir/var/lib"
install -m 0755 "$binary" "$destdir$bin_path"
sed "s|/usr/local/bin/swiftproxy-remote|$bin_path|" "$here/swiftproxy-remote.service" \
  >"$destdir$unit_path.tmp"
chmod 0644 "$destdir$unit_path.tmp"
mv "$destdir$unit_path.tmp" "$destdir$unit_path"
echo "installed $bin_path and $unit_path"

if [ -e "$destdir$config_path" ]; then
  echo "kept the existing $config_path"
else
  cat >"$destdir$config_path" <<EOF
# swiftproxy-remote serve --config $config_path: any option of "serve", without the dashes.
# After a change: sudo systemctl restart swiftproxy-remote
listen = "$listen"
# A certificate from Let's Encrypt instead of the generated one (see docs/INSTALL.md):
# cert = "$data_dir/tls/cert.pem"
# key = "$data_dir/tls/key.pem"
# max-conns = 4096
# grace = 10            # seconds open connections get on stop
# log-level = "info"
# fallback = "127.0.0.1:8080"   # a web server for anything that is not a tunnel
EOF
  chmod 0644 "$destdir$config_path"
  echo "wrote $config_path"
fi

init_args=(init --data "$destdir$data_dir")
[ -n "$san" ] && init_args+=(--san "$san")
init_output=$("$destdir$bin_path" "${init_args[@]}")
echo "$init_output"
fingerprint=$(echo "$init_output" | sed -n 's/^certificate SHA-256: //p')

if [ -z "$destdir" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
fi

host=${san%%,*}
host=${host:-THIS-SERVER}
port=${listen##*:}
cat <<EOF

Next steps:
  1. Start the service:        sudo systemctl enable --now swiftproxy-remote
                               (logs: journalctl -u swiftproxy-remote -f)
  2. Add a user (prints a generated password once):
       sudo $bin_path user add alice --data $data_dir --down 10MiB --quota 100GiB
  3. Give each user:
       address:     $host:$port
       certificate: $data_dir/tls/cert.pem (for swiftproxy-local --ca)
       SHA-256:     ${fingerprint:-see "sudo $bin_path init --data $data_dir"}
       login:       their name and password; Trojan clients (Clash, sing-box, v2rayN)
                    use the password NAME:PASSWORD
       swiftproxy-local --remote $host:$port --user alice --ca cert.pem
  4. A Let's Encrypt certificate, and reloading it on renewal: docs/INSTALL.md
EOF
