#!/bin/sh
# deps.sh - install the Debian 12 packages the add-on builds and tests with.
#
# Installs only what is missing, without questions, and without starting
# the system's own PostgreSQL, slapd, Postfix or Dovecot: a policy-rc.d
# guard refuses service starts for the time of the install. Not root, or
# not Debian: say what is missing and let the build fail where it will.
# "deps.sh fuzz" adds clang, whose libFuzzer "make fuzz" uses.
# The browser tests' driver, playwright-core, comes from npm into
# t/browser/node_modules (pinned by t/browser/package-lock.json); Node.js
# and npm from Debian when the machine has none.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)

# browser_tools - playwright-core for the browser tests, once
browser_tools() {
    [ -f "$top/t/browser/node_modules/playwright-core/package.json" ] && return 0
    if ! command -v npm >/dev/null 2>&1; then
        echo "deps.sh: npm is missing: the browser tests cannot run" >&2
        return 0
    fi
    (cd "$top/t/browser" && npm ci --no-audit --no-fund --loglevel=error)
}

PKGS="build-essential pkg-config perl postfix dovecot-core dovecot-dev dovecot-imapd
dovecot-lmtpd dovecot-pgsql dovecot-sieve dovecot-managesieved dovecot-submissiond libmilter-dev miltertest libssl-dev openssl
libxml2-dev libxmlsec1-dev xmlsec1 liboath-dev oathtool libldap-dev slapd ldap-utils
libpq-dev postgresql postgresql-contrib postfix-pgsql libcsv-dev libjansson-dev libcurl4-openssl-dev
libqrencode-dev libmicrohttpd-dev nginx-light curl libxml2-utils chromium libidn2-dev libunistring-dev libzip-dev zip libpng-dev zbar-tools swaks libnet-ssleay-perl python3 time gpgsm gpg-agent faketime man-db groff-base
debhelper lintian piuparts debootstrap"
[ "${1:-}" = fuzz ] && PKGS="$PKGS clang"

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in
        *" installed") ;;
        *) missing="$missing $p" ;;
    esac
done
# Debian's Node.js and npm only where there is none (another packaging of
# Node.js may be installed already, with an npm of its own).
command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
if [ -z "$missing" ]; then
    browser_tools
    exit 0
fi

if [ "$(id -u)" != 0 ] || [ ! -x /usr/bin/apt-get ]; then
    echo "deps.sh: missing packages:$missing" >&2
    echo "deps.sh: install them as root (apt-get install$missing)" >&2
    browser_tools
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
browser_tools
