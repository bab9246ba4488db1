# versions.sh: the versions of the local infrastructure, in one place (sourced).
# Kafka 3.9.x: Debian 12's librdkafka 2.0.2 needs protocol versions that Kafka
# 4.x removed. Apicurio 3.0.x: 3.1+ needs Java 21, Debian 12 ships 17.
KAFKA_VERSION=${KAFKA_VERSION:-3.9.2}
APICURIO_VERSION=${APICURIO_VERSION:-3.0.9}
