# bench/ - benchmarks; each prints ratios measured side by side in one run.
bench: all
	@perl bench/run

BENCH_PROGS := $(B)/bench/lb_bench
all: $(BENCH_PROGS)
$(B)/bench/lb_bench: $(B)/bench/lb_bench.o $(LIBMSSANTE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBMSSANTE) $(LIBS)

BENCH_PROGS += $(B)/bench/search_bench
all: $(B)/bench/search_bench
$(B)/bench/search_bench: $(B)/bench/search_bench.o
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBS)

BENCH_PROGS += $(B)/bench/smime_bench
all: $(B)/bench/smime_bench
$(B)/bench/smime_bench: $(B)/bench/smime_bench.o $(SMIME_OBJS) $(LIBMSSANTE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

BENCH_PROGS += $(B)/bench/ldap_search_bench
all: $(B)/bench/ldap_search_bench
$(B)/bench/ldap_search_bench: $(B)/bench/ldap_search_bench.o
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< -lldap -llber

BENCH_PROGS += $(B)/bench/null_milter
all: $(B)/bench/null_milter
$(B)/bench/null_milter: $(B)/bench/null_milter.o
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $< -lmilter -lpthread
