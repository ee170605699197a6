# The gridwatch worker image used by docker-compose.yml and deploy/.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY streams ./streams
COPY deploy ./deploy
RUN pip install --no-cache-dir . \
    && useradd --system --home /var/lib/gridwatch --create-home gridwatch
USER gridwatch
ENV GRIDWATCH_HOME=/var/lib/gridwatch \
    GRIDWATCH_WEB_HOST=0.0.0.0
EXPOSE 6066
ENTRYPOINT ["gridwatch"]
CMD ["worker"]
