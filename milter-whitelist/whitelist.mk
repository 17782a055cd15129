# milter-whitelist/ - the trust-space milter and the liste-blanche command.
LISTE_BLANCHE := $(B)/bin/liste-blanche
PROGS += $(LISTE_BLANCHE)

$(LISTE_BLANCHE): $(B)/milter-whitelist/liste-blanche.o $(B)/milter-whitelist/lb_fetch.o $(LIBMSSANTE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(shell pkg-config --libs libcurl)

MILTER_WHITELIST := $(B)/bin/milter-whitelist
PROGS += $(MILTER_WHITELIST)

$(MILTER_WHITELIST): $(B)/milter-whitelist/milter-whitelist.o $(LIBMSSANTE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBMSSANTE) $(LIBS) -lmilter
