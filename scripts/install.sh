#!/usr/bin/env bash
# Install talkinghead into a virtual environment: the one install that demo.sh, test.sh (and so
# CI) and the Dockerfile all run, so the container image is built by the steps CI proves.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: scripts/install.sh [--venv DIR] [--extras LIST] [--editable] [--system-packages]

  --venv DIR         the virtual environment to make or update (default .venv, relative to the checkout)
  --extras LIST      extras of talkinghead to add, comma-separated: test,fuzz or postgres,s3
  --editable         link the checkout into the environment (pip -e) instead of installing a copy
  --system-packages  first install with apt-get the Debian packages that are missing: python3 and
                     python3-venv, and the libraries OpenCV (under MediaPipe) loads, libgl1 and libglib2.0-0
EOF
}

fail() {
    echo "install.sh: $1" >&2
    usage >&2
    exit 2
}

venv=.venv
extras=""
editable=false
system_packages=false
while [ $# -gt 0 ]; do
    case "$1" in
        --venv) [ $# -ge 2 ] && [ -n "$2" ] || fail "--venv needs a folder"; venv=$2; shift 2 ;;
        --extras) [ $# -ge 2 ] && [ -n "$2" ] || fail "--extras needs a comma-separated list"; extras=$2; shift 2 ;;
        --editable) editable=true; shift ;;
        --system-packages) system_packages=true; shift ;;
        -h | --help) usage; exit 0 ;;
        *) fail "unknown argument: $1" ;;
    esac
done
# pip would read a stray character as part of a requirement and fail far from here.
[[ $extras =~ ^([a-z0-9-]+(,[a-z0-9-]+)*)?$ ]] || fail "--extras takes names separated by commas, e.g. postgres,s3: not '$extras'"

cd "$(dirname "$0")/.."

# What a bare Debian lacks: the interpreter itself (debian:bookworm-slim), venv and ensurepip
# (split into python3-venv), and the two libraries OpenCV's wheel links against. PyAV's and
# psycopg's wheels bring their own FFmpeg and libpq.
missing_system_packages() {
    if ! command -v python3 >/dev/null; then
        echo python3 python3-venv
    elif ! python3 -c "import ensurepip, venv" 2>/dev/null; then
        echo python3-venv
    fi
    local libraries
    libraries=$("$(command -v ldconfig || echo /sbin/ldconfig)" -p)
    grep -q "libGL\.so\.1 " <<<"$libraries" || echo libgl1
    grep -q "libgthread-2\.0\.so\.0 " <<<"$libraries" || echo libglib2.0-0
}

if $system_packages; then
    if command -v apt-get >/dev/null; then
        read -r -a packages <<<"$(missing_system_packages | tr '\n' ' ')"
        if [ ${#packages[@]} -gt 0 ]; then
            SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo "sudo")
            $SUDO apt-get update -qq
            $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
        fi
    else
        echo "install.sh: no apt-get: the system packages are left to you (on Linux, libGL and GLib for OpenCV)" >&2
    fi
fi

# pip only warns about an extra the project lacks and installs without it: refuse the typo here.
python3 - "$extras" <<'EOF_PY' || exit 2
import sys, tomllib
known = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]
unknown = [name for name in sys.argv[1].split(",") if name and name not in known]
if unknown:
    sys.exit(f"install.sh: talkinghead has no extra {', '.join(unknown)}; it has {', '.join(known)}")
EOF_PY

python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
target=".${extras:+[$extras]}"
if $editable; then
    "$venv/bin/python" -m pip install --quiet -e "$target"
else
    "$venv/bin/python" -m pip install --quiet "$target"
fi
