# schema/ - SQL migrations and mssante-db.
MSSANTE_DB := $(B)/bin/mssante-db
PROGS += $(MSSANTE_DB)

$(MSSANTE_DB): $(B)/schema/mssante-db.o $(B)/schema/migrate.o $(LIBMSSANTE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(B)/schema/mssante-db.o $(B)/schema/migrate.o $(LIBMSSANTE) $(LIBS)
