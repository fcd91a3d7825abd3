# axtlab's images, built from this workspace (see docker-compose.yml and README.md, "Lab"):
#
#   build           compiles the four binaries (rust:1 on Debian bookworm)
#   axt             the control plane, the gateway, the agent and the axt client on
#                   debian:bookworm-slim; the services and the instances run this image
#   private-target  the lab's private host: sshd and a small web service (python3)
#
# Plain Dockerfile syntax, no BuildKit-only features: `docker compose build`, the legacy
# `docker-compose build` and `docker build --target axt .` all work.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bins \
        -p axt-control-plane -p axt-gateway -p axt-agent -p axt-cli \
 && mkdir -p /out \
 && cp target/release/axt-control-plane target/release/axt-gateway \
       target/release/axt-agent target/release/axt /out/

FROM debian:bookworm-slim AS axt
# ca-certificates: the public roots next to the lab CA. The agent creates its session user
# with useradd (in the base image) and runs shells with bash (also there).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /usr/local/bin/
COPY docker/instance-entrypoint.sh /usr/local/bin/axt-instance
RUN chmod 0755 /usr/local/bin/axt-instance
# No ENTRYPOINT and no VOLUME: each service of docker-compose.yml names its binary and mounts
# its own state (/data/control-plane, /data/gateway, /var/lib/axt-agent).
CMD ["axt", "--help"]

FROM debian:bookworm-slim AS private-target
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssh-server python3 \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /run/sshd /srv/www \
 && useradd -m -s /bin/bash lab \
 && echo 'lab:lab' | chpasswd
COPY docker/target-index.html /srv/www/index.html
COPY docker/target-entrypoint.sh /usr/local/bin/axt-target
RUN chmod 0755 /usr/local/bin/axt-target
EXPOSE 22 8000
CMD ["axt-target"]
