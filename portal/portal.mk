# portal/ - mssante-portal, the users' own pages (libmicrohttpd).
MSSANTE_PORTAL := $(B)/bin/mssante-portal
PROGS += $(MSSANTE_PORTAL)
PORTAL_OBJS := $(addprefix $(B)/portal/,mssante-portal.o pages.o account.o) $(B)/dovecot-auth-otp/enrol.o \
	$(B)/dovecot-auth-otp/otp.o

$(MSSANTE_PORTAL): $(PORTAL_OBJS) $(LIBMSSANTE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(shell pkg-config --libs libmicrohttpd) -loath -lqrencode -lpng -lcrypt

$(B)/portal/%.o: ALL_CFLAGS += -Idovecot-auth-otp
