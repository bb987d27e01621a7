#!/usr/bin/env bash
# Set up a virtual environment (scripts/install.sh) and run the main job on the bundled sample:
# portrait + narration to a lip-synced MP4, with its contact sheet, motion Track and Rhubarb mouth cues.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --system-packages --venv .venv --editable
mkdir -p out
.venv/bin/talkinghead analyze examples/narration.wav --text-file examples/narration.txt \
    -o out/narration.track.json --plot out/narration.track.png
.venv/bin/talkinghead analyze examples/narration.wav --format rhubarb-tsv -o out/narration.cues.tsv
.venv/bin/talkinghead generate --image examples/portrait.jpg --audio examples/narration.wav \
    --track out/narration.track.json --framing head --size 512x512 \
    -o out/narration.mp4 --preview out/narration.sheet.png
echo "wrote out/narration.mp4 (and its contact sheet out/narration.sheet.png), out/narration.track.json, out/narration.track.png and out/narration.cues.tsv"
