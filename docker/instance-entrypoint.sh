#!/bin/sh
# An instance of the compose lab: on first start, an activation (CreateActivation, signed
# with the admin key the control plane was given) and `axt-agent register` (a managed
# instance, mi-…); on every start, `axt-agent run`. The identity stays in the instance's
# volume, so a restarted container is the same instance.
#
# Environment: AXT_ADMIN_ACCESS_KEY_ID/SECRET (or AXT_ADMIN_ACCESS_KEY_ID_FILE/SECRET_FILE,
# files holding them, such as Docker secrets: they win over the variables),
# AXT_INSTANCE_NAME, and optionally AXT_CONTROL_PLANE (control-plane:8080), AXT_SERVER
# (gateway:8443), AXT_CA_CERT (/lab-ca/ca.pem), AXT_STATE_DIR (/var/lib/axt-agent),
# AXT_REGION (cn-hangzhou).
#
# The admin key is for the one CreateActivation call of a first start and nothing else: it is
# given to that command alone, on its own command line, and never reaches the agent's
# environment — anything there is one bug away from every session's shell, and stays
# readable in /proc/1/environ for as long as the container runs.
set -eu

: "${AXT_CONTROL_PLANE:=control-plane:8080}"
: "${AXT_SERVER:=gateway:8443}"
: "${AXT_CA_CERT:=/lab-ca/ca.pem}"
: "${AXT_STATE_DIR:=/var/lib/axt-agent}"
: "${AXT_REGION:=cn-hangzhou}"
: "${AXT_INSTANCE_NAME:=$(cat /etc/hostname)}"
export AXT_SERVER AXT_CA_CERT AXT_STATE_DIR

# Every variable that may carry a credential into this script; none is passed on to the agent.
SECRET_VARS="AXT_ADMIN_ACCESS_KEY_ID AXT_ADMIN_ACCESS_KEY_SECRET
AXT_ADMIN_ACCESS_KEY_ID_FILE AXT_ADMIN_ACCESS_KEY_SECRET_FILE
ALIBABA_CLOUD_ACCESS_KEY_ID ALIBABA_CLOUD_ACCESS_KEY_SECRET ALIBABA_CLOUD_SECURITY_TOKEN
ALIBABA_CLOUD_PROFILE ALIBABA_CLOUD_CONFIG_FILE AXT_ACTIVATION_CODE AXT_ACTIVATION_ID"

# The admin key, as shell variables that are not exported: from the files if named, else from
# the variables compose sets.
admin_id=${AXT_ADMIN_ACCESS_KEY_ID:-}
admin_secret=${AXT_ADMIN_ACCESS_KEY_SECRET:-}
if [ -n "${AXT_ADMIN_ACCESS_KEY_ID_FILE:-}" ]; then
  admin_id=$(cat "$AXT_ADMIN_ACCESS_KEY_ID_FILE")
fi
if [ -n "${AXT_ADMIN_ACCESS_KEY_SECRET_FILE:-}" ]; then
  admin_secret=$(cat "$AXT_ADMIN_ACCESS_KEY_SECRET_FILE")
fi
# Out of this shell's environment at once, so that no command below inherits them (variables
# a process starts with are exported; unset is the only way to stop that). $SECRET_VARS is
# split into names on purpose.
# shellcheck disable=SC2086
unset $SECRET_VARS

# The gateway writes the lab CA when it starts; compose starts instances only once the
# gateway is healthy, so this wait is short (at most 60 s).
i=0
until [ -s "$AXT_CA_CERT" ]; do
  i=$((i + 1))
  if [ "$i" -gt 120 ]; then echo "no lab CA at $AXT_CA_CERT" >&2; exit 1; fi
  sleep 0.5
done

# A field of the pretty-printed JSON that `axt api` prints.
field() { sed -n "s/^ *\"$1\": *\"\\([^\"]*\\)\".*/\\1/p"; }

if [ ! -s "$AXT_STATE_DIR/instance-id" ]; then
  if [ -z "$admin_id" ] || [ -z "$admin_secret" ]; then
    echo "first start: CreateActivation needs AXT_ADMIN_ACCESS_KEY_ID and _SECRET (or their _FILE)" >&2
    exit 1
  fi
  # `axt api` reads the same variables as the Alibaba Cloud SDKs; set for this command only.
  activation=$(ALIBABA_CLOUD_ACCESS_KEY_ID="$admin_id" \
    ALIBABA_CLOUD_ACCESS_KEY_SECRET="$admin_secret" \
    ALIBABA_CLOUD_ECS_ENDPOINT="$AXT_CONTROL_PLANE" \
    ALIBABA_CLOUD_REGION_ID="$AXT_REGION" \
    axt api CreateActivation --InstanceName "$AXT_INSTANCE_NAME")
  activation_code=$(printf '%s\n' "$activation" | field ActivationCode)
  activation_id=$(printf '%s\n' "$activation" | field ActivationId)
  AXT_ACTIVATION_CODE="$activation_code" AXT_ACTIVATION_ID="$activation_id" \
    axt-agent register --region "$AXT_REGION" --instance-name "$AXT_INSTANCE_NAME"
  unset activation activation_code activation_id
fi
unset admin_id admin_secret
echo "instance $(cat "$AXT_STATE_DIR/instance-id") ($AXT_INSTANCE_NAME) starts its agent"

# `unset` above already keeps them out; `env -u` says so where the agent starts, and holds
# even if a variable is ever set again between here and there.
set --
for name in $SECRET_VARS; do
  set -- "$@" -u "$name"
done
exec env "$@" axt-agent run
