# songrec: one binary that fetches, trains, registers and serves.
#
#   docker build -t songrec .                              # the runtime image (default target)
#   docker build --target airflow -t songrec-airflow .     # Airflow 3 with songrec on its PATH
#
# Settings come from the environment variables in README.md (DATABASE_URL, MLFLOW_TRACKING_URI,
# GENIUS_API_TOKEN, SONGREC_ADMIN_TOKEN, ...); see docker-compose.yaml. The commands run here
# (`songrec run`, `songrec serve`, the HEALTHCHECK) are run outside containers by
# tests/deploy/, and .ci/deploy.sh lints this file.

# The toolchain the project is built and tested with (rust-version in Cargo.toml is the minimum).
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin songrec \
    && strip target/release/songrec

FROM debian:bookworm-slim AS runtime
# curl only for the HEALTHCHECK; ca-certificates for Genius, MLflow and PostgreSQL over TLS.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/songrec --create-home songrec
COPY --from=build /src/target/release/songrec /usr/local/bin/songrec
USER songrec
WORKDIR /var/lib/songrec
ENV SONGREC_DATA_DIR=/var/lib/songrec \
    SONGREC_ADDR=0.0.0.0:8000
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8000/health || exit 1
ENTRYPOINT ["songrec"]
CMD ["run"]

# The Airflow version the DAGs are tested with (.ci/airflow.sh).
FROM apache/airflow:3.3.2 AS airflow
COPY --from=build /src/target/release/songrec /usr/local/bin/songrec
COPY airflow/dags /opt/airflow/dags
