# kassa: a multi-stage build. The builder compiles the release binary; the runtime image is
# Debian slim with CA certificates (rustls verifies platform TLS against the system roots) and
# nothing else.

FROM rust:1.95-slim-bookworm AS builder
WORKDIR /src
# Build the dependencies first, against stub sources, so that changing kassa's own code does
# not recompile polars (the slow part) on every image build.
COPY Cargo.toml Cargo.lock ./
COPY config/default.toml config/default.toml
COPY fixtures/demo/ads.csv fixtures/demo/crm.csv fixtures/demo/
RUN mkdir -p src && echo 'fn main() {}' > src/main.rs && echo '' > src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src target/release/.fingerprint/kassa-* target/release/deps/kassa-* target/release/deps/libkassa-*
COPY src src
RUN cargo build --release --locked --bin kassa

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home /var/lib/kassa --create-home kassa
COPY --from=builder /src/target/release/kassa /usr/local/bin/kassa
# A numeric user, so Kubernetes' runAsNonRoot can check it (deploy/kubernetes runs as 10001).
USER 10001
WORKDIR /var/lib/kassa
ENV KASSA_CONFIG=/etc/kassa/kassa.toml \
    KASSA__STORE__PATH=/var/lib/kassa/store \
    KASSA__WORKER__LISTEN=0.0.0.0:9184
EXPOSE 9184
VOLUME ["/var/lib/kassa"]
ENTRYPOINT ["kassa"]
CMD ["worker"]
