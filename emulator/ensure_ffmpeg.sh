#!/bin/sh
# Install what the emulator runs, with apt-get, but only what is missing:
#   ffmpeg (brings ffprobe)            transcoding and probing
#   libheif-examples (heif-convert)    HEIC/HEIF/AVIF stills, which ffmpeg 5.1 cannot read
# Idempotent: a second run installs nothing and only prints what is present (stdout).
# Needs root (or sudo) on a Debian/Ubuntu machine when something is missing.
# libheif-examples is the version tested (Debian 12's); another version gets a warning on
# stderr, not a failure (an exact apt pin would break on the next security update).
set -eu

TESTED_LIBHEIF="1.15.1-1+deb12u1"

have() {
    command -v "$1" >/dev/null 2>&1
}

missing=""
have ffmpeg && have ffprobe || missing="$missing ffmpeg"
have heif-convert || missing="$missing libheif-examples"

if [ -n "$missing" ]; then
    if ! have apt-get; then
        echo "missing:$missing, and apt-get is not available: install them with your package manager" >&2
        exit 1
    fi
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        if have sudo; then
            SUDO="sudo"
        else
            echo "missing:$missing, and not running as root: run 'apt-get install$missing' as root" >&2
            exit 1
        fi
    fi
    echo "installing$missing with apt-get"
    $SUDO apt-get update
    # shellcheck disable=SC2086 # one word per package
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends $missing
    have ffmpeg && have ffprobe && have heif-convert
fi

echo "ffmpeg present: $(ffmpeg -hide_banner -version 2>/dev/null | head -n 1)"
if have dpkg-query; then
    installed=$(dpkg-query -W -f='${Version}' libheif-examples 2>/dev/null || true)
    if [ -n "$installed" ] && [ "$installed" != "$TESTED_LIBHEIF" ]; then
        echo "warning: libheif-examples $installed is installed; the emulator was tested with $TESTED_LIBHEIF" >&2
    fi
    echo "heif-convert present: libheif-examples ${installed:-(not from a Debian package)}"
else
    echo "heif-convert present: $(command -v heif-convert)"
fi
