#!/bin/sh
# The compose lab's RAM identities, once: when the control plane and instance-1 are up,
# `axt lab iam` makes the tour's users and role (lab-reader, lab-operator allowed sessions on
# instance-1 only, lab-admin-role) through the RAM API with the admin key, and writes their
# aliyun CLI profiles to /out/aliyun-config.json (mode 0600; ./axt-data/compose/iam on the
# host). Running it again keeps what exists and the keys the file already holds.
#
# The file is handed to the owner of this script on the host — whoever checked out the
# repository, who runs `axt` there — so that it is private and still theirs to read.
#
# Environment: AXT_ADMIN_ACCESS_KEY_ID/SECRET (or AXT_ADMIN_ACCESS_KEY_ID_FILE/SECRET_FILE),
# and optionally AXT_CONTROL_PLANE (control-plane:8080), AXT_REGION (cn-hangzhou),
# AXT_LAB_INSTANCE_NAME (instance-1), AXT_LAB_PROFILES (the file). No agent runs in this container; the admin key is given
# to the one `axt lab iam` command and to nothing else.
set -eu

: "${AXT_CONTROL_PLANE:=control-plane:8080}"
: "${AXT_REGION:=cn-hangzhou}"
: "${AXT_LAB_INSTANCE_NAME:=instance-1}"
out=${AXT_LAB_PROFILES:-/out/aliyun-config.json}

admin_id=${AXT_ADMIN_ACCESS_KEY_ID:-}
admin_secret=${AXT_ADMIN_ACCESS_KEY_SECRET:-}
if [ -n "${AXT_ADMIN_ACCESS_KEY_ID_FILE:-}" ]; then
  admin_id=$(cat "$AXT_ADMIN_ACCESS_KEY_ID_FILE")
fi
if [ -n "${AXT_ADMIN_ACCESS_KEY_SECRET_FILE:-}" ]; then
  admin_secret=$(cat "$AXT_ADMIN_ACCESS_KEY_SECRET_FILE")
fi
unset AXT_ADMIN_ACCESS_KEY_ID AXT_ADMIN_ACCESS_KEY_SECRET \
  AXT_ADMIN_ACCESS_KEY_ID_FILE AXT_ADMIN_ACCESS_KEY_SECRET_FILE
if [ -z "$admin_id" ] || [ -z "$admin_secret" ]; then
  echo "the RAM identities need AXT_ADMIN_ACCESS_KEY_ID and _SECRET (or their _FILE)" >&2
  exit 1
fi

# `axt` reads the same variables as the Alibaba Cloud SDKs; set for this command only.
ALIBABA_CLOUD_ACCESS_KEY_ID="$admin_id" \
  ALIBABA_CLOUD_ACCESS_KEY_SECRET="$admin_secret" \
  ALIBABA_CLOUD_ECS_ENDPOINT="$AXT_CONTROL_PLANE" \
  ALIBABA_CLOUD_REGION_ID="$AXT_REGION" \
  axt lab iam --instance-name "$AXT_LAB_INSTANCE_NAME" --out "$out"
unset admin_id admin_secret
chown "$(stat -c %u:%g "$0")" "$out"
