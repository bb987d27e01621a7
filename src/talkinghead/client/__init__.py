"""A Python client of the job service's HTTP API (`talkinghead serve`): submit, wait with
progress, download, list and cancel jobs; register portraits and avatars; check webhooks.

    with Client("http://127.0.0.1:8000", key) as client:
        job = client.submit(image="portrait.jpg", audio="speech.wav", size="512x512")
        client.download(client.wait(job), "out.mp4")
"""

from ..signatures import SIGNATURE_HEADER, verify_signature
from ._client import Client, Upload
from ._job import TERMINAL, Job
from ._retry import RetryPolicy

__all__ = ["SIGNATURE_HEADER", "TERMINAL", "Client", "Job", "RetryPolicy", "Upload", "verify_signature"]
