# versions.sh: the versions of the local infrastructure, in one place (sourced).
# Kafka 3.9.x: Debian 12's librdkafka 2.0.2 needs protocol versions that Kafka
# 4.x removed. Apicurio 3.0.x: 3.1+ needs Java 21, Debian 12 ships 17.
KAFKA_VERSION=${KAFKA_VERSION:-3.9.2}
APICURIO_VERSION=${APICURIO_VERSION:-3.0.9}
# Swagger UI for GET /docs (npm's swagger-ui-dist, scripts/fetch-docs-ui.sh):
# the tarball must match this integrity (the npm registry's dist.integrity).
SWAGGER_UI_VERSION=${SWAGGER_UI_VERSION:-5.35.0}
SWAGGER_UI_INTEGRITY=${SWAGGER_UI_INTEGRITY:-sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==}
