# dovecot-auth-otp/ - the passdb driver and mssante-otp.
# The driver is a Dovecot auth module: our config reader is built into it
# position-independent, and only its init/deinit symbols are exported.
OTP_MODULE := $(B)/dovecot/auth/libauthdb_mssante_otp.so
AUTH_PLUGINS += $(OTP_MODULE)
OTP_MODULE_SRCS := dovecot-auth-otp/passdb-otp.c dovecot-auth-otp/otp.c lib/cfg.c lib/params.c lib/pgutil.c \
	lib/msg.c lib/mymalloc.c lib/notice.c lib/strlist.c lib/buf.c

$(OTP_MODULE): $(OTP_MODULE_SRCS) dovecot-auth-otp/otp.h lib/params.h lib/cfg.h lib/pgutil.h lib/buf.h lib/notice.h $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(PLUGIN_CFLAGS) -D_GNU_SOURCE -Ilib -I/usr/include/postgresql \
		-DMSSANTE_SYSCONFDIR='"$(SYSCONFDIR)"' -DMSSANTE_DATADIR='"$(DATADIR)"' \
		-fvisibility=hidden -shared -o $@ $(OTP_MODULE_SRCS) $(PLUGIN_LDFLAGS) -lpq -loath -lcrypto

MSSANTE_OTP := $(B)/bin/mssante-otp
PROGS += $(MSSANTE_OTP)

$(MSSANTE_OTP): $(B)/dovecot-auth-otp/mssante-otp.o $(B)/dovecot-auth-otp/enrol.o $(B)/dovecot-auth-otp/otp.o $(LIBMSSANTE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) -loath -lqrencode -lpng -lcrypt

$(B)/t/otp_test: $(B)/t/unit/otp_test.o $(B)/dovecot-auth-otp/otp.o $(LIBMSSANTE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) -loath

SASL_PROXY := $(B)/bin/mssante-sasl-proxy
PROGS += $(SASL_PROXY)

$(SASL_PROXY): $(B)/dovecot-auth-otp/mssante-sasl-proxy.o $(LIBMSSANTE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)
