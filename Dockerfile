# syntax=docker/dockerfile:1
# The job service's image: `talkinghead serve` by default; `worker`, `keys` or any other
# talkinghead command as the container's command. README.md, "Deployment", shows it in use.
FROM debian:bookworm-slim

# The same script CI runs: Debian's Python and the libraries OpenCV loads, then talkinghead with
# its PostgreSQL and S3 extras, installed as a copy. The checkout is mounted for this step only, so
# the image holds no second copy of the source; pip's downloads stay in BuildKit's cache.
RUN --mount=type=bind,target=/src,rw \
    --mount=type=cache,target=/root/.cache/pip \
    bash /src/scripts/install.sh --system-packages --venv /opt/talkinghead --extras postgres,s3 \
    && rm -rf /var/lib/apt/lists/*

# A fixed numeric id, so Kubernetes' runAsNonRoot can check it and volumes can be chowned to it.
RUN useradd --uid 10001 --user-group --home-dir /var/lib/talkinghead --create-home \
    --shell /usr/sbin/nologin talkinghead

# With no configuration the container keeps its SQLite database and files under its home, which
# `docker run -v NAME:/var/lib/talkinghead` keeps across containers; `docker exec ... talkinghead
# keys create` reads the same variables.
ENV PATH=/opt/talkinghead/bin:$PATH \
    TALKINGHEAD_DATABASE_URL=sqlite:////var/lib/talkinghead/service.db \
    TALKINGHEAD_STORAGE=/var/lib/talkinghead/files
USER 10001:10001
WORKDIR /var/lib/talkinghead
EXPOSE 8000

# Ready: the database answers, a render worker is alive and the disks have room (503 otherwise,
# which urlopen raises). Python, because the slim base has no curl.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]

ENTRYPOINT ["talkinghead"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
