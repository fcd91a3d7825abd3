#!/bin/sh
# The private target of the compose lab: sshd (user `lab`, password `lab`) and a web service
# on port 8000, both on the `private` network only. Host keys are made on first start, so no
# two labs share them.
set -eu
ssh-keygen -A
/usr/sbin/sshd -e
exec python3 -m http.server 8000 --bind 0.0.0.0 --directory /srv/www
