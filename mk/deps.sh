#!/bin/sh
# deps.sh - install the Debian 12 packages the add-on builds and tests with.
#
# Installs only what is missing, without questions, and without starting
# the system's own PostgreSQL, slapd, Postfix or Dovecot: a policy-rc.d
# guard refuses service starts for the time of the install. Not root, or
# not Debian: say what is missing and let the build fail where it will.
# "deps.sh fuzz" adds clang, whose libFuzzer "make fuzz" uses.
set -eu

PKGS="build-essential pkg-config perl postfix dovecot-core dovecot-dev dovecot-imapd
dovecot-lmtpd dovecot-pgsql dovecot-sieve dovecot-managesieved dovecot-submissiond libmilter-dev miltertest libssl-dev openssl
libxml2-dev libxmlsec1-dev xmlsec1 liboath-dev oathtool libldap-dev slapd ldap-utils
libpq-dev postgresql postgresql-contrib postfix-pgsql libcsv-dev libjansson-dev libcurl4-openssl-dev
libqrencode-dev libmicrohttpd-dev nginx-light curl libxml2-utils libidn2-dev libunistring-dev libzip-dev zip libpng-dev zbar-tools swaks libnet-ssleay-perl python3 time gpgsm gpg-agent faketime man-db groff-base"
[ "${1:-}" = fuzz ] && PKGS="$PKGS clang"

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in
        *" installed") ;;
        *) missing="$missing $p" ;;
    esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ] || [ ! -x /usr/bin/apt-get ]; then
    echo "deps.sh: missing packages:$missing" >&2
    echo "deps.sh: install them as root (apt-get install$missing)" >&2
    exit 0
fi

echo "deps.sh: installing:$missing"
guard=/usr/sbin/policy-rc.d
own_guard=0
if [ ! -e "$guard" ]; then
    printf '#!/bin/sh\n# installed by mssante deps.sh for the duration of an install\nexit 101\n' > "$guard"
    chmod 0755 "$guard"
    own_guard=1
fi
trap '[ "$own_guard" = 1 ] && rm -f "$guard"' EXIT
export DEBIAN_FRONTEND=noninteractive
# Postfix asks how it is used; "No configuration" leaves /etc/postfix alone.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -q || true
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
