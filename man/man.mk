# man/ - the manual pages; mssante.conf(5) is written from the key table.
MAN_PAGES := $(wildcard man/*.[1-8]) $(B)/man/mssante.conf.5
all: $(B)/man/mssante.conf.5

$(B)/man/mkconf: $(B)/man/mkconf.o $(LIBMSSANTE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBMSSANTE) $(LIBS)

$(B)/man/mssante.conf.5: $(B)/man/mkconf
	$< > $@.tmp && mv $@.tmp $@

.PHONY: install-man
install: install-man
install-man: $(B)/man/mssante.conf.5
	for p in $(MAN_PAGES); do \
		s=$${p##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s && \
		install -m 0644 $$p $(DESTDIR)$(MANDIR)/man$$s/ || exit 1; \
	done
