# dovecot-notify/ - the Dovecot LMTP/LDA plugin telling a BAL's holder that mail arrived.
# Built like the patient-folder plugin; our notice sender (lib/notice.c)
# is built into it, and only its init/deinit symbols are exported.
NOTIFY_PLUGIN := $(B)/dovecot/lib96_mssante_notify_plugin.so
PLUGINS += $(NOTIFY_PLUGIN)
NOTIFY_SRCS := dovecot-notify/notify-plugin.c dovecot-patient-folder/trust-header.c \
	lib/notice.c lib/strlist.c lib/mymalloc.c lib/msg.c

$(NOTIFY_PLUGIN): $(NOTIFY_SRCS) dovecot-patient-folder/trust-header.h lib/notice.h $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(PLUGIN_CFLAGS) -D_GNU_SOURCE -Ilib -Idovecot-patient-folder -fvisibility=hidden \
		-shared -o $@ $(NOTIFY_SRCS) $(PLUGIN_LDFLAGS)
