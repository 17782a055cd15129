# t/fuzz/ - fuzz targets for every parser of outside input.
#
# In every build each target is also linked with replay.c: the test suite
# runs it on t/fuzz/corpus/<target>/ (the seeds and every input that once
# failed). "make fuzz" builds the targets with clang and libFuzzer (in
# build-fuzz/) and runs each for FUZZ_SECONDS on a working copy of its
# corpus; anything found is left in build-fuzz/findings/<target>/.
FUZZ_TARGETS := lb dn addr extraction fhir mime config
FUZZ_SECONDS ?= 60
FUZZ_COMMON  := $(B)/t/fuzz/fuzz.o

FUZZ_EXTRA_lb         :=
FUZZ_EXTRA_dn         :=
FUZZ_EXTRA_addr       :=
FUZZ_EXTRA_config     :=
FUZZ_EXTRA_extraction := $(B)/annuaire-sync/extraction.o
FUZZ_EXTRA_fhir       := $(B)/annuaire-sync/fhir.o
FUZZ_EXTRA_mime       := $(B)/milter-smime/inbound.o $(SMIME_OBJS)
FUZZ_LIBS_fhir        := $(shell pkg-config --libs jansson 2>/dev/null)
FUZZ_LIBS_mime        := -lmilter


.SECONDEXPANSION:
TESTS += $(FUZZ_TARGETS:%=$(B)/t/fuzz-%)

$(B)/t/fuzz-%: $(B)/t/fuzz/%.o $(B)/t/fuzz/replay.o $(FUZZ_COMMON) $$(FUZZ_EXTRA_$$*) $(LIBMSSANTE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(LIBMSSANTE) $(LIBS) $(FUZZ_LIBS_$*)

# libFuzzer builds: the same objects compiled by clang with coverage.
FUZZ_B := build-fuzz
.PHONY: fuzz fuzz-build
fuzz:
	@sh mk/deps.sh fuzz
	@$(MAKE) --no-print-directory B=$(FUZZ_B) CC=clang FUZZING=1 fuzz-build
	@sh t/fuzz/run $(FUZZ_B) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-build: $(FUZZ_TARGETS:%=$(B)/fuzz/%)

$(B)/fuzz/%: $(B)/t/fuzz/%.o $(FUZZ_COMMON) $$(FUZZ_EXTRA_$$*) $(LIBMSSANTE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer -o $@ $(filter %.o,$^) $(LIBMSSANTE) $(LIBS) $(FUZZ_LIBS_$*)
