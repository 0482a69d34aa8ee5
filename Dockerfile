# syntax=docker/dockerfile:1
# Container image of the helpdesk-slo exporter.
#
#   docker build -t helpdesk-slo-exporter:0.1.0 .
#   docker run --rm -p 9707:9707 helpdesk-slo-exporter:0.1.0          # built-in demo helpdesk
#   docker run --rm -p 9707:9707 -v helpdesk-slo-store:/var/lib/helpdesk-slo \
#     -v "$PWD/helpdesk-slo.yml:/etc/helpdesk-slo/helpdesk-slo.yml:ro" \
#     helpdesk-slo-exporter:0.1.0 serve --config /etc/helpdesk-slo/helpdesk-slo.yml
#
# Stage 1 builds wheels of the project and of every dependency; stage 2 installs
# only those wheels (no index, no compiler) from a build-time mount, so neither the
# wheels nor any build tool end up in the final image.  Helpdesk tokens and the
# Slack webhook URL are never baked in: they are mounted as files at run time.

FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY exporter ./exporter

# tzdata: the IANA time-zone database as a wheel.  Business calendars need it, and
# zoneinfo falls back to it where the base image ships no /usr/share/zoneinfo.
RUN pip wheel --wheel-dir /wheels . tzdata


FROM python:3.11-slim

ARG VERSION=0.1.0
ARG SOURCE_URL=https://example.invalid/helpdesk-slo-exporter

LABEL org.opencontainers.image.title="helpdesk-slo-exporter" \
      org.opencontainers.image.description="Prometheus exporter for helpdesk SLA clocks and SLO error budgets" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# Install from the wheels of stage 1 only, then drop the packaging tools: nothing in
# the image can build or fetch code at run time.  DL3013 (pin versions in pip) is
# ignored here: --no-index installs exactly the wheels stage 1 built, no other version.
# hadolint ignore=DL3013
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels helpdesk-slo-exporter tzdata \
 && python -m pip uninstall --yes setuptools wheel pip

# A fixed, non-root uid/gid (10001) so volumes and Kubernetes securityContexts can
# name it.  /var/lib/helpdesk-slo holds the SQLite store (tickets, cursor, counter
# bases): keep it on a volume so counters survive a new container.
RUN groupadd --system --gid 10001 helpdesk-slo \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
      --home-dir /var/lib/helpdesk-slo --shell /usr/sbin/nologin helpdesk-slo \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/helpdesk-slo

WORKDIR /var/lib/helpdesk-slo
VOLUME ["/var/lib/helpdesk-slo"]
USER 10001:10001

EXPOSE 9707

# /healthz answers while the process serves (plain HTTP on the default listen
# address; with --web.config.file TLS or basic auth, replace or disable this check).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9707/healthz', timeout=4)"]

ENTRYPOINT ["helpdesk-slo"]
CMD ["serve"]
