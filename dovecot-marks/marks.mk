# dovecot-marks/ - the Dovecot LMTP/LDA plugin turning our milters' verdicts into IMAP keywords.
MARKS_PLUGIN := $(B)/dovecot/lib96_mssante_marks_plugin.so
PLUGINS += $(MARKS_PLUGIN)
MARKS_SRCS := dovecot-marks/marks-plugin.c dovecot-patient-folder/trust-header.c

$(MARKS_PLUGIN): $(MARKS_SRCS) dovecot-patient-folder/trust-header.h $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(PLUGIN_CFLAGS) -Idovecot-patient-folder -fvisibility=hidden -shared -o $@ $(MARKS_SRCS) $(PLUGIN_LDFLAGS)
