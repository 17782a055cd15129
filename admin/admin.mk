# admin/ - mssante-admin: accounts, BALs and their holders, the request form's import.
MSSANTE_ADMIN := $(B)/bin/mssante-admin
PROGS += $(MSSANTE_ADMIN)
ADMIN_OBJS := $(addprefix $(B)/admin/,mssante-admin.o bal.o doveadm.o form.o import.o quota.o store.o)

$(MSSANTE_ADMIN): $(ADMIN_OBJS) $(LIBMSSANTE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(shell pkg-config --libs jansson) -lcsv -lcrypt -lcrypto
