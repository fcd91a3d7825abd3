#!/bin/sh
# An instance of the compose lab: on first start, an activation (CreateActivation, signed
# with the admin key the control plane was given) and `axt-agent register` (a managed
# instance, mi-…); on every start, `axt-agent run`. The identity stays in the instance's
# volume, so a restarted container is the same instance.
#
# Environment: AXT_ADMIN_ACCESS_KEY_ID/SECRET, AXT_INSTANCE_NAME, and optionally
# AXT_CONTROL_PLANE (control-plane:8080), AXT_SERVER (gateway:8443), AXT_CA_CERT
# (/lab-ca/ca.pem), AXT_STATE_DIR (/var/lib/axt-agent), AXT_REGION (cn-hangzhou).
set -eu

: "${AXT_CONTROL_PLANE:=control-plane:8080}"
: "${AXT_SERVER:=gateway:8443}"
: "${AXT_CA_CERT:=/lab-ca/ca.pem}"
: "${AXT_STATE_DIR:=/var/lib/axt-agent}"
: "${AXT_REGION:=cn-hangzhou}"
: "${AXT_INSTANCE_NAME:=$(cat /etc/hostname)}"
export AXT_SERVER AXT_CA_CERT AXT_STATE_DIR

# `axt api` reads the same variables as the Alibaba Cloud SDKs.
export ALIBABA_CLOUD_ACCESS_KEY_ID="$AXT_ADMIN_ACCESS_KEY_ID"
export ALIBABA_CLOUD_ACCESS_KEY_SECRET="$AXT_ADMIN_ACCESS_KEY_SECRET"
export ALIBABA_CLOUD_ECS_ENDPOINT="$AXT_CONTROL_PLANE"
export ALIBABA_CLOUD_REGION_ID="$AXT_REGION"

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
  activation=$(axt api CreateActivation --InstanceName "$AXT_INSTANCE_NAME")
  AXT_ACTIVATION_CODE=$(printf '%s\n' "$activation" | field ActivationCode)
  AXT_ACTIVATION_ID=$(printf '%s\n' "$activation" | field ActivationId)
  export AXT_ACTIVATION_CODE AXT_ACTIVATION_ID
  axt-agent register --region "$AXT_REGION" --instance-name "$AXT_INSTANCE_NAME"
  unset AXT_ACTIVATION_CODE AXT_ACTIVATION_ID
fi
echo "instance $(cat "$AXT_STATE_DIR/instance-id") ($AXT_INSTANCE_NAME) starts its agent"
exec axt-agent run
