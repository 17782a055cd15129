# milter-smime/ - the S/MIME milter and its certificate store command.
SMIME_OBJS := $(B)/milter-smime/smime.o $(B)/milter-smime/mime.o $(B)/milter-smime/spool.o

MILTER_SMIME := $(B)/bin/milter-smime
PROGS += $(MILTER_SMIME)

$(MILTER_SMIME): $(B)/milter-smime/milter-smime.o $(B)/milter-smime/inbound.o $(B)/milter-smime/policy.o $(B)/milter-smime/certstore.o $(B)/milter-smime/outbound.o $(B)/milter-smime/pgpool.o $(SMIME_OBJS) $(LIBMSSANTE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) -lmilter

MSSANTE_SMIME := $(B)/bin/mssante-smime
PROGS += $(MSSANTE_SMIME)

$(MSSANTE_SMIME): $(B)/milter-smime/mssante-smime.o $(SMIME_OBJS) $(LIBMSSANTE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# outbound_protect alone (no milter, no database), for its unit test.
$(B)/t/outbound_test: $(B)/t/unit/outbound_test.o $(B)/milter-smime/outbound.o $(B)/milter-smime/policy.o \
		$(B)/milter-smime/certstore.o $(B)/milter-smime/inbound.o $(B)/milter-smime/pgpool.o \
		$(SMIME_OBJS) $(LIBMSSANTE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) -lmilter
$(B)/t/unit/outbound_test.o: ALL_CFLAGS += -Imilter-smime
