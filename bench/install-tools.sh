#!/usr/bin/env bash
# The load generators `npm run bench` runs in their own processes: wrk (HTTP/1.1) and h2load
# (HTTP/2, Debian's nghttp2-client), and openssl for the http2 scenario's certificate.
set -euo pipefail
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v h2load >/dev/null 2>&1 || missing+=(nghttp2-client)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${missing[@]}" >/dev/null
