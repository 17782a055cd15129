# MSSanté operator add-on for Postfix and Dovecot.
#
#   make                 build everything (warnings are errors)
#   make check           install missing Debian packages (as root), build, run all tests
#   make install         install under DESTDIR/PREFIX
#   make deb             the Debian packages (debian/) in $(B)/deb
#   make bench           run the benchmarks
#   make demo            two operators on loopback through every part: a scripted day
#                        (DEMO_BREAK=trust-anchors: the same with one part broken)
#   make SANITIZE=1 ...  the same with AddressSanitizer + UBSan
#   make fuzz            run every fuzz target for FUZZ_SECONDS (clang, libFuzzer)

PREFIX     ?= /usr/local
DESTDIR    ?=
SBINDIR    ?= $(PREFIX)/sbin
BINDIR     ?= $(PREFIX)/bin
DATADIR    ?= $(PREFIX)/share/mssante
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc/mssante
DOVECOT_MODULEDIR ?= /usr/lib/dovecot/modules
VERSION    := 0.1

CC      ?= cc
CFLAGS  ?= -O2 -g
PKGS     = libpq libidn2 openssl xmlsec1-openssl libxml-2.0
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

ifeq ($(FUZZING),1)
B        ?= build-fuzz
SAN       = -fsanitize=address,undefined,fuzzer-no-link -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
else ifeq ($(SANITIZE),1)
B        ?= build-san
SAN       = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
B        ?= build
SAN       =
endif

HARDEN   = -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	$(HARDEN) $(SAN) $(CFLAGS) -Ilib $(PKG_CFLAGS) \
	-DMSSANTE_VERSION='"$(VERSION)"' -DMSSANTE_DATADIR='"$(DATADIR)"' \
	-DMSSANTE_SYSCONFDIR='"$(SYSCONFDIR)"'
ALL_LDFLAGS = -pie -Wl,-z,relro,-z,now $(SAN) $(LDFLAGS)
LIBS     = $(PKG_LIBS) -lunistring -lpthread

PROGS   :=
TESTS   :=
PLUGINS :=
AUTH_PLUGINS :=

# Dovecot plugins: position-independent shared objects built against
# Dovecot's headers (which want GNU C), hardened the same way.
PLUGIN_CFLAGS = -std=gnu11 -fPIC -Wall -Wextra -Werror -fstack-protector-strong -D_FORTIFY_SOURCE=2 \
	$(SAN) $(CFLAGS) -I/usr/include/dovecot -DHAVE_CONFIG_H -DMSSANTE_VERSION='"$(VERSION)"'
PLUGIN_LDFLAGS = -Wl,-z,relro,-z,now $(SAN) $(LDFLAGS)

# Objects depend on the flags they were built with (PREFIX is compiled in):
# the stamp changes only when the flags do.
FLAGS_STAMP := $(B)/.flags

.PHONY: all check test deps install bench demo clean format deb
all:

include lib/lib.mk
include schema/schema.mk
include milter-whitelist/whitelist.mk
include annuaire-sync/annuaire.mk
include dovecot-patient-folder/patient.mk
include dovecot-notify/notify.mk
include dovecot-marks/marks.mk
include dovecot-auth-otp/otp.mk
include admin/admin.mk
include portal/portal.mk
include milter-smime/smime.mk
include t/t.mk
include t/fuzz/fuzz.mk
include bench/bench.mk
include man/man.mk

all: $(PROGS) $(PLUGINS) $(AUTH_PLUGINS) $(TESTS)

$(FLAGS_STAMP): FORCE
	@mkdir -p $(B)
	@echo '$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $(PLUGIN_CFLAGS)' | cmp -s - $@ || \
		echo '$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $(PLUGIN_CFLAGS)' > $@
FORCE:

$(B)/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

-include $(shell find $(B) -path $(B)/deb -prune -o -name '*.d' -type f -print 2>/dev/null)

# The sub-makes run after the packages are there, so pkg-config finds them.
check:
	@sh mk/deps.sh
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory test

deps:
	@sh mk/deps.sh

# The layout of .clang-format, on the directories that follow it.
FORMATTED := lib milter-smime milter-whitelist admin annuaire-sync bench dovecot-auth-otp \
	dovecot-marks dovecot-notify dovecot-patient-folder man portal schema t/fuzz t/helpers t/unit
format:
	clang-format -i $(wildcard $(addsuffix /*.[ch],$(FORMATTED)))

# deb - the Debian packages (debian/), built from a copy of the tree into $(B)/deb
deb:
	rm -rf $(B)/deb && mkdir -p $(B)/deb/mssante-$(VERSION)
	tar -c --exclude="./build*" --exclude=./.git --exclude=node_modules -f - . | \
		tar -x -C $(B)/deb/mssante-$(VERSION)
	cd $(B)/deb/mssante-$(VERSION) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL dpkg-buildpackage -us -uc -b -J
	@ls $(B)/deb/*.deb

demo:
	@sh mk/deps.sh
	@$(MAKE) --no-print-directory all
	@perl t/sandbox demo $(if $(DEMO_BREAK),--break $(DEMO_BREAK))

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(DATADIR)/schema $(DESTDIR)$(DATADIR)/conf \
		$(DESTDIR)$(SYSCONFDIR)
	install -m 0755 $(PROGS) $(DESTDIR)$(SBINDIR)/
	install -d $(DESTDIR)$(DOVECOT_MODULEDIR)
	install -m 0644 $(PLUGINS) $(DESTDIR)$(DOVECOT_MODULEDIR)/
	install -d $(DESTDIR)$(DOVECOT_MODULEDIR)/auth
	install -m 0644 $(AUTH_PLUGINS) $(DESTDIR)$(DOVECOT_MODULEDIR)/auth/
	install -m 0644 schema/*.sql $(DESTDIR)$(DATADIR)/schema/
	install -m 0644 conf/* $(DESTDIR)$(DATADIR)/conf/
	test -e $(DESTDIR)$(SYSCONFDIR)/mssante.conf || \
		install -m 0640 conf/mssante.conf $(DESTDIR)$(SYSCONFDIR)/mssante.conf

clean:
	rm -rf build build-san build-fuzz
