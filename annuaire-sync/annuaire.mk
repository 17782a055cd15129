# annuaire-sync/ - the national directory in PostgreSQL.
ANNUAIRE_SYNC := $(B)/bin/annuaire-sync
PROGS += $(ANNUAIRE_SYNC)
ANNUAIRE_OBJS := $(B)/annuaire-sync/annuaire-sync.o $(B)/annuaire-sync/extraction.o \
	$(B)/annuaire-sync/fhir.o $(B)/annuaire-sync/ldapsrc.o \
	$(B)/annuaire-sync/source.o $(B)/annuaire-sync/stage.o $(B)/annuaire-sync/merge.o \
	$(B)/annuaire-sync/download.o $(B)/annuaire-sync/publish.o \
	$(B)/annuaire-sync/known.o $(B)/annuaire-sync/fold.o

$(ANNUAIRE_SYNC): $(ANNUAIRE_OBJS) $(LIBMSSANTE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(shell pkg-config --libs libcurl jansson libzip) -lldap -llber

ANNUAIRE_SEARCH := $(B)/bin/annuaire-search
PROGS += $(ANNUAIRE_SEARCH)

$(ANNUAIRE_SEARCH): $(B)/annuaire-sync/annuaire-search.o $(LIBMSSANTE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(shell pkg-config --libs jansson)
