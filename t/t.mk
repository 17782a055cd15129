# t/ - unit tests (C, TAP) and integration tests (Perl, TAP), run by prove.
UNIT_SRCS := $(wildcard t/unit/*_test.c)
TESTS += $(UNIT_SRCS:t/unit/%.c=$(B)/t/%)

$(B)/t/%_test: $(B)/t/unit/%_test.o $(LIBMSSANTE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBMSSANTE) $(LIBS)

# prove runs the C unit test binaries and the Perl integration tests in one
# pass; the system paths a test could write are compared before and after.
test:
	@mkdir -p $(B)
	@perl t/helpers/guest snapshot $(B)/guest.before
	@rc=0; MSSANTE_BUILD=$(CURDIR)/$(B) prove $(PROVE_FLAGS) $(filter %_test,$(TESTS)) t/*.t || rc=1; \
		perl t/helpers/guest compare $(B)/guest.before || rc=1; exit $$rc

# Helper programs the integration tests run.
TESTS += $(B)/t/skel-milter
$(B)/t/skel-milter: $(B)/t/helpers/skel-milter.o $(LIBMSSANTE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBMSSANTE) $(LIBS) -lmilter
