# The gridwatch worker image used by docker-compose.yml and deploy/k8s.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY streams ./streams
# A fixed uid/gid so Kubernetes (runAsUser, fsGroup in deploy/k8s) and the
# compose volumes agree on who owns /var/lib/gridwatch.
RUN pip install --no-cache-dir . \
    && groupadd --system --gid 10001 gridwatch \
    && useradd --system --uid 10001 --gid gridwatch --home /var/lib/gridwatch --create-home gridwatch
# Copied after the install so that editing them does not reinstall the packages.
# data/: the sample registry (`gridwatch assets load data/registry/...`) and sample city.
COPY deploy ./deploy
COPY data ./data
USER 10001:10001
ENV GRIDWATCH_HOME=/var/lib/gridwatch \
    GRIDWATCH_WEB_HOST=0.0.0.0
EXPOSE 6066
ENTRYPOINT ["gridwatch"]
CMD ["worker"]
