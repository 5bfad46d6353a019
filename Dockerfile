# syntax=docker/dockerfile:1
# Container image of iggy-connectors: the runtime, every plugin of this repository, the default
# config. Build: `docker build -t iggy-connectors-go .`; run next to Iggy: docker-compose.yml.
# Not built on the development machines (no Docker engine there); scripts/check-dockerfile.sh,
# part of `make test`, runs the build stage's RUN lines as plain commands and lints this file.

# --- build: the runtime (CGO_ENABLED=0) and every plugin (Go c-shared, C, Rust) --------------------
FROM golang:1.26-bookworm AS build
# Rust 1.85+ for the Rust SDK's example plugin (sdk/rust), taken from the official Rust image.
COPY --from=rust:1.85-slim-bookworm /usr/local/cargo /usr/local/cargo
COPY --from=rust:1.85-slim-bookworm /usr/local/rustup /usr/local/rustup
ENV CARGO_HOME=/usr/local/cargo RUSTUP_HOME=/usr/local/rustup PATH=/usr/local/cargo/bin:$PATH
WORKDIR /src
COPY . .
RUN scripts/build-dist.sh /dist

# --- runtime: glibc (purego loads the plugins with the system's dynamic loader), no compilers --------
FROM debian:bookworm-slim
RUN groupadd --system --gid 10001 iggy-connectors \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin iggy-connectors
COPY --from=build /dist/ /
# The state directory and the connector directory belong to the runtime's user: the API stores new
# config versions and .active_versions.toml in the connector directory.
RUN install -d -m 0750 -o iggy-connectors -g iggy-connectors /var/lib/iggy-connectors /var/lib/iggy-connectors/state \
 && chown iggy-connectors:iggy-connectors /etc/iggy-connectors/connectors
# Every key of the main config can be overridden with IGGY_CONNECTORS_<KEY PATH> (docs/configuration.md):
#   IGGY_CONNECTORS_IGGY_ADDRESS, _IGGY_USERNAME, _IGGY_PASSWORD (or _IGGY_TOKEN)   the Iggy server
#   IGGY_CONNECTORS_HTTP_ADDRESS, _HTTP_API_KEY, _HTTP_METRICS_ENABLED              the management API
#   IGGY_CONNECTORS_CONNECTORS_CONFIG_DIR                                           connector files
#   IGGY_CONNECTORS_STATE_PATH                                                      source state
#   IGGY_CONNECTORS_LOGGING_LEVEL                                                   trace..error
# and each connector's keys with IGGY_CONNECTORS_SINK_<KEY>_... / IGGY_CONNECTORS_SOURCE_<KEY>_...
ENV IGGY_CONNECTORS_CONFIG_PATH=/etc/iggy-connectors/config.toml \
    IGGY_CONNECTORS_CONNECTORS_CONFIG_DIR=/etc/iggy-connectors/connectors \
    IGGY_CONNECTORS_STATE_PATH=/var/lib/iggy-connectors/state \
    IGGY_CONNECTORS_HTTP_ADDRESS=0.0.0.0:8081 \
    IGGY_CONNECTORS_IGGY_ADDRESS=iggy:8090
# The non-root user iggy-connectors, numerically (10001:10001) so that Kubernetes' runAsNonRoot can check it.
USER 10001:10001
WORKDIR /var/lib/iggy-connectors
VOLUME ["/var/lib/iggy-connectors"]
EXPOSE 8081
# GET /health on IGGY_CONNECTORS_HTTP_ADDRESS (plain bash, no curl in the image).
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["/usr/local/bin/iggy-connectors-healthcheck"]
ENTRYPOINT ["/usr/local/bin/iggy-connectors"]
CMD ["run"]
