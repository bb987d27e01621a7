#!/usr/bin/env bash
# Set up a virtual environment and run the main job on the bundled sample recording.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
mkdir -p out
.venv/bin/talkinghead analyze examples/narration.wav --text-file examples/narration.txt \
    -o out/narration.track.json --plot out/narration.track.png
.venv/bin/talkinghead analyze examples/narration.wav --format rhubarb-tsv -o out/narration.cues.tsv
echo "wrote out/narration.track.json, out/narration.track.png and out/narration.cues.tsv"
