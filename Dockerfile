# Concord application image: one `concord serve` process per container.
#   docker build -t concord .
#   docker run -p 8080:8080 -v concord-data:/data -v concord-recordings:/recordings concord
# The production shape (two nodes, PostgreSQL, Redis, coturn, TLS proxy) is docker-compose.yml;
# see docs/operations.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Chinese text in agreement PDFs needs a CJK font (Noto CJK, as in development). Every Python
# dependency, aiortc and PyAV included, ships manylinux wheels: no compiler in the image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-noto-cjk \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# The wheel carries the templates and static files (web/ becomes the package server.web; see setup.py),
# so the installed command needs nothing from /app.
COPY pyproject.toml setup.py README.md ./
COPY server ./server
COPY web ./web
RUN pip install ".[postgres,redis]" \
 && cd / && concord --help >/dev/null \
 && python -c "from server.config import default_web_dir, missing_web_files; import sys; sys.exit(bool(missing_web_files(default_web_dir())))"

RUN groupadd --system --gid 10001 concord \
 && useradd --system --uid 10001 --gid concord --home-dir /app --no-create-home --shell /usr/sbin/nologin concord \
 && mkdir -p /data /recordings \
 && chown concord:concord /data /recordings

ENV CONCORD_RECORDINGS_DIR=/recordings
# Set at run time: CONCORD_PUBLIC_URL=https://your.domain is the only source of the links printed in
# agreement PDFs, QR codes and text messages (unset: a warning at start and "未配置公开地址" in them);
# the other variables are listed in docs/operations.md.

# /data: SQLite database and the generated secret key (single-node use); /recordings: media segments.
VOLUME ["/data", "/recordings"]

USER concord:concord
EXPOSE 8080

HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"]

CMD ["concord", "serve", "--host", "0.0.0.0", "--port", "8080", "--data-dir", "/data"]
