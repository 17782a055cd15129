# t/ - unit tests (C, TAP) and integration tests (Perl, TAP), run by prove.
UNIT_SRCS := $(wildcard t/unit/*_test.c)
TESTS += $(UNIT_SRCS:t/unit/%.c=$(B)/t/%)

$(B)/t/%_test: $(B)/t/unit/%_test.o $(LIBMSSANTE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBMSSANTE) $(LIBS)

# prove runs the C unit test binaries and the Perl integration tests in one pass.
test:
	MSSANTE_BUILD=$(CURDIR)/$(B) prove $(PROVE_FLAGS) $(filter %_test,$(TESTS)) t/*.t

# Helper programs the integration tests run.
TESTS += $(B)/t/skel-milter
$(B)/t/skel-milter: $(B)/t/helpers/skel-milter.o $(LIBMSSANTE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBMSSANTE) $(LIBS) -lmilter
