# Dockerfile: both services from one multi-stage build on Debian bookworm, the
# same distribution (and so the same librdkafka/avro-c versions) as the local
# build. The runtime stages carry only the shared libraries the binaries link
# against, plus curl for the health check (GET /health/live: liveness, the one
# to restart on; docker-compose.yml checks readiness); no compiler, no -dev
# packages. The Swagger UI assets of GET /docs are not in the images (/docs
# answers 503 there unless DOCS_UI_DIR names a mounted var/docs-ui).
#
#   docker build --target cart-service  -t orderstream/cart-service .
#   docker build --target order-service -t orderstream/order-service .

FROM debian:bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake pkg-config \
      librdkafka-dev libavro-dev libjansson-dev libevent-dev libcurl4-openssl-dev \
      libsqlite3-dev libpq-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY schemas schemas
COPY docs/openapi.yaml docs/openapi.yaml
COPY src src
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DORDERSTREAM_TESTS=OFF \
 && cmake --build /build -j"$(nproc)" \
 && strip /build/cart-service /build/order-service

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends librdkafka1 libavro23 libjansson4 \
      libevent-2.1-7 libevent-pthreads-2.1-7 libcurl4 libsqlite3-0 libpq5 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin orderstream
ENV HTTP_HOST=0.0.0.0 LOG_LEVEL=info

FROM runtime AS cart-service
COPY --from=build /build/cart-service /usr/local/bin/cart-service
USER orderstream
ENV HTTP_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8000/health/live >/dev/null || exit 1
# exec form: the service is PID 1 and gets SIGTERM from `docker stop` directly
ENTRYPOINT ["/usr/local/bin/cart-service"]

FROM runtime AS order-service
COPY --from=build /build/order-service /usr/local/bin/order-service
# the SQLite store lives on a volume; created here so the volume inherits the owner
RUN mkdir -p /data && chown orderstream /data
USER orderstream
ENV HTTP_PORT=8001 STORE_PATH=/data/order-service.db
VOLUME ["/data"]
EXPOSE 8001
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8001/health/live >/dev/null || exit 1
ENTRYPOINT ["/usr/local/bin/order-service"]
