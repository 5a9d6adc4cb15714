# The app image. TORCH picks the torch requirement (default: PyPI's CUDA build of torch 2.13.0, for GPU hosts);
# pass another with --build-arg TORCH=... for a CPU-only image. EXTRAS names optional dependencies of the package
# to install too, comma-separated: `--build-arg EXTRAS=ray` makes the image every Ray node and the Ray-executor app
# of docker-compose.yml's `ray` profile run (default: none, today's image).
FROM python:3.11-slim
ARG TORCH="torch==2.13.0"
ARG EXTRAS=""
WORKDIR /app
COPY pyproject.toml README.md ./
COPY models models
COPY server server
COPY web web
RUN pip install --no-cache-dir ${TORCH} && pip install --no-cache-dir ".${EXTRAS:+[$EXTRAS]}"
EXPOSE 8000
CMD ["ganplay", "serve"]
