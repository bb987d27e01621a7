"""talkinghead on Modal: a web endpoint that takes the RunPod worker's request and answers with the
same output, through the same function (`talkinghead.deploy.run_request`).

    pip install -e ".[modal]"
    modal deploy deploy/modal/app.py    # builds the image, prints the endpoint's URL
    modal serve deploy/modal/app.py     # a temporary URL, redeployed on every change to the checkout

POST the request as JSON, alone or in RunPod's envelope (`{"input": {...}}`), so one client talks
to both, with a Proxy Auth Token of the workspace in the Modal-Key and Modal-Secret headers. A
refused request answers with the error's HTTP status and `{"error": "CODE: message"}`.
"""

from pathlib import Path

import modal

CHECKOUT = Path(__file__).resolve().parents[2]

image = (
    # The Python CI tests on; the two libraries OpenCV (under MediaPipe) loads, as
    # scripts/install.sh installs them.
    modal.Image.debian_slim(python_version="3.11")
    .apt_install("libgl1", "libglib2.0-0")
    # This checkout, installed as a copy: the image runs the code deployed from, not a release.
    # What the container image leaves out, this one does too: environments, outputs, caches and
    # the Kubernetes secrets file.
    .add_local_dir(CHECKOUT, "/opt/talkinghead-src", copy=True, ignore=modal.FilePatternMatcher.from_file(CHECKOUT / ".dockerignore"))
    .run_commands("pip install /opt/talkinghead-src")
)
app = modal.App("talkinghead", image=image)

with image.imports():
    from fastapi.responses import JSONResponse

    from talkinghead.deploy import error_document, run_request
    from talkinghead.errors import TalkingHeadError


# The engine renders on the CPU; a video over 20 s renders in chunks on every core it is given.
# Every request starts a container that bills the workspace: only holders of one of its Proxy Auth
# Tokens may send one.
@app.function(cpu=4.0, memory=4096, timeout=900)
@modal.fastapi_endpoint(method="POST", docs=True, requires_proxy_auth=True)
def generate(body: dict):
    request = body["input"] if body.keys() == {"input"} else body
    try:
        return run_request(request)
    except TalkingHeadError as exc:
        return JSONResponse(error_document(exc), status_code=exc.http_status)
