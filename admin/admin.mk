# admin/ - mssante-admin: accounts (and, to come, BALs, import, quota, retention, export).
MSSANTE_ADMIN := $(B)/bin/mssante-admin
PROGS += $(MSSANTE_ADMIN)

$(MSSANTE_ADMIN): $(B)/admin/mssante-admin.o $(LIBMSSANTE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(shell pkg-config --libs jansson) -lcrypt -lcrypto
