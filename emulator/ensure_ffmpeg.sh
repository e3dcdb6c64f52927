#!/bin/sh
# Install ffmpeg (which brings ffprobe) with apt-get, but only when either is missing.
# Idempotent: a second run does nothing. Needs root (or sudo) on a Debian/Ubuntu machine.
set -eu

if command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1; then
    echo "ffmpeg present: $(ffmpeg -hide_banner -version 2>/dev/null | head -n 1)"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ffmpeg/ffprobe missing and apt-get is not available: install ffmpeg with your package manager" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "ffmpeg/ffprobe missing and not running as root: run 'apt-get install ffmpeg' as root" >&2
        exit 1
    fi
fi

echo "installing ffmpeg with apt-get"
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends ffmpeg
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1
echo "ffmpeg installed: $(ffmpeg -hide_banner -version 2>/dev/null | head -n 1)"
