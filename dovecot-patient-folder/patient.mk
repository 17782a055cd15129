# dovecot-patient-folder/ - the Dovecot LMTP/LDA plugin filing patient mail.
# A Dovecot plugin: position-independent, no -pie, symbols resolved in the
# lmtp/dovecot-lda binary that loads it; Dovecot's headers want gnu99.
PATIENT_PLUGIN := $(B)/dovecot/lib95_mssante_patient_folder_plugin.so
PLUGINS += $(PATIENT_PLUGIN)
PATIENT_SRCS := dovecot-patient-folder/patient-folder-plugin.c dovecot-patient-folder/trust-header.c

$(PATIENT_PLUGIN): $(PATIENT_SRCS) dovecot-patient-folder/trust-header.h $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(PLUGIN_CFLAGS) -Idovecot-patient-folder -shared -o $@ $(PATIENT_SRCS) $(PLUGIN_LDFLAGS)

# The trust-header parser alone, for its unit test.
$(B)/t/trust-header_test: $(B)/t/unit/trust-header_test.o $(B)/dovecot-patient-folder/trust-header.o
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^
