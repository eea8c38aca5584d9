# The hub's production image: one Python environment built with uv from the committed lock.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY hub ./hub
COPY vault ./vault
COPY registry_seed ./registry_seed
COPY n8n_workflows ./n8n_workflows
RUN uv sync --frozen --no-dev && useradd --system --uid 10001 hub && mkdir -p /data && chown hub /data
USER hub
ENV HUB_MODE=production HUB_DATA_DIR=/data HUB_HOST=0.0.0.0 HUB_PORT=8000 PATH="/app/.venv/bin:$PATH"
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=6 CMD python -c "import urllib.request,sys;sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz',timeout=2).status==200 else 1)"
CMD ["hub", "serve"]
